"""Pure rules of sick-leave follow-up: employer periods, when a follow-up case
is needed, grades, recurrence and the sick-leave rate. No database here."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from tidsnok.deadlines.calendar import WorkingCalendar

EMPLOYER_PERIOD_DAYS = 16  # ftrl. § 8-19
# An episode that starts within 16 days after the previous one ended counts in
# the same employer period (ftrl. § 8-19 third paragraph).
CONTINUATION_GAP_DAYS = 16
SHORT_ABSENCE_MAX_DAYS = 16  # "short" vs "long" in the statistics: within the employer period


def continues_period(previous_end: date | None, start: date) -> bool:
    """Does an episode starting on `start` continue the employer period of one that ended on `previous_end`?"""
    if previous_end is None:
        return True  # the previous one is still open: this is the same absence
    gap = (start - previous_end).days - 1
    return gap <= CONTINUATION_GAP_DAYS


def period_start_for(start: date, earlier: Sequence[tuple[date, date | None, date]]) -> date:
    """Day 1 of the employer period for an episode starting on `start`, given the
    person's earlier episodes as (start, end, period_start), oldest first."""
    before = [e for e in earlier if e[0] < start]
    if not before:
        return start
    last_start, last_end, last_period = before[-1]
    return last_period if continues_period(last_end, start) else start


def needs_follow_up_case(certified: str, period_start: date, end: date | None, today: date) -> bool:
    """A doctor-certified absence longer than the employer period opens a follow-up case.

    An open-ended doctor certificate counts as long: its end is unknown, and the
    follow-up plan's clock (day 28) is already running; if it ends within the
    employer period, the remaining deadlines close as no longer required."""
    if certified != "doctor":
        return False
    if end is None:
        return True
    return (end - period_start).days + 1 > EMPLOYER_PERIOD_DAYS


def grade_on(grades: Sequence[tuple[date, int]], day: date) -> int | None:
    """The grade in force on `day` from (from_date, grade) pairs, oldest first."""
    current = None
    for from_date, grade in grades:
        if from_date <= day:
            current = grade
    return current


def is_full_leave(grades: Sequence[tuple[date, int]], until: date | None = None) -> bool:
    """100 % at any time (up to `until`): dialogue meeting 1 is then mandatory."""
    return any(grade >= 100 and (until is None or from_date <= until) for from_date, grade in grades)


def frequent_absence(starts: Iterable[date], on: date, threshold: int, window_months: int) -> bool:
    """Frequent absence: `threshold` or more episodes starting in the window ending `on`."""
    window_start = on - timedelta(days=round(window_months * 365.25 / 12))
    return sum(1 for s in starts if window_start < s <= on) >= threshold


def recurs_work_related(work_related_starts: Sequence[date], start: date) -> bool:
    """A second work-related episode within 12 months."""
    window_start = start - timedelta(days=365)
    return any(window_start <= s < start for s in work_related_starts)


# --- statistics (ftrl. § 25-2) ------------------------------------------------------------------


@dataclass(frozen=True)
class EpisodeRow:
    person_id: int
    unit_id: int
    start: date
    end: date | None
    certified: str
    work_related: str
    position_percent: int
    grades: tuple[tuple[date, int], ...]
    period_start: date


@dataclass
class UnitMonth:
    unit_id: int
    month: date  # first day of the month
    possible_days: float = 0.0  # working days × position share
    lost_days: float = 0.0  # working days absent × grade × position share
    short_days: float = 0.0
    long_days: float = 0.0
    self_days: float = 0.0
    doctor_days: float = 0.0
    work_related_days: float = 0.0
    people: int = 0

    @property
    def rate(self) -> float:
        return 100.0 * self.lost_days / self.possible_days if self.possible_days else 0.0

    def add(self, other: "UnitMonth") -> None:
        for field in ("possible_days", "lost_days", "short_days", "long_days", "self_days", "doctor_days",
                      "work_related_days"):
            setattr(self, field, getattr(self, field) + getattr(other, field))
        self.people += other.people


