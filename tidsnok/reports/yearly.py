"""The organisation's yearly figures of the work environment, for the working environment
committee (AMU takes part in the HMS action plan and reports on its work every year, aml § 7-2
and DOMAIN §7), HR for the whole organisation and the administrators.

Counts and rates only, over the whole organisation, never a name, a unit or a case: AMU members
may not read the cases themselves. Each room counts its own (cases, notify, absence, risk); this
module only puts them together.
"""

from dataclasses import dataclass, field
from datetime import date

from django.core.cache import cache

from tidsnok.absence import statistics
from tidsnok.caching import seconds_left_today
from tidsnok.cases import services as case_services
from tidsnok.cases.models import Kind
from tidsnok.notify import compliance
from tidsnok.org import scope
from tidsnok.org.models import Organisation, Role
from tidsnok.risk import coverage
from tidsnok.risk import services as risk_services

# The report's order: the psychosocial kinds first, then whistleblowing and sick leave.
KINDS = (Kind.PSYCHOSOCIAL, Kind.CONFLICT, Kind.HARASSMENT, Kind.VIOLENCE, Kind.WHISTLEBLOWING, Kind.SICK_LEAVE)
FIRST_YEAR = 2000
CACHE_FORMAT = 1  # raise when the cached figures change shape: old entries are then never read


def may_view(user) -> bool:
    if scope.person_of(user) is None:
        return False
    return scope.hr_scope(user) == scope.ALL or scope.is_admin(user) or Role.AMU in scope.roles_of(user)


@dataclass
class KindRow:
    kind: str
    registered: int = 0
    closed: int = 0
    open_at_end: int = 0
    on_time: int = 0  # employer deadlines due in the period and met on time
    late: int = 0  # met late, missed, or still open after the due date

    @property
    def label(self) -> str:
        return Kind(self.kind).label if self.kind else ""

    @property
    def percent(self) -> int | None:
        judged = self.on_time + self.late
        return round(100 * self.on_time / judged) if judged else None


@dataclass
class Absence:
    rate: float
    possible_days: float
    lost_days: float
    shares: dict[str, float]  # short, long, self, doctor, work_related: % of possible days
    trend: list[tuple[date, float]] = field(default_factory=list)


@dataclass
class YearlyReport:
    year: int
    first: date
    last: date  # the year's last day, or today for the year that runs
    kinds: list[KindRow]
    total: KindRow
    absence: Absence
    risk: dict[str, int]
    coverage: dict[str, int] | None  # the units' states today; None if the user has no coverage view

    @property
    def partial(self) -> bool:
        return self.last < date(self.year, 12, 31)


def years(today: date) -> list[int]:
    """The years offered, newest first: this one and the four before."""
    return list(range(today.year, today.year - 5, -1))


def _case_figures(organisation_id: int, first: date, last: date, today: date) -> tuple[dict, dict]:
    """The cases per kind and their deadlines, from the shared cache while the organisation's
    DeadlineVersion stands: it grows with every case registered, closed or deleted and every
    deadline changed. Counting them walks every deadline of the organisation (140 ms of SQLite at
    50,000 employees). The version is read before counting: never older than it says."""
    version = case_services.deadlines_version(organisation_id)
    key = f"reports.yearly:{CACHE_FORMAT}:{organisation_id}:{first.isoformat()}:{last.isoformat()}:{today.isoformat()}"
    found = cache.get(key)
    if found is not None and found[0] == version:
        return found[1]
    figures = (case_services.kind_counts(organisation_id, first, last),
               compliance.counts_by_kind(organisation_id, first, last, today))
    cache.set(key, (version, figures), seconds_left_today())
    return figures


def build(user, year: int, today: date) -> YearlyReport:
    """The figures of `year` (up to today for the current year). The caller checks may_view."""
    if not FIRST_YEAR <= year <= today.year:
        raise ValueError(year)
    organisation = Organisation.objects.get(pk=scope.organisation_id_of(user))
    first, last = date(year, 1, 1), min(date(year, 12, 31), today)
    counted, deadlines = _case_figures(organisation.pk, first, last, today)
    rows, total = [], KindRow("")
    for kind in KINDS:
        cases = counted.get(kind, {})
        _open, _overdue, on_time, late = deadlines.get(kind, [0, 0, 0, 0])
        row = KindRow(kind, cases.get("registered", 0), cases.get("closed", 0), cases.get("open_at_end", 0),
                      on_time, late)
        rows.append(row)
        for name in ("registered", "closed", "open_at_end", "on_time", "late"):
            setattr(total, name, getattr(total, name) + getattr(row, name))
    stats = statistics.compute(user, organisation, first, last)
    figures = stats.total

    def share(days: float) -> float:
        return 100.0 * days / figures.possible_days if figures.possible_days else 0.0

    absence = Absence(figures.rate, figures.possible_days, figures.lost_days, {
        "short": share(figures.short_days), "long": share(figures.long_days), "self": share(figures.self_days),
        "doctor": share(figures.doctor_days), "work_related": share(figures.work_related_days),
    }, stats.trend())
    states = coverage.summary(coverage.coverage(user, today)) if coverage.may_view(user) else None
    return YearlyReport(year, first, last, rows, total, absence,
                        risk_services.year_counts(organisation.pk, first, last, today), states)
