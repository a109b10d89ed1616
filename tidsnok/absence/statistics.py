"""The sick-leave statistics the employer must keep (ftrl. § 25-2), per unit and
month, with units of fewer than five people merged upwards so that nobody can
be identified. Read-only: who may see what is decided here, figures come from
the pure functions in rules.py."""

import csv
import io
from dataclasses import dataclass
from datetime import date

from django.db.models import Q

from tidsnok.absence import rules
from tidsnok.absence.models import Episode, GradePeriod
from tidsnok.access.policy import AccessDenied
from tidsnok.deadlines.queries import calendar_for
from tidsnok.org import scope
from tidsnok.org.models import Person, Role, RoleAssignment, Unit

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


@dataclass
class Statistics:
    first: date
    last: date
    rows: list[Row]
    total: rules.UnitMonth

    def months(self) -> list[date]:
        return sorted({r.month for r in self.rows})

    def trend(self) -> list[tuple[date, float]]:
        """The rate of the whole scope per month, for the chart."""
        by_month: dict[date, rules.UnitMonth] = {}
        for row in self.rows:
            by_month.setdefault(row.month, rules.UnitMonth(0, row.month)).add(row.cell)
        return [(m, by_month[m].rate) for m in sorted(by_month)]


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


def compute(actor, organisation, first: date, last: date, unit: Unit | None = None) -> Statistics:
    allowed = unit_scope(actor)
    units = Unit.objects.filter(organisation=organisation)
    if unit is not None:
        if allowed != scope.ALL and unit.pk not in allowed:
            raise AccessDenied("statistics")
        units = units.filter(path__startswith=unit.path)
    elif allowed != scope.ALL:
        units = units.filter(pk__in=list(allowed))
    unit_rows = list(units.values_list("id", "name", "parent_id"))
    unit_ids = [u for u, _n, _p in unit_rows]
    staff_filter = Q(unit_id__in=unit_ids) & (Q(end_date__isnull=True) | Q(end_date__gte=first)) & (
        Q(start_date__isnull=True) | Q(start_date__lte=last)
    )
    staff = list(Person.objects.filter(staff_filter).values_list("id", "unit_id", "position_percent", "start_date", "end_date"))
    percent = {pid: pct for pid, _u, pct, _s, _e in staff}
    unit_of = {pid: uid for pid, uid, _p, _s, _e in staff}
    # Subqueries rather than id lists: a large municipality has more people than
    # SQLite accepts as parameters.
    episode_qs = Episode.objects.filter(person__in=Person.objects.filter(staff_filter)).filter(
        start__lte=last
    ).filter(Q(end__isnull=True) | Q(end__gte=first))
    episodes = list(episode_qs.values_list("id", "person_id", "start", "end", "certified", "work_related", "period_start"))
    grades: dict[int, list[tuple[date, int]]] = {}
    for episode_id, from_date, grade in (
        GradePeriod.objects.filter(episode__in=episode_qs).order_by("from_date").values_list("episode_id", "from_date", "grade")
    ):
        grades.setdefault(episode_id, []).append((from_date, grade))
    rows = [
        rules.EpisodeRow(person_id, unit_of[person_id], start, end, certified, work_related, percent[person_id],
                         tuple(grades.get(episode_id, ())), period_start)
        for episode_id, person_id, start, end, certified, work_related, period_start in episodes
        if person_id in unit_of
    ]
    cells = rules.sick_leave_statistics(staff, rows, first, last, calendar_for(organisation.pk))
    headcount: dict[int, int] = {}
    for _pid, uid, _p, _s, _e in staff:
        headcount[uid] = headcount.get(uid, 0) + 1
    parents = {u: p for u, _n, p in unit_rows}
    # Merging stops at the top of what the actor may see: a parent outside her
    # scope is not shown, so a small unit there is left out instead.
    parents = {u: (p if p in parents else None) for u, p in parents.items()}
    merged = rules.merge_small_units(cells, parents, headcount, MINIMUM_GROUP)
    names = {u: n for u, n, _p in unit_rows}
    result_rows = sorted(
        (Row(unit_id, names.get(unit_id, ""), month, cell) for (unit_id, month), cell in merged.items()),
        key=lambda r: (r.unit_name, r.month),
    )
    total = rules.UnitMonth(0, first)
    for row in result_rows:
        total.add(row.cell)
    return Statistics(first, last, result_rows, total)


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
