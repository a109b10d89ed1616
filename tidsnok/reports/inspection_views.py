"""The inspection page: what the pack is for, the period, and the download."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from tidsnok.absence.statistics import default_period
from tidsnok.cases.forms import apply_service_errors
from tidsnok.reports.inspection import MAX_CASE_PDFS, export_inspection_pack, may_export
from tidsnok.reports.inspection_forms import InspectionPackForm
from tidsnok.reports.views import download_response


@login_required
@require_http_methods(["GET", "POST"])
def inspection_pack(request):
    """GET shows the page with the last twelve months filled in; POST builds the pack and
    returns it (a POST: the export writes an audit event). A period that does not hold is
    shown again with the input and the error, and nothing is written."""
    if not may_export(request.user):
        raise Http404
    if request.method == "POST":
        form = InspectionPackForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                exported = export_inspection_pack(
                    request.user, start=data["start"], end=data["end"], lang=request.LANGUAGE_CODE,
                    case_numbers=data["case_numbers"],
                )
            except ValidationError as error:
                apply_service_errors(form, error)
            else:
                return download_response(exported, "application/zip")
    else:
        first, last = default_period()
        form = InspectionPackForm(initial={"start": first, "end": last})
    return render(request, "reports/inspection.html", {"form": form, "max_case_pdfs": MAX_CASE_PDFS},
                  status=400 if form.errors else 200)
