"""What the whistleblowing room tells the spine: when a report's deadlines start,
what meets them, when a report may close, and where its page is.

- whistleblowing.acknowledge (7 days, policy default): met by the first message to the reporter.
- whistleblowing.feedback (3 months, policy default): met by a message marked as feedback.
Both start on the day the report was received.
"""

from django.urls import reverse
from django.utils.translation import gettext as _

from tidsnok.cases import hooks
from tidsnok.cases.models import EntryKind, Kind
from tidsnok.whistleblowing.models import Assessment, Direction, Message, Report

ACKNOWLEDGE_RULE = "whistleblowing.acknowledge"
FEEDBACK_RULE = "whistleblowing.feedback"


def received_dates(case):
    received = Report.objects.filter(case=case).values_list("received_on", flat=True).first()
    return {"received": [(None, 0, received or case.known_at)]}


def _first_message(entries, start, feedback_only):
    for entry in sorted(entries, key=lambda e: (e.occurred_on, e.id)):
        data = entry.data or {}
        if (entry.kind == EntryKind.MESSAGE and data.get("direction") == Direction.TO_REPORTER
                and entry.occurred_on >= start and (data.get("feedback") or not feedback_only)):
            return entry, entry.occurred_on
    return None, None


def acknowledged(deadline, case, entries):
    return _first_message(entries, deadline.start, feedback_only=False)


def feedback_given(deadline, case, entries):
    return _first_message(entries, deadline.start, feedback_only=True)


def close_checks(case):
    report = Report.objects.filter(case=case).first()
    if report is None:
        return []
    refusals = []
    if report.assessment == Assessment.PENDING:
        refusals.append(_("Record whether the report is whistleblowing under aml § 2 A-1 before closing."))
    if not Message.objects.filter(report=report, is_feedback=True).exists():
        refusals.append(_("Give the reporter feedback before closing."))
    return refusals


def page_url(case) -> str:
    return reverse("whistleblowing:report", args=[case.pk])


def register_spine():
    hooks.trigger_dates[Kind.WHISTLEBLOWING] = received_dates
    hooks.fulfilment[ACKNOWLEDGE_RULE] = acknowledged
    hooks.fulfilment[FEEDBACK_RULE] = feedback_given
    checks = hooks.close_checks.setdefault(Kind.WHISTLEBLOWING, [])
    if close_checks not in checks:
        checks.append(close_checks)
    hooks.case_pages[Kind.WHISTLEBLOWING] = page_url
