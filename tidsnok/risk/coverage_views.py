"""The coverage page: which units have a current risk assessment (coverage.py)."""

import csv

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tidsnok.risk import coverage as cov

STATE_LABELS = {
    "overdue": gettext_lazy("Review overdue"),
    "missing": gettext_lazy("Never assessed"),
    "due_soon": gettext_lazy("Review due within a month"),
    "current": gettext_lazy("Current"),
}
PAGE_SIZE = 50


@login_required
def coverage(request):
    user = request.user
    if not cov.may_view(user):
        raise Http404
    today = timezone.localdate()
    rows = cov.coverage(user, today)
    counts = cov.summary(rows)
    state = request.GET.get("tilstand", "")
    if state not in cov.STATES:
        state = ""
    shown = [row for row in rows if row.state == state] if state else rows
    if request.GET.get("format") == "csv":
        return _csv(cov.with_counts(shown, today), today)
    page = Paginator(shown, PAGE_SIZE).get_page(request.GET.get("side"))
    cov.with_counts(page.object_list, today)
    for row in page.object_list:
        row.state_label = STATE_LABELS[row.state]
    return render(request, "risk/coverage.html", {
        "page": page, "state": state, "total": len(rows),
        "states": [(key, STATE_LABELS[key], counts[key]) for key in cov.STATES],
    })


def _csv(rows, today):
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="risikovurderinger-dekning-{today.isoformat()}.csv"'
    response.write("\ufeff")  # Excel reads UTF-8 only with the mark
    writer = csv.writer(response, delimiter=";")
    writer.writerow([_("Unit"), _("People"), _("State"), _("Completed on"), _("Next review"), _("In progress"),
                     _("Open measures"), _("Overdue measures")])
    for row in rows:
        writer.writerow([row.name, row.people, STATE_LABELS[row.state],
                         row.completed_on.strftime("%d.%m.%Y") if row.completed_on else "",
                         row.review_due.strftime("%d.%m.%Y") if row.review_due else "",
                         _("yes") if row.in_progress else _("no"), row.open_actions, row.overdue_actions])
    return response
