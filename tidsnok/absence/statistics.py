"""The sick-leave statistics the employer must keep (ftrl. § 25-2), per unit and
month, with units of fewer than five people merged upwards so that nobody can
be identified. Read-only: who may see what is decided here, figures come from
the pure functions in rules.py, read from the database as plain rows (the staff
summed by the database), and are kept in the cache until what they are computed
from changes (see "the cache" below)."""

import csv
import hashlib
import io
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from operator import itemgetter

import holidays
from django.core.cache import cache
from django.db import connection
from django.db.models import Case, Count, DateField, F, Func, IntegerField, Q, Sum, Value, When
from django.utils import timezone

from tidsnok.absence import rules
from tidsnok.absence.models import Episode
from tidsnok.access.policy import AccessDenied
from tidsnok.audit.services import last_event
from tidsnok.caching import Recent, seconds_left_today
from tidsnok.deadlines.queries import calendar_for
from tidsnok.org import scope
from tidsnok.org.models import Organisation, Person, Role, RoleAssignment, Unit

MINIMUM_GROUP = 5


@dataclass
class Row:
    unit_id: int
    unit_name: str
    month: date
    cell: rules.UnitMonth

    @property
    def rate(self) -> float:
        return self.cell.rate

    def share(self, part: float) -> float:
        return 100.0 * part / self.cell.possible_days if self.cell.possible_days else 0.0

    @property
    def short_pct(self) -> float:
        return self.share(self.cell.short_days)

    @property
    def long_pct(self) -> float:
        return self.share(self.cell.long_days)

    @property
    def self_pct(self) -> float:
        return self.share(self.cell.self_days)

    @property
    def doctor_pct(self) -> float:
        return self.share(self.cell.doctor_days)

    @property
    def related_pct(self) -> float:
        return self.share(self.cell.work_related_days)


# One row of the table as it is computed and cached: (unit_id, unit_name, month, possible_days,
# lost_days, short_days, long_days, self_days, doctor_days, work_related_days, people).
TableRow = tuple[int, str, date, float, float, float, float, float, float, float, int]


def _cell(t: TableRow) -> rules.UnitMonth:
    return rules.UnitMonth(t[0], t[2], t[3], t[4], t[5], t[6], t[7], t[8], t[9], t[10])


class Statistics:
    """The figures for one scope and period: `table` (see TableRow), sorted by unit name and
    month, the total of the period and the rate per month. Row objects are made when asked for:
    a whole organisation has tens of thousands of rows, and a page shows a few of its units."""

    def __init__(self, first: date, last: date, table: list[TableRow] | None, total: rules.UnitMonth,
                 trend: list[tuple[date, float]] | None = None, columns: "_Columns | None" = None):
        self.first = first
        self.last = last
        self._table = table
        self._columns = columns  # the table as the cache keeps it, when it came from there
        self.total = total
        self._trend = trend

    @cached_property
    def table(self) -> list[TableRow]:
        return self._table if self._table is not None else self._columns.table()

    @cached_property
    def rows(self) -> list[Row]:
        return [Row(t[0], t[1], t[2], _cell(t)) for t in self.table]

    def months(self) -> list[date]:
        return sorted({t[2] for t in self.table})

    def trend(self) -> list[tuple[date, float]]:
        """The rate of the whole scope per month, for the chart."""
        if self._trend is None:
            by_month: dict[date, rules.UnitMonth] = {}
            for t in self.table:
                month = by_month.get(t[2])
                if month is None:
                    month = by_month[t[2]] = rules.UnitMonth(0, t[2])
                month.add(_cell(t))
            self._trend = [(m, by_month[m].rate) for m in sorted(by_month)]
        return self._trend

    def units(self) -> list[tuple[int, str]]:
        """The units of the table, (id, name) in table order."""
        if self._table is None:
            return list(self._columns.units)
        seen: dict[int, str] = {}
        for t in self.table:
            if t[0] not in seen:
                seen[t[0]] = t[1]
        return list(seen.items())

    def rows_of(self, unit_ids) -> list[Row]:
        """The rows of these units only, in table order."""
        wanted = set(unit_ids)
        if self._table is None:
            table = self._columns.table(wanted)
        else:
            table = [t for t in self._table if t[0] in wanted]
        return [Row(t[0], t[1], t[2], _cell(t)) for t in table]

    def payload(self) -> tuple:
        """What the cache keeps: plain values, the table by columns (see _Columns)."""
        total = self.total
        return (_Columns.of(self.table), (
            total.possible_days, total.lost_days, total.short_days, total.long_days, total.self_days,
            total.doctor_days, total.work_related_days, total.people,
        ), self.trend())

    @classmethod
    def from_payload(cls, first: date, last: date, payload: tuple) -> "Statistics":
        columns, total, trend = payload
        return cls(first, last, None, rules.UnitMonth(0, first, *total), trend, columns)


