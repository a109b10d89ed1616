"""Read the organisation's deadline policy into the plain values the pure rules take."""

from collections import defaultdict
from datetime import date

from .calendar import WorkingCalendar
from .models import ClosedDay, RuleOverride


def overrides_map(organisation_id: int) -> dict[str, list[tuple[date, int]]]:
    """rule id -> [(effective_from, offset), ...] in date order, as rules_for() takes it."""
    result: dict[str, list[tuple[date, int]]] = defaultdict(list)
    rows = (
        RuleOverride.objects.filter(organisation_id=organisation_id)
        .order_by("rule_id", "effective_from")
        .values_list("rule_id", "effective_from", "offset")
    )
    for rule_id, effective_from, offset in rows:
        result[rule_id].append((effective_from, offset))
    return dict(result)


def calendar_for(organisation_id: int) -> WorkingCalendar:
    """The working-day calendar with the organisation's own closed days."""
    days = ClosedDay.objects.filter(organisation_id=organisation_id).values_list("date", flat=True)
    return WorkingCalendar(closed_days=days)
