"""The yearly report page (yearly.py): the year's figures, and the same as CSV."""

import csv

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from tidsnok.reports import yearly
from tidsnok.risk.coverage_views import STATE_LABELS


@login_required
@require_GET
def yearly_report(request):
    user = request.user
    if not yearly.may_view(user):
        raise Http404
    today = timezone.localdate()
    offered = yearly.years(today)
    asked = request.GET.get("ar", "")
    year = int(asked) if asked.isdigit() and int(asked) in offered else None
    if asked and year is None:
        # A year out of range or not a number: the page says so, with the years there are.
        return render(request, "reports/yearly.html", {
            "years": offered, "year": None, "refused": asked[:20],
        }, status=400)
    report = yearly.build(user, year or today.year, today)
    if request.GET.get("format") == "csv":
        return _csv(report)
    return render(request, "reports/yearly.html", {
        "years": offered, "year": report.year, "report": report,
        "shares": [(label, report.absence.shares[key]) for key, label in _share_labels()],
        "risk": [(label, report.risk[key]) for key, label in _risk_labels()],
        "coverage": [(STATE_LABELS[key], report.coverage[key]) for key in ("current", "due_soon", "overdue", "missing")]
        if report.coverage is not None else None,
    })


def _csv(report) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="arsrapport-arbeidsmiljo-{report.year}.csv"'
    response.write("\ufeff")  # Excel reads UTF-8 only with the mark
    writer = csv.writer(response, delimiter=";")
    writer.writerow([_("Section"), _("Figure"), _("Value")])
    cases = _("Cases")
    figures = [("registered", _("registered")), ("closed", _("closed")),
               ("open_at_end", _("open at the end of the period")), ("on_time", _("deadlines on time")),
               ("late", _("deadlines late"))]
    for row in [*report.kinds, report.total]:
        label = row.label or _("All cases")
        for name, figure in figures:
            writer.writerow([cases, f"{label}: {figure}", getattr(row, name)])
    absence, section = report.absence, _("Sick leave")
    writer.writerow([section, _("Sick-leave rate (%)"), number_format(absence.rate, 1)])
    for key, label in _share_labels():
        writer.writerow([section, label, number_format(absence.shares[key], 1)])
    for month, rate in absence.trend:
        writer.writerow([section, month.strftime("%m.%Y"), number_format(rate, 1)])
    section = _("Risk assessment")
    for key, label in _risk_labels():
        writer.writerow([section, label, report.risk[key]])
    if report.coverage is not None:
        today = _("Units today")
        for key, label in STATE_LABELS.items():
            writer.writerow([section, f"{today}: {label}", report.coverage[key]])
    return response


def _share_labels():
    return [("short", _("Short absence, up to 16 days (%)")), ("long", _("Long absence, over 16 days (%)")),
            ("self", _("Self-certified (%)")), ("doctor", _("Doctor-certified (%)")),
            ("work_related", _("Work-related (%)"))]


def _risk_labels():
    return [("started", _("Assessments started")), ("completed", _("Assessments completed")),
            ("actions_added", _("Measures added to action plans")), ("actions_done", _("Measures done")),
            ("actions_open", _("Measures open today")), ("actions_overdue", _("Measures overdue today"))]