class _Columns:
    """The table by columns, for the cache: the figures in one array of doubles, the units and
    months as indexes into short lists. It pickles to bytes and back in a millisecond, where a
    list of tens of thousands of tuples takes tens."""

    FIGURES = 7  # possible, lost, short, long, self-certified, doctor-certified, work-related days

    def __init__(self, units, unit_index, months, month_index, figures, people):
        self.units = units  # [(unit_id, unit_name)] in table order
        self.unit_index = unit_index  # per row: index into units
        self.months = months
        self.month_index = month_index  # per row: index into months
        self.figures = figures  # FIGURES per row
        self.people = people

    @classmethod
    def of(cls, table: list[TableRow]) -> "_Columns":
        units: dict[int, int] = {}
        names: list[tuple[int, str]] = []
        months = sorted({t[2] for t in table})
        month_at = {m: i for i, m in enumerate(months)}
        unit_index, month_index, figures, people = array("I"), array("H"), array("d"), array("q")
        for t in table:
            index = units.get(t[0])
            if index is None:
                index = units[t[0]] = len(names)
                names.append((t[0], t[1]))
            unit_index.append(index)
            month_index.append(month_at[t[2]])
            figures.extend(t[3:10])
            people.append(t[10])
        return cls(names, unit_index, months, month_index, figures, people)

    def table(self, unit_ids: set[int] | None = None) -> list[TableRow]:
        """The rows (of these units only, if given) as TableRows, in table order."""
        units, months, figures, people, n = self.units, self.months, self.figures, self.people, self.FIGURES
        if unit_ids is None:
            indexes = range(len(self.unit_index))
        else:
            wanted = {i for i, (unit_id, _name) in enumerate(units) if unit_id in unit_ids}
            indexes = [i for i, u in enumerate(self.unit_index) if u in wanted]
        rows = []
        for i in indexes:
            unit_id, name = units[self.unit_index[i]]
            rows.append((unit_id, name, months[self.month_index[i]], *figures[i * n:(i + 1) * n], people[i]))
        return rows


def unit_scope(actor):
    """The units whose statistics the actor may see: everyone with a role that
    needs figures. Employees without a role see none."""
    if scope.is_admin(actor):
        return scope.ALL
    hr = scope.hr_scope(actor)
    if hr == scope.ALL:
        return scope.ALL
    person = scope.person_of(actor)
    if person is not None and RoleAssignment.objects.active().filter(person=person, role=Role.AMU).exists():
        return scope.ALL  # AMU takes part in the whole organisation's HMS work
    units = set(hr) | set(scope.managed_unit_ids(actor))
    safety = scope.safety_rep_unit_ids(actor)
    if safety == scope.ALL:
        return scope.ALL
    units |= set(safety)
    if not units:
        raise AccessDenied("statistics")
    return frozenset(units)


def _units_in_scope(organisation, allowed, unit: Unit | None):
    units = Unit.objects.filter(organisation=organisation)
    if unit is not None:
        return units.filter(path__startswith=unit.path)
    if allowed != scope.ALL:
        return units.filter(pk__in=list(allowed))
    return units


