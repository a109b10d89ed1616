"""The compliance overview: per unit, how the employer's deadlines are kept.

Counted from Deadline rows of the cases the user may see (access.policy), never
more: HR sees its scope, a manager her own units. NAV's milestones and other
expected events are not the employer's duties and are left out; waived
deadlines and those no longer required count nowhere.

- open / overdue: now, whatever the period;
- in the chosen period, deadlines *due* in it: met on time, and late (met late,
  missed, or still open after the due date); percent on time = on time / (on
  time + late). Deadlines due in the period but not yet due today count in
  neither.
"""

import csv
import hashlib
from dataclasses import dataclass, field
from datetime import date

from django.core.cache import cache
from django.db.models import Count, Q

from tidsnok.access.policy import visible
from tidsnok.caching import seconds_left_today
from tidsnok.cases.models import Case, Deadline, DeadlineStatus, Status
from tidsnok.cases.services import deadlines_version
from tidsnok.org import scope
from tidsnok.org.models import Unit

LATE_STATUSES = (DeadlineStatus.LATE, DeadlineStatus.MISSED)


def units_in_scope(user):
    """The units whose numbers the user may see: HR's scope and the units she manages."""
    org_id = scope.organisation_id_of(user)
    if org_id is None:
        return Unit.objects.none()
    units = Unit.objects.filter(organisation_id=org_id)
    hr = scope.hr_scope(user)
    if hr == scope.ALL:
        return units.order_by("path")
    ids = set(hr) | set(scope.managed_unit_ids(user))
    return units.filter(pk__in=list(ids)).order_by("path")


def may_see_compliance(user) -> bool:
    return scope.is_hr(user) or bool(scope.managed_unit_ids(user))


@dataclass
class Row:
    unit: Unit | None
    open: int = 0
    overdue: int = 0
    on_time: int = 0
    late: int = 0
    min_depth: int = field(default=0, repr=False)
    children: int = field(default=0, repr=False)
    label: str = field(default="", repr=False)

    @property
    def judged(self) -> int:
        return self.on_time + self.late

    @property
    def percent(self) -> int | None:
        return round(100 * self.on_time / self.judged) if self.judged else None

    @property
    def depth(self) -> int:
        return max((self.unit.depth if self.unit else 0) - self.min_depth, 0)

    @property
    def has_numbers(self) -> bool:
        return bool(self.open or self.judged)


def employer_deadlines(user):
    return Deadline.objects.filter(case__in=visible(user, Case), expected_event=False)


def counts_by_kind(organisation_id: int, start: date, end: date, today: date) -> dict:
    """{case kind: [open, overdue, on_time, late]} over every employer deadline of the
    organisation (the yearly report's figures, counts only)."""
    deadlines = Deadline.objects.filter(case__organisation_id=organisation_id, expected_event=False)
    return counts_by(deadlines, "case__kind", start, end, today)


def counts_by(deadlines, group: str, start: date, end: date, today: date) -> dict:
    """{group value: (open, overdue, on_time, late)} for a Deadline queryset.

    One pass over the deadlines that count anywhere (open now, or due in the period): at 50,000
    employees, the open ones and the period's were two queries that each walked every visible
    case's deadlines (66 + 120 ms for HR); one walk costs about the price of the longer one."""
    is_open = Q(status=DeadlineStatus.OPEN, case__status=Status.OPEN)
    in_period = Q(due__gte=start, due__lte=end)
    rows = deadlines.filter(is_open | in_period).values(group).annotate(
        open=Count("id", filter=is_open),
        overdue=Count("id", filter=is_open & Q(due__lt=today)),
        on_time=Count("id", filter=in_period & Q(status=DeadlineStatus.MET)),
        late=Count("id", filter=in_period & (Q(status__in=LATE_STATUSES) | Q(status=DeadlineStatus.OPEN, due__lt=today))),
    )
    return {row[group]: [row["open"], row["overdue"], row["on_time"], row["late"]] for row in rows}


