"""Which units have a current risk assessment: the overview HR, AMU, safety representatives and
managers above several units need for the systematic HMS work (and AMU for its yearly report).

A unit's state, from its newest completed assessment and the work in progress:
- "current": completed, next review more than a month ahead;
- "due_soon": the review is due within a month (rules.REVIEW_NOTICE_DAYS);
- "overdue": the review date has passed;
- "missing": never completed.
A round in progress is shown beside the state; it does not change it until completed.

The states of a large scope (HR's whole organisation: 2,687 units at 50,000 employees) are kept
in the shared cache for the day, with the version of what they are computed from (see
`STATE_ACTIONS`); the people and measures of the rows shown are always counted afresh.
"""

import hashlib
from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import Count, Exists, OuterRef, Q

from tidsnok.audit.services import last_event
from tidsnok.caching import Recent
from tidsnok.cases.models import MeasureStatus
from tidsnok.org import scope
from tidsnok.org.models import Person, Role, Unit
from tidsnok.risk import rules
from tidsnok.risk.models import Action, Assessment, Status
from tidsnok.risk.policy import edit_unit_ids

STATES = ("overdue", "missing", "due_soon", "current")

# The states of a scope of more units than this are cached: a manager's few units cost a few
# milliseconds to compute, HR's whole organisation 40-60 ms of every request to this page.
CACHED_SCOPE_UNITS = 100
CACHE_FORMAT = 1  # raise when the cached rows change shape: old entries are then never read
# Every change of what the states are computed from writes one of these audit events in its own
# transaction: an assessment started (a round in progress), completed or its review moved,
# assessments deleted by the retention policy, a person hired or changed (who works where, until
# when), a unit created, renamed or moved. The newest one's seq and hash (audit.services.last_event)
# is the version a cached entry must match; today's date is in the key.
STATE_ACTIONS = ("risk.assessment_started", "risk.assessment_completed", "risk.review_moved", "retention.applied",
                 "person.created", "person.changed", "unit.created", "unit.changed")
# The entries this process read last, and the shared cache's (caching.Recent): HR's 2,687 rows
# are otherwise one read and unpickling of the shared cache on every request (most of the page's
# SQL on PostgreSQL).
_RECENT = Recent(4)


@dataclass
class UnitRow:
    unit_id: int
    name: str
    depth: int
    state: str
    completed_on: date | None = None
    review_due: date | None = None
    latest_id: int | None = None
    in_progress: bool = False
    people: int = 0
    open_actions: int = 0
    overdue_actions: int = 0


def unit_scope(user):
    """ALL, or the ids of the units whose coverage the user may see; empty for everyone else."""
    if scope.person_of(user) is None:
        return frozenset()
    editable = edit_unit_ids(user)  # HR in scope and the managers
    reps = scope.safety_rep_unit_ids(user)
    if editable == scope.ALL or reps == scope.ALL or Role.AMU in scope.roles_of(user):
        return scope.ALL
    return editable | frozenset(reps)


def may_view(user) -> bool:
    return unit_scope(user) != frozenset()


def state_of(review_due: date | None, today: date) -> str:
    if review_due is None:
        return "missing"
    if review_due < today:
        return "overdue"
    if review_due <= today + timedelta(days=rules.REVIEW_NOTICE_DAYS):
        return "due_soon"
    return "current"


def coverage(user, today: date) -> list[UnitRow]:
    """Every unit with staff in the user's scope, in tree order, with its state: three queries,
    whatever the number of units (2,687 at 50,000 employees), or the shared cache's entry for a
    large scope while nothing they are computed from has changed. Its people and open measures
    are counted by `with_counts`, for the rows shown."""
    units_scope = unit_scope(user)
    organisation_id = scope.person_of(user).organisation_id
    if units_scope != scope.ALL and len(units_scope) <= CACHED_SCOPE_UNITS:
        return [UnitRow(*row) for row in _states(organisation_id, units_scope, today)]
    version = tuple(str(part) for part in last_event(STATE_ACTIONS))  # before computing: never older
    key = _cache_key(organisation_id, units_scope, today)
    table = _RECENT.get(key, version)
    if table is None:
        table = _states(organisation_id, units_scope, today)
        _RECENT.remember(key, version, table)
    return [UnitRow(*row) for row in table]


def _cache_key(organisation_id: int, units_scope, today: date) -> str:
    scope_part = "all" if units_scope == scope.ALL else ",".join(str(u) for u in sorted(units_scope))
    digest = hashlib.sha256(f"{CACHE_FORMAT}|{organisation_id}|{scope_part}|{today.isoformat()}".encode()).hexdigest()
    return f"risk.coverage:{digest}"


def _states(organisation_id: int, units_scope, today: date) -> list[tuple]:
    """(unit id, name, depth, state, completed on, review due, newest completed id, in progress)
    of every unit with staff in the scope, in tree order: plain values, as the cache keeps them."""
    working = Person.objects.filter(unit_id=OuterRef("pk")).filter(Q(end_date__isnull=True) | Q(end_date__gte=today))
    units = Unit.objects.filter(organisation_id=organisation_id).filter(Exists(working))
    assessments = Assessment.objects.filter(organisation_id=organisation_id)
    if units_scope != scope.ALL:
        ids = list(units_scope)
        units = units.filter(pk__in=ids)
        assessments = assessments.filter(unit_id__in=ids)
    latest: dict[int, tuple] = {}
    for unit_id, pk, completed_on, review_due in (assessments.filter(status=Status.COMPLETED)
                                                  .order_by("unit_id", "completed_on", "pk")
                                                  .values_list("unit_id", "pk", "completed_on", "review_due")):
        latest[unit_id] = (pk, completed_on, review_due)  # ordered: the newest wins
    in_progress = set(assessments.filter(status=Status.DRAFT).values_list("unit_id", flat=True))
    rows = []
    for unit_id, name, depth in units.order_by("path").values_list("pk", "name", "depth"):
        pk, completed_on, review_due = latest.get(unit_id, (None, None, None))
        rows.append((unit_id, name, depth, state_of(review_due, today), completed_on, review_due, pk,
                     unit_id in in_progress))
    return rows


def with_counts(rows: list[UnitRow], today: date) -> list[UnitRow]:
    """Fill in the people working in each unit and its open and overdue measures: two queries
    for the rows given (a page, or all of them for an export)."""
    ids = [row.unit_id for row in rows]
    if not ids:
        return rows
    people = dict(Person.objects.filter(unit_id__in=ids).filter(Q(end_date__isnull=True) | Q(end_date__gte=today))
                  .order_by().values("unit_id").annotate(n=Count("pk")).values_list("unit_id", "n"))
    actions = {row["assessment__unit_id"]: row for row in (
        Action.objects.filter(assessment__unit_id__in=ids, status__in=[MeasureStatus.PLANNED, MeasureStatus.IN_PROGRESS])
        .order_by().values("assessment__unit_id").annotate(n=Count("pk"), late=Count("pk", filter=Q(due__lt=today))))}
    for row in rows:
        row.people = people.get(row.unit_id, 0)
        counts = actions.get(row.unit_id, {})
        row.open_actions, row.overdue_actions = counts.get("n", 0), counts.get("late", 0)
    return rows


def summary(rows: list[UnitRow]) -> dict[str, int]:
    counted = dict.fromkeys(STATES, 0)
    for row in rows:
        counted[row.state] += 1
    return counted