def _staff_groups(units, first: date, last: date) -> list[rules.StaffGroup]:
    """The people of these units employed in the period, summed in the database into
    rules.StaffGroups: per unit and the days of the period they were employed."""
    clipped_start = Case(When(start_date__gt=first, then=F("start_date")), default=Value(first),
                         output_field=DateField())
    clipped_end = Case(When(end_date__lt=last, then=F("end_date")), default=Value(last), output_field=DateField())
    rows = (
        Person.objects.filter(_staff_filter(first, last), unit__in=units)
        .order_by()
        .annotate(employed_from=clipped_start, employed_until=clipped_end)
        .values("unit_id", "employed_from", "employed_until")
        .annotate(percent=Sum("position_percent"), people=Count("id"))
        .values_list("unit_id", "employed_from", "employed_until", "percent", "people")
    )
    return [rules.StaffGroup(*row) for row in rows]


def _staff_filter(first: date, last: date, prefix: str = "") -> Q:
    return (Q(**{f"{prefix}end_date__isnull": True}) | Q(**{f"{prefix}end_date__gte": first})) & (
        Q(**{f"{prefix}start_date__isnull": True}) | Q(**{f"{prefix}start_date__lte": last})
    )


class _DayNumber(Func):
    """A date as its day number (date.toordinal()), computed by the database: reading a hundred
    thousand episodes' dates as text and parsing them would cost more than the statistics."""

    output_field = IntegerField()

    def as_sqlite(self, compiler, connection, **extra):
        template = f"(CAST(julianday(%(expressions)s) - 2451544.5 AS INTEGER) + {_DAY_2000})"
        return self.as_sql(compiler, connection, template=template, **extra)

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template=f"(%(expressions)s - DATE '2000-01-01' + {_DAY_2000})",
                           **extra)


_DAY_2000 = date(2000, 1, 1).toordinal()


def _episodes(units, first: date, last: date) -> Iterator[tuple]:
    """The episodes of the period of the people counted in the staff, with their grades, in one
    query (an episode comes once per grade period, in episode order), read as plain rows (no
    model instances) and handed on one episode at a time: a whole municipality has hundreds of
    thousands, and holding them all would cost an app worker a hundred megabytes for a moment
    and keep it (Python rarely gives memory back)."""
    query = (
        Episode.objects.filter(_staff_filter(first, last, "person__"), person__unit__in=units, start__lte=last)
        .filter(Q(end__isnull=True) | Q(end__gte=first))
        .order_by("id")
        .annotate(start_day=_DayNumber("start"), end_day=_DayNumber("end"), period_day=_DayNumber("period_start"),
                  grade_day=_DayNumber("grades__from_date"))
        .values_list("id", "person__unit_id", "start_day", "end_day", "certified", "work_related",
                     "person__position_percent", "grade_day", "grades__grade", "period_day")
    )
    sql, params = query.query.sql_with_params()
    # Plain tuples in the order of rules.EpisodeDays' fields: a named tuple costs more to make.
    current_id, current = None, None
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(5000):
            for episode_id, unit_id, start, end, certified, work_related, percent, from_day, grade, period_start in rows:
                if episode_id != current_id:
                    if current is not None:
                        yield current
                    grades = () if from_day is None else ((from_day, grade),)
                    current_id = episode_id
                    current = (unit_id, start, end, certified, work_related, percent, grades, period_start)
                elif from_day is not None:
                    # Oldest first, as rules.grade_on() reads them (from_date is unique per episode).
                    current = current[:6] + (tuple(sorted(current[6] + ((from_day, grade),))),) + current[7:]
    if current is not None:
        yield current


def _compute(organisation, allowed, unit: Unit | None, first: date, last: date) -> Statistics:
    units = _units_in_scope(organisation, allowed, unit)
    unit_rows = list(units.values_list("id", "name", "parent_id"))
    groups = _staff_groups(units, first, last)
    episodes = _episodes(units, first, last)
    cells = rules.sick_leave_cells(groups, episodes, first, last, calendar_for(organisation.pk))
    headcount: dict[int, int] = {}
    for group in groups:
        headcount[group.unit_id] = headcount.get(group.unit_id, 0) + group.people
    parents = {u: p for u, _n, p in unit_rows}
    # Merging stops at the top of what the actor may see: a parent outside her
    # scope is not shown, so a small unit there is left out instead.
    parents = {u: (p if p in parents else None) for u, p in parents.items()}
    merged = rules.merge_small_units(cells, parents, headcount, MINIMUM_GROUP)
    names = {u: n for u, n, _p in unit_rows}
    table = sorted(
        ((unit_id, names.get(unit_id, ""), month, c.possible_days, c.lost_days, c.short_days, c.long_days,
          c.self_days, c.doctor_days, c.work_related_days, c.people) for (unit_id, month), c in merged.items()),
        key=itemgetter(1, 2),  # unit name, month
    )
    # Summed row by row in table order, as UnitMonth.add() would.
    possible = lost = short = long = self_certified = doctor = related = 0.0
    people = 0
    for t in table:
        possible += t[3]
        lost += t[4]
        short += t[5]
        long += t[6]
        self_certified += t[7]
        doctor += t[8]
        related += t[9]
        people += t[10]
    total = rules.UnitMonth(0, first, possible, lost, short, long, self_certified, doctor, related, people)
    return Statistics(first, last, table, total)