# A scope of more units than this has its counts cached: below it, counting costs about what the
# cache does (a manager's 1-30 units: 2-20 ms), above it HR's whole organisation of 50,000
# employees costs 75-110 ms of SQL over 133,000 deadlines.
CACHED_SCOPE_UNITS = 100
CACHE_FORMAT = 1  # raise when the counts change meaning: old entries are then never read


def _counts(user, unit_ids, start: date, end: date, today: date) -> dict:
    """{unit id: [open, overdue, on_time, late]}, from the shared cache while the organisation's
    DeadlineVersion stands. The key holds the user (her handler roles and exclusions decide what
    she sees), her scope, the period and today (which decides what is overdue); the version is
    read before counting, so cached counts are never older than the version they carry."""
    unit_ids = sorted(unit_ids)
    if scope.hr_scope(user) != scope.ALL and len(unit_ids) <= CACHED_SCOPE_UNITS:
        return _count(user, unit_ids, start, end, today)
    version = deadlines_version(scope.organisation_id_of(user))
    key = _cache_key(user, unit_ids, start, end, today)
    found = cache.get(key)
    if found is not None and found[0] == version:
        return found[1]
    counts = _count(user, unit_ids, start, end, today)
    cache.set(key, (version, counts), seconds_left_today())
    return counts


def _cache_key(user, unit_ids, start: date, end: date, today: date) -> str:
    hr = scope.hr_scope(user)
    parts = (CACHE_FORMAT, scope.organisation_id_of(user), user.pk, "all" if hr == scope.ALL else sorted(hr),
             sorted(scope.managed_unit_ids(user)), unit_ids, start.isoformat(), end.isoformat(), today.isoformat())
    return "notify.compliance:" + hashlib.sha256(repr(parts).encode()).hexdigest()


def _count(user, unit_ids, start: date, end: date, today: date) -> dict:
    deadlines = employer_deadlines(user)
    if scope.hr_scope(user) == scope.ALL:
        # Every unit of the organisation is in scope, and visible() holds only the organisation's
        # cases: no IN list of thousands of unit ids, and no join to the units either.
        deadlines = deadlines.filter(case__unit__isnull=False)
    else:
        deadlines = deadlines.filter(case__unit__in=list(unit_ids))
    return counts_by(deadlines, "case__unit_id", start, end, today)


def _unit_counts(user, start: date, end: date, today: date) -> tuple[list[Unit], dict]:
    """The units in the user's scope (in tree order) and {unit id: (open, overdue, on_time, late)}."""
    units = list(units_in_scope(user))
    return units, _counts(user, [u.pk for u in units], start, end, today)


def _add(total: Row, numbers) -> None:
    total.open += numbers[0]
    total.overdue += numbers[1]
    total.on_time += numbers[2]
    total.late += numbers[3]


def overview(user, start: date, end: date, today: date) -> tuple[list[Row], Row]:
    """Every unit in scope with its own numbers (the CSV export), and the total."""
    units, counts = _unit_counts(user, start, end, today)
    min_depth = min((u.depth for u in units), default=0)
    rows, total = [], Row(unit=None)
    for unit in units:
        open_, overdue, on_time, late = counts.get(unit.pk, (0, 0, 0, 0))
        rows.append(Row(unit, open_, overdue, on_time, late, min_depth))
        _add(total, (open_, overdue, on_time, late))
    return rows, total


class UnitNotInScope(Exception):
    pass


@dataclass
class Level:
    """One level of the unit tree as the overview page shows it.

    `opened` is the unit whose children are listed (None: the top of the user's scope, when it has
    several tops); `own` is that unit's own deadlines; each of `rows` is a child (or a top) with the
    numbers of everything below it in scope summed in, and `children` set to how many units in
    scope are directly below it. `rows` plus `own` add up to the opened unit's whole branch;
    `total` is the whole scope, as in overview()."""

    opened: Unit | None
    own: Row | None
    rows: list[Row]
    total: Row
    ancestors: list[Unit]


