"""The case PDF as a download from the HTML interface."""

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET

from tidsnok.access.policy import AccessDenied, get_visible_or_404
from tidsnok.cases.models import Case
from tidsnok.reports.case_pdf import export_case_pdf
from tidsnok.reports.plan_pdf import export_plan_pdf, plan_version_for


def pdf_response(exported) -> HttpResponse:
    return download_response(exported, "application/pdf")


def download_response(exported, content_type: str) -> HttpResponse:
    """An exported file (a PDF, the inspection pack) as a download in the language it was made in."""
    response = HttpResponse(exported.content, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(True, exported.filename)
    # Personal data: never kept by a browser or proxy cache.
    response["Cache-Control"] = "no-store, private"
    response["Content-Language"] = exported.language
    return response


@login_required
@require_GET
def case_pdf(request, case_id: int):
    """Saksdokumentasjon for one case. Handler-level access only; for anyone
    else the case does not exist. The export is written to the audit log."""
    case = get_visible_or_404(request.user, Case, "export", pk=case_id)
    lang = request.GET.get("lang") if request.GET.get("lang") in ("nb", "en") else None
    return pdf_response(export_case_pdf(request.user, case, lang or request.LANGUAGE_CODE))


@login_required
@require_GET
def plan_pdf(request, case_id: int, number: int):
    """One version of a sick-leave follow-up plan, for the doctor and NAV. Handlers
    with export access and the employee herself; for anyone else it does not
    exist. The export is written to the audit log."""
    try:
        version = plan_version_for(request.user, case_id, number)
    except AccessDenied:
        raise Http404
    lang = request.GET.get("lang") if request.GET.get("lang") in ("nb", "en") else None
    return pdf_response(export_plan_pdf(request.user, version, lang or request.LANGUAGE_CODE))