# --- the cache ----------------------------------------------------------------------------------
#
# The figures of a scope and period are kept in Django's cache (the database cache), one entry
# per (organisation, scope, unit, period, today), next to a fingerprint of everything they are
# computed from. A request reads the fingerprint (one query of index seeks) and uses the entry only if
# the fingerprint is unchanged; otherwise it computes and overwrites the entry. Whoever may see
# the figures is decided before the cache is consulted, and the scope is part of the key.

CACHE_FORMAT = 1  # raise when the computation or the payload changes: old entries are then never read


# Every change of episodes or their grades is one of these, written in the transaction of the
# change (services.register_episode, update_episode, set_grade, mark_work_related; the importer
# goes through them; `tidsnok generate` writes the same events in bulk).
EPISODE_ACTIONS = ("absence.episode_registered", "absence.episode_changed", "absence.grade_changed",
                   "absence.work_related_marked",
                   # The retention policy deleting episodes (and sick-leave cases with theirs): one
                   # event per batch, written by tidsnok.retention, which this room may not import.
                   "retention.applied")

# And every change of what the statistics read of the organisation, which other rooms write: a
# person hired or changed (unit, position percentage, employment dates: org.services.save_person
# and create_people, which the org import goes through), a unit created, renamed or moved
# (save_unit, create_units) and a closed day (deadlines.services.add_closed_day).
ORGANISATION_ACTIONS = ("person.created", "person.changed", "unit.created", "unit.changed",
                        "deadlines.closed_day_added")


def data_fingerprint() -> tuple:
    """A cheap fingerprint of the data the statistics read: the absence episodes and their
    grade periods, the organisation's people (unit, position percentage, employment dates),
    its unit tree and its calendar's closed days.

    The seq and hash of the newest audit event of a change to any of them
    (audit.services.last_event): one index seek per action, at any size. Every such change
    writes its event in its own transaction, as every state change in tidsnok does; one made
    behind the services' back would be seen only when the entry expires at midnight.
    Installation-wide: a change in another organisation of the same installation only costs
    the next request a fresh computation.

    It used to count and sum the people, units and closed days (COUNT, MAX(id), SUM(version)):
    about 12 ms of SQLite and 10 ms of PostgreSQL on every request served from the cache at
    50,000 employees, more than the rest of such a request's queries together; and before that
    the episodes and grades too (130 ms)."""
    return tuple(str(part) for part in last_event(EPISODE_ACTIONS + ORGANISATION_ACTIONS))


def _cache_key(organisation_id: int, allowed, unit: Unit | None, first: date, last: date) -> str:
    scope_part = "all" if allowed == scope.ALL else ",".join(str(u) for u in sorted(allowed))
    parts = [CACHE_FORMAT, organisation_id, scope_part, unit.pk if unit is not None else "", first.isoformat(),
             last.isoformat(), timezone.localdate().isoformat(), holidays.__version__]
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()
    return f"absence.statistics:{digest}"


def cache_key(actor, organisation, first: date, last: date, unit: Unit | None = None) -> str:
    """The cache key of what compute() gives this actor (whose scope it includes)."""
    return _cache_key(organisation.pk, unit_scope(actor), unit, first, last)