def month_starts(first: date, last: date) -> list[date]:
    months, current = [], first.replace(day=1)
    while current <= last:
        months.append(current)
        current = (current.replace(day=28) + timedelta(days=4)).replace(day=1)
    return months


def _month_end(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def working_days_in(calendar: WorkingCalendar, first: date, last: date) -> list[date]:
    days, current = [], first
    while current <= last:
        if calendar.is_working_day(current):
            days.append(current)
        current += timedelta(days=1)
    return days


def sick_leave_statistics(
    staff: Sequence[tuple[int, int, int, date | None, date | None]],
    episodes: Sequence[EpisodeRow],
    first: date,
    last: date,
    calendar: WorkingCalendar,
) -> dict[tuple[int, date], UnitMonth]:
    """Sick-leave rate per unit and month: days lost over possible working days,
    weighted by grade and position percentage (the SSB/NAV method of agreed days).

    `staff` rows are (person_id, unit_id, position_percent, start_date, end_date).
    A day counts as short-term absence while inside the first 16 days of the
    employer period, long-term after."""
    result: dict[tuple[int, date], UnitMonth] = {}
    months = month_starts(first, last)
    month_end = {m: _month_end(m) for m in months}  # once, not per episode and month (docs/performance.md)
    workdays = {m: working_days_in(calendar, max(m, first), min(month_end[m], last)) for m in months}
    for person_id, unit_id, percent, start_date, end_date in staff:
        share = percent / 100
        for m in months:
            days = [d for d in workdays[m] if (start_date is None or d >= start_date) and (end_date is None or d <= end_date)]
            if not days:
                continue
            cell = result.setdefault((unit_id, m), UnitMonth(unit_id, m))
            cell.possible_days += len(days) * share
            cell.people += 1
    for ep in episodes:
        share = ep.position_percent / 100
        ep_last = min(ep.end or last, last)
        for m in months:
            m_first, m_last = max(m, first, ep.start), min(month_end[m], ep_last)
            if m_first > m_last:
                continue
            cell = result.setdefault((ep.unit_id, m), UnitMonth(ep.unit_id, m))
            for d in workdays[m]:
                if d < m_first or d > m_last:
                    continue
                grade = grade_on(ep.grades, d) or 0
                lost = share * grade / 100
                if not lost:
                    continue
                cell.lost_days += lost
                if (d - ep.period_start).days + 1 <= SHORT_ABSENCE_MAX_DAYS:
                    cell.short_days += lost
                else:
                    cell.long_days += lost
                if ep.certified == "self":
                    cell.self_days += lost
                else:
                    cell.doctor_days += lost
                if ep.work_related in ("partly", "fully"):
                    cell.work_related_days += lost
    return result


def merge_small_units(cells: dict[tuple[int, date], UnitMonth], parents: dict[int, int | None],
                      headcount: dict[int, int], minimum: int = 5) -> dict[tuple[int, date], UnitMonth]:
    """Units with fewer than `minimum` people are merged into their parent, bottom
    up (a parent counts the people merged into it), so that nobody can be
    identified from the figures. What is still too small at the top is not shown."""

    def depth(unit_id):
        d = 0
        while parents.get(unit_id) is not None:
            unit_id, d = parents[unit_id], d + 1
        return d

    units = set(parents) | {u for u, _ in cells}
    effective = {u: headcount.get(u, 0) for u in units}
    merged_into: dict[int, int | None] = {}
    for unit_id in sorted(units, key=depth, reverse=True):
        if effective[unit_id] < minimum:
            parent = parents.get(unit_id)
            merged_into[unit_id] = parent
            if parent is not None:
                effective[parent] = effective.get(parent, 0) + effective[unit_id]

    def target(unit_id):
        while unit_id is not None and unit_id in merged_into:
            unit_id = merged_into[unit_id]
        return unit_id

    merged: dict[tuple[int, date], UnitMonth] = {}
    for (unit_id, month), cell in cells.items():
        to = target(unit_id)
        if to is None:
            continue
        out = merged.setdefault((to, month), UnitMonth(to, month))
        out.add(cell)
    return merged