def level(user, start: date, end: date, today: date, opened_id: int | None = None) -> Level:
    tree = list(units_in_scope(user).values_list("pk", "parent_id"))  # in tree order
    in_scope = {pk for pk, _parent in tree}
    counts = _counts(user, in_scope, start, end, today)
    children: dict[int, list[int]] = {}
    tops = []
    for pk, parent_id in tree:
        if parent_id in in_scope:
            children.setdefault(parent_id, []).append(pk)
        else:
            tops.append(pk)
    # Branch sums: in reverse tree order, every unit comes before its parent.
    branch = {pk: list(counts.get(pk, (0, 0, 0, 0))) for pk, _parent in tree}
    total = Row(unit=None)
    for pk, parent_id in reversed(tree):
        numbers = branch[pk]
        if parent_id in in_scope:
            parent = branch[parent_id]
            for i in range(4):
                parent[i] += numbers[i]
        else:
            _add(total, numbers)

    if opened_id is not None:
        if opened_id not in in_scope:
            raise UnitNotInScope(opened_id)
    elif len(tops) == 1 and tops[0] in children:
        opened_id = tops[0]
    shown = children.get(opened_id, ()) if opened_id is not None else tops
    units = Unit.objects.in_bulk([*shown, opened_id] if opened_id is not None else list(shown))
    rows = []
    for pk in shown:
        row = Row(units[pk], *branch[pk])
        row.children = len(children.get(pk, ()))
        rows.append(row)
    if opened_id is None:
        return Level(None, None, rows, total, [])
    opened = units[opened_id]
    own = Row(opened, *counts.get(opened_id, (0, 0, 0, 0)))
    ancestor_ids = [pk for pk in (int(part) for part in opened.path.strip("/").split("/")[:-1]) if pk in in_scope]
    above = Unit.objects.in_bulk(ancestor_ids)
    return Level(opened, own, rows, total, [above[pk] for pk in ancestor_ids])


@dataclass
class CaseRow:
    case: Case
    open: int
    overdue: int
    on_time: int
    late: int


def unit_cases(user, unit: Unit, start: date, end: date, today: date) -> list[CaseRow]:
    """Drill-down: the cases of one unit that the user may see, with the same counts."""
    deadlines = employer_deadlines(user).filter(case__unit=unit)
    counts = counts_by(deadlines, "case_id", start, end, today)
    cases = visible(user, Case).filter(pk__in=list(counts)).order_by("-created_at", "-id")
    return [CaseRow(case, *counts[case.pk]) for case in cases]


def safe_cell(value) -> str:
    """Spreadsheet programs run cells that start with these: never let a unit name do that."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def write_csv(out, rows: list[Row], total: Row, headers: list[str], total_label: str, delimiter: str = ",") -> None:
    writer = csv.writer(out, delimiter=delimiter)
    writer.writerow(headers)
    for row in rows:
        writer.writerow([safe_cell(row.unit.code), safe_cell(row.unit.name), row.open, row.overdue, row.on_time, row.late,
                         "" if row.percent is None else row.percent])
    writer.writerow(["", safe_cell(total_label), total.open, total.overdue, total.on_time, total.late,
                     "" if total.percent is None else total.percent])


CHART_ROW = 28
CHART_LABEL = 220
CHART_BAR = 360


@dataclass
class Bar:
    label: str
    percent: int
    y: int
    text_y: int
    width: int
    value_x: int


def chart(rows: list[Row]) -> tuple[list[Bar], int]:
    """Bars (in SVG user units) for the units with deadlines judged in the period; returns (bars, height)."""
    bars = []
    for row in rows:
        if row.percent is None:
            continue
        y = len(bars) * CHART_ROW
        width = round(CHART_BAR * row.percent / 100)
        bars.append(Bar(row.label or row.unit.name, row.percent, y + 6, y + 19, width, CHART_LABEL + width + 6))
    return bars, len(bars) * CHART_ROW + 8