# A scope of at most this many people is computed on every request. Computing costs about 0.05 ms
# per person (at 50,000 employees: 10 people 6 ms, the largest unit of 833 people 46 ms), a look
# in the cache 1-4 ms whatever the scope (the fingerprint 0.1 ms on SQLite and 2-3 ms on
# PostgreSQL, then the entry). Below this size that saves a few milliseconds, not worth an entry
# per manager and day in the shared cache. Counted in people, not units: one unit can hold 833.
SMALL_SCOPE_PEOPLE = 200


def _worth_caching(allowed, unit: Unit | None) -> bool:
    if unit is None and allowed == scope.ALL:
        return True
    if unit is not None:
        units = Unit.objects.filter(organisation_id=unit.organisation_id, path__startswith=unit.path).values("pk")
    else:
        units = sorted(allowed)
    return Person.objects.filter(unit_id__in=units).count() > SMALL_SCOPE_PEOPLE


def compute(actor, organisation, first: date, last: date, unit: Unit | None = None, *,
            use_cache: bool = True) -> Statistics:
    """The statistics of the period for what the actor may see (AccessDenied if nothing), or for
    `unit` and below, which she must be allowed to see. From the cache when nothing they are
    computed from has changed; `use_cache=False` computes them regardless (benchmarks, tests)."""
    allowed = unit_scope(actor)  # raises AccessDenied: before any cache is looked at
    if unit is not None and allowed != scope.ALL and unit.pk not in allowed:
        raise AccessDenied("statistics")
    if not use_cache or not _worth_caching(allowed, unit):
        return _compute(organisation, allowed, unit, first, last)
    key = _cache_key(organisation.pk, allowed, unit, first, last)
    fingerprint = data_fingerprint()  # before computing: figures are never older than it
    payload = _RECENT.get(key, fingerprint)
    if payload is not None:
        return Statistics.from_payload(first, last, payload)
    stats = _compute(organisation, allowed, unit, first, last)
    _RECENT.remember(key, fingerprint, stats.payload())
    return stats


# The few entries this process read last (caching.Recent). HR's whole organisation is 2.6 MB in
# the database cache at 50,000 employees, and reading and unpickling it cost about 10 ms of every
# request.
RECENT_ENTRIES = 4
_RECENT = Recent(RECENT_ENTRIES)


def default_period() -> tuple[date, date]:
    """What the statistics page shows first: the last twelve months, this one included."""
    today = timezone.localdate()
    month_index = today.year * 12 + today.month - 1 - 11
    return date(month_index // 12, month_index % 12 + 1, 1), today


def warm(worker: str = "") -> int:
    """Recompute the whole-organisation figures of the default period where the data changed.

    Run by every sweep round (cases.hooks.sweep_upkeep): at 50,000 employees a computation
    takes one or two seconds, and in a large organisation episodes change every few minutes,
    so HR would otherwise often wait for it. Only this one entry per organisation is kept warm:
    a manager's scope is small and quick to compute. Returns how many were recomputed."""
    first, last = default_period()
    warmed = 0
    fingerprint = data_fingerprint()  # the installation's, read before any computation below
    for organisation in Organisation.objects.all():
        key = _cache_key(organisation.pk, scope.ALL, None, first, last)
        found = cache.get(key)
        if found is not None and found[0] == fingerprint:
            continue
        # Several sweep workers: one computes, the others go on (the lock expires by itself).
        if not cache.add(f"{key}:warming", True, 300):
            continue
        try:
            stats = _compute(organisation, scope.ALL, None, first, last)
            cache.set(key, (fingerprint, stats.payload()), seconds_left_today())
            warmed += 1
        finally:
            cache.delete(f"{key}:warming")
    return warmed


def as_csv(stats: Statistics) -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(["unit", "month", "possible_days", "lost_days", "rate_percent", "short_percent", "long_percent",
                     "self_certified_percent", "doctor_certified_percent", "work_related_percent"])
    for row in stats.rows:
        c = row.cell
        writer.writerow([
            row.unit_name, row.month.strftime("%Y-%m"), f"{c.possible_days:.1f}", f"{c.lost_days:.1f}",
            f"{c.rate:.2f}", f"{row.share(c.short_days):.2f}", f"{row.share(c.long_days):.2f}",
            f"{row.share(c.self_days):.2f}", f"{row.share(c.doctor_days):.2f}", f"{row.share(c.work_related_days):.2f}",
        ])
    return out.getvalue()
