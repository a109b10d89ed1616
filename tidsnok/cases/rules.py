"""Pure rules of the spine: when HR must be involved, when a case may close,
and which entry fulfils which deadline. No database access here: the services
pass in what the rules need."""

from dataclasses import dataclass
from datetime import date

from django.utils.translation import gettext as _

# Reasons for involving HR (seed: "Når du bør snakke med HR").
HR_HARASSMENT = "harassment_or_retaliation"
HR_CONFLICT = "conflict_affects_work_ability_or_several"
HR_UNCERTAIN = "manager_uncertain"
HR_IMPARTIALITY = "manager_is_party"


def hr_reason_text(reason: str) -> str:
    return {
        HR_HARASSMENT: _("A claim of harassment or retaliation: HR is involved at once."),
        HR_CONFLICT: _("A conflict that affects work ability or several people in the team."),
        HR_UNCERTAIN: _("The manager is unsure about the process or her impartiality."),
        HR_IMPARTIALITY: _("A manager responsible for the case is a party to it."),
    }.get(reason, reason)


@dataclass(frozen=True)
class EntryFacts:
    """What the rules need to know of an entry."""

    id: int
    kind: str
    occurred_on: date
    author_id: int | None
    measure_id: int | None
    data: dict


def hr_reasons(kind: str, entries: list[EntryFacts], manager_excluded: bool) -> list[str]:
    reasons = []
    if kind == "harassment":
        reasons.append(HR_HARASSMENT)
    if kind == "conflict" and any(
        e.kind == "assessment" and (e.data.get("affects_work_ability") or e.data.get("affects_several"))
        for e in entries
    ):
        reasons.append(HR_CONFLICT)
    if any(e.kind == "uncertain" for e in entries):
        reasons.append(HR_UNCERTAIN)
    if manager_excluded and kind in ("harassment", "conflict"):
        reasons.append(HR_IMPARTIALITY)
    return reasons


def close_refusals(kind: str, open_measures: int, evaluation: str, hr_involved: bool) -> list[str]:
    refusals = []
    if open_measures:
        refusals.append(
            _("%(count)d measure(s) are still open. Mark them done, or cancel them with a reason, first.")
            % {"count": open_measures}
        )
    if not evaluation.strip():
        refusals.append(_("Write a final evaluation: what was done, and what effect it had."))
    if kind == "harassment" and not hr_involved:
        refusals.append(_("A harassment case cannot close without HR."))
    return refusals


def _first(entries, predicate):
    for entry in sorted(entries, key=lambda e: (e.occurred_on, e.id)):
        if predicate(entry):
            return entry
    return None


def fulfilling_entry(rule_id: str, start: date, measure_id: int | None, entries: list[EntryFacts],
                     concerned_ids: set[int], accused_ids: set[int], hr_person_ids: set[int]):
    """The entry that fulfils a built-in deadline, with the date it was met, or (None, None).

    A deadline is met by the thing that fulfils it, never by ticking a box."""
    if rule_id == "psychosocial.first_conversation":
        entry = _first(entries, lambda e: e.kind == "conversation")
    elif rule_id in ("psychosocial.assessment", "harassment.protective_measures"):
        entry = _first(entries, lambda e: e.kind == "assessment")
    elif rule_id == "psychosocial.measure_follow_up":
        entry = _first(entries, lambda e: e.kind == "follow_up" and e.measure_id == measure_id)
    elif rule_id == "psychosocial.review":
        entry = _first(
            entries,
            lambda e: e.kind in ("follow_up", "assessment", "decision", "evaluation", "conversation")
            and e.occurred_on > start,
        )
    elif rule_id == "harassment.hr_involved":
        entry = _first(entries, lambda e: e.kind == "hr_involved")
    elif rule_id == "harassment.conclusion":
        entry = _first(entries, lambda e: e.kind == "conclusion")
    elif rule_id == "violence.follow_up_affected":
        entry = _first(
            entries,
            lambda e: e.kind in ("conversation", "follow_up")
            and (e.kind == "follow_up" or set(e.data.get("participants", [])) & concerned_ids),
        )
    elif rule_id == "hr.first_response":
        entry = _first(
            entries,
            lambda e: e.author_id in hr_person_ids and e.occurred_on >= start
            and e.kind not in ("hr_involved", "system", "escalation", "exclusion"),
        )
    elif rule_id == "harassment.both_sides_heard":
        # Heard separately: a conversation with the concerned without the accused
        # present, and one with the accused without the concerned present.
        def heard(side, other):
            return _first(
                entries,
                lambda e: e.kind == "conversation"
                and set(e.data.get("participants", [])) & side
                and not set(e.data.get("participants", [])) & other,
            )

        if not concerned_ids or not accused_ids:
            return None, None
        a, b = heard(concerned_ids, accused_ids), heard(accused_ids, concerned_ids)
        if a is None or b is None:
            return None, None
        last = max((a, b), key=lambda e: (e.occurred_on, e.id))
        return last, last.occurred_on
    else:
        return None, None
    return (entry, entry.occurred_on) if entry else (None, None)


BUILT_IN_RULES = {
    "psychosocial.first_conversation", "psychosocial.assessment", "psychosocial.measure_follow_up",
    "psychosocial.review", "harassment.hr_involved", "harassment.protective_measures",
    "harassment.both_sides_heard", "harassment.conclusion", "violence.follow_up_affected", "hr.first_response",
}


def status_for(due: date, met_on: date | None, closed_on: date | None, today: date) -> str:
    if met_on is not None:
        return "met" if met_on <= due else "late"
    if closed_on is not None:
        return "missed" if due < closed_on else "not_required"
    return "open"
