"""The risk room's rules: pure functions over plain values, each with its basis."""

from datetime import date, timedelta

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from tidsnok.deadlines.rules import add_months

# forskrift om organisering, ledelse og medvirkning § 7-1 asks that the mapping and risk
# assessment be "repeated regularly" without a number; a year is the common practice and the
# default here (a policy default, not the law). The manager may set an earlier date.
REVIEW_MONTHS = 12
REVIEW_BASIS = gettext_lazy("forskrift om organisering, ledelse og medvirkning § 7-1 (\"regularly\"); "
                            "12 months is a policy default")
# How long before the review is due its unit's managers hear of it.
REVIEW_NOTICE_DAYS = 30

LOW, MEDIUM, HIGH = "low", "medium", "high"
LEVEL_LABELS = {LOW: gettext_lazy("Low"), MEDIUM: gettext_lazy("Medium"), HIGH: gettext_lazy("High")}


def level(likelihood: int, consequence: int) -> str:
    """The risk level of a 4 x 4 matrix (policy default): the product 1-3 low, 4-8 medium, 9-16
    high. So a likely (3) and serious (3) risk is high, and an unlikely but critical one (1 x 4) is
    medium: it still asks for a measure."""
    if not (1 <= likelihood <= 4 and 1 <= consequence <= 4):
        raise ValueError("likelihood and consequence run from 1 to 4")
    score = likelihood * consequence
    if score >= 9:
        return HIGH
    if score >= 4:
        return MEDIUM
    return LOW


def default_review_due(completed_on: date) -> date:
    return add_months(completed_on, REVIEW_MONTHS)


def review_stage(review_due: date | None, today: date) -> str:
    """Which review reminder is due: "" (none yet), "before" (within the notice) or "overdue"."""
    if review_due is None:
        return ""
    if review_due < today:
        return "overdue"
    if review_due <= today + timedelta(days=REVIEW_NOTICE_DAYS):
        return "before"
    return ""


def action_stage(due: date, today: date, remind_until: date | None) -> str:
    """Which reminder an open measure of the action plan needs: "overdue" after its due date,
    "before" when it is due by `remind_until` (the organisation's reminder lead in working days
    from today; None when it sends none before), else ""."""
    if due < today:
        return "overdue"
    if remind_until is not None and due <= remind_until:
        return "before"
    return ""


def completion_problems(*, summary: str, risk_levels: list[str], actions_per_risk: list[int],
                        participant_roles: list[str], survey_answered: bool = False) -> list[str]:
    """Why an assessment cannot be completed yet; empty when it can.

    - A conclusion in writing (internkontrollforskriften § 5).
    - At least one risk assessed: an assessment that found nothing says so as a low risk.
    - Every medium or high risk has a measure in the action plan (§ 7-1: plans and measures to
      reduce the risk).
    - Employees or their safety representative took part (§ 7-1, aml § 4-2): a manager's
      assessment alone is not the systematic work the law asks for. A closed survey that enough
      employees answered counts as their taking part.
    """
    problems = []
    if not summary.strip():
        problems.append(_("Write the conclusion of the assessment."))
    if not risk_levels:
        problems.append(_("Assess at least one risk. If the mapping found none worth noting, record it as a low risk."))
    unanswered = sum(1 for lvl, n in zip(risk_levels, actions_per_risk, strict=True) if lvl != LOW and n == 0)
    if unanswered:
        problems.append(ngettext("%(count)d medium or high risk has no measure in the action plan.",
                                 "%(count)d medium or high risks have no measure in the action plan.",
                                 unanswered) % {"count": unanswered})
    if not survey_answered and not any(role in ("employee", "safety_rep", "union_rep") for role in participant_roles):
        problems.append(_("Record who took part: employees or their safety representative must take part."))
    return problems


# --- the survey ----------------------------------------------------------------------------------

# Fewer answers than this are never shown, whatever the organisation sets: with two, each knows
# the other's. Five is the default (Arbeidstilsynet's and most survey tools' practice).
SURVEY_MIN_THRESHOLD = 3
SURVEY_DEFAULT_THRESHOLD = 5
SURVEY_MAX_DAYS = 60
SCORES = (1, 2, 3, 4, 5)
SCORE_LABELS = {
    1: gettext_lazy("Not at all"), 2: gettext_lazy("A little"), 3: gettext_lazy("Somewhat"),
    4: gettext_lazy("Much"), 5: gettext_lazy("Very much"),
}


def survey_result(counts: dict[int, int], threshold: int) -> dict | None:
    """One factor's figures from its counts per score, or None when fewer than `threshold`
    answered it (then nothing about it is shown, not even the count)."""
    answered = sum(counts.get(score, 0) for score in SCORES)
    if answered < max(threshold, SURVEY_MIN_THRESHOLD):
        return None
    total = sum(score * counts.get(score, 0) for score in SCORES)
    much = counts.get(4, 0) + counts.get(5, 0)
    return {
        "answered": answered,
        "mean": round(total / answered, 1),
        # The share answering "much" or "very much": what a unit should look at first.
        "much_percent": round(100 * much / answered),
        "distribution": [(score, counts.get(score, 0), round(100 * counts.get(score, 0) / answered)) for score in SCORES],
    }
