"""Pure rules of sick-leave follow-up: employer periods, when a follow-up case
is needed, grades, recurrence and the sick-leave rate. No database here."""

from calendar import monthrange
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import NamedTuple

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


def frequent_window_start(on: date, window_months: int) -> date:
    """The day before the window of `window_months` calendar months that ends `on`
    (29 February a year back is 28 February)."""
    months = on.year * 12 + on.month - 1 - window_months
    year, month = divmod(months, 12)
    month += 1
    return date(year, month, min(on.day, monthrange(year, month)[1]))


def frequent_absence(starts: Iterable[date], on: date, threshold: int, window_months: int) -> bool:
    """Frequent absence: `threshold` or more episodes starting in the window ending `on`."""
    window_start = frequent_window_start(on, window_months)
    return sum(1 for s in starts if window_start < s <= on) >= threshold


def recurs_work_related(work_related_starts: Sequence[date], start: date) -> bool:
    """A second work-related episode within 12 months."""
    window_start = start - timedelta(days=365)
    return any(window_start <= s < start for s in work_related_starts)


# --- statistics (ftrl. § 25-2) ------------------------------------------------------------------
#
# The figures are sums over working days, but nothing here walks the days: the working days of
# the period are counted once (a running count per day), so that the working days of any range
# inside it are one subtraction, and an episode is cut into the few ranges over which nothing
# changes (month, grade, short or long term). Sums are kept exact in whole units (position
# percent × working days, and × grade for days lost) and divided once at the end.


class EpisodeRow(NamedTuple):  # a named tuple: a large organisation has a hundred thousand a year
    person_id: int
    unit_id: int
    start: date
    end: date | None
    certified: str
    work_related: str
    position_percent: int
    grades: tuple[tuple[date, int], ...]
    period_start: date


class EpisodeDays(NamedTuple):
    """An EpisodeRow as the computation reads it: its dates as day numbers (date.toordinal()),
    which the database can give directly, the grades (from_day, grade) oldest first."""

    unit_id: int
    start: int
    end: int | None
    certified: str
    work_related: str
    position_percent: int
    grades: tuple[tuple[int, int], ...]
    period_start: int


def episode_days(ep: EpisodeRow) -> EpisodeDays:
    return EpisodeDays(ep.unit_id, ep.start.toordinal(), None if ep.end is None else ep.end.toordinal(), ep.certified,
                       ep.work_related, ep.position_percent,
                       tuple((from_date.toordinal(), grade) for from_date, grade in ep.grades),
                       ep.period_start.toordinal())


class StaffGroup(NamedTuple):
    """People of one unit employed over the same days of the period (`first`..`last`, already
    clipped to it), summed: the statistics only need their position percentages and how many
    they are. Most people of a unit are employed over the whole period and form one group."""

    unit_id: int
    first: date
    last: date
    percent: int  # the sum of their position percentages
    people: int


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
        self.possible_days += other.possible_days
        self.lost_days += other.lost_days
        self.short_days += other.short_days
        self.long_days += other.long_days
        self.self_days += other.self_days
        self.doctor_days += other.doctor_days
        self.work_related_days += other.work_related_days
        self.people += other.people


def month_starts(first: date, last: date) -> list[date]:
    months, current = [], first.replace(day=1)
    while current <= last:
        months.append(current)
        current = (current.replace(day=28) + timedelta(days=4)).replace(day=1)
    return months


def _month_end(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def staff_groups(staff: Iterable[tuple[int, int, int, date | None, date | None]], first: date,
                 last: date) -> list[StaffGroup]:
    """(person_id, unit_id, position_percent, start_date, end_date) rows summed into StaffGroups."""
    sums: dict[tuple[int, date, date], list[int]] = {}
    for _person_id, unit_id, percent, start_date, end_date in staff:
        key = (unit_id, first if start_date is None or start_date < first else start_date,
               last if end_date is None or end_date > last else end_date)
        group = sums.get(key)
        if group is None:
            sums[key] = [percent, 1]
        else:
            group[0] += percent
            group[1] += 1
    return [StaffGroup(unit_id, s, e, percent, people) for (unit_id, s, e), (percent, people) in sums.items()]


class _Period:
    """The days of [first, last] as day numbers (date ordinals): for each, how many working days
    come before it in the period and which month (index into `months`) it is in."""

    def __init__(self, calendar: WorkingCalendar, first: date, last: date):
        self.months = month_starts(first, last)
        self.origin = first.toordinal()
        self.end = last.toordinal()
        # The first and last day of each month within the period.
        self.month_first = [max(m, first).toordinal() for m in self.months]
        self.month_last = [min(_month_end(m), last).toordinal() for m in self.months]
        running, month_of, count = [0], [], 0
        for index, (m_first, m_last) in enumerate(zip(self.month_first, self.month_last)):
            day = date.fromordinal(m_first)
            for _ in range(m_last - m_first + 1):
                if calendar.is_working_day(day):
                    count += 1
                running.append(count)
                month_of.append(index)
                day += timedelta(days=1)
        self.running = running  # running[i] = working days among the period's first i days
        self.month_of = month_of


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
    return sick_leave_cells(staff_groups(staff, first, last), [episode_days(ep) for ep in episodes], first, last,
                            calendar)


def sick_leave_cells(
    groups: Iterable[StaffGroup],
    episodes: Iterable[EpisodeDays | tuple],
    first: date,
    last: date,
    calendar: WorkingCalendar,
) -> dict[tuple[int, date], UnitMonth]:
    """sick_leave_statistics() with the staff summed into groups (see staff_groups) and the
    episodes' dates as day numbers (see episode_days)."""
    if last < first:
        return {}
    period = _Period(calendar, first, last)
    origin, end = period.origin, period.end
    running, month_of = period.running, period.month_of
    month_first, month_last = period.month_first, period.month_last
    # (unit, month index) -> [possible, people, lost, short, long, self, doctor, work-related], in
    # percent-days (possible) and percent × percent days (the rest).
    sums: dict[tuple[int, int], list[int]] = {}

    def cell(unit_id: int, index: int) -> list[int]:
        found = sums.get((unit_id, index))
        if found is None:
            found = sums[(unit_id, index)] = [0, 0, 0, 0, 0, 0, 0, 0]
        return found

    for group in groups:
        a = max(group.first, first).toordinal()
        b = min(group.last, last).toordinal()
        if a > b:
            continue
        for index in range(month_of[a - origin], month_of[b - origin] + 1):
            lo, hi = max(a, month_first[index]), min(b, month_last[index])
            days = running[hi - origin + 1] - running[lo - origin]
            if days:
                totals = cell(group.unit_id, index)
                totals[0] += days * group.percent
                totals[1] += group.people

    for unit_id, lo, hi, certified, work_related, weight, grades, period_start in episodes:
        if lo < origin:
            lo = origin
        if hi is None or hi > end:
            hi = end
        if lo > hi:
            continue
        first_index, last_index = month_of[lo - origin], month_of[hi - origin]
        long_from = period_start + SHORT_ABSENCE_MAX_DAYS  # the first long-term day
        if first_index == last_index and len(grades) == 1 and grades[0][0] <= lo and not lo < long_from <= hi:
            # Most episodes: within a month, one grade, all short-term or all long-term.
            totals = sums.get((unit_id, first_index))  # a cell even if no working day is lost
            if totals is None:
                totals = sums[(unit_id, first_index)] = [0, 0, 0, 0, 0, 0, 0, 0]
            grade = grades[0][1]
            days = running[hi + 1 - origin] - running[lo - origin]
            if grade and days:
                lost = days * weight * grade
                totals[2] += lost
                totals[3 if lo < long_from else 4] += lost
                totals[5 if certified == "self" else 6] += lost
                if work_related in ("partly", "fully"):
                    totals[7] += lost
            continue
        # Every month the episode touches has a cell, even if no working day is lost in it.
        cells = [cell(unit_id, index) for index in range(first_index, last_index + 1)]
        cuts = [lo]
        if last_index > first_index:
            cuts.extend(month_first[first_index + 1:last_index + 1])
        if lo < long_from <= hi:
            cuts.append(long_from)
        for from_day, _grade in grades:
            if lo < from_day <= hi:
                cuts.append(from_day)
        if len(cuts) > 1:
            cuts = sorted(set(cuts))
        cuts.append(hi + 1)
        self_certified = certified == "self"
        related = work_related in ("partly", "fully")
        for i in range(len(cuts) - 1):
            a = cuts[i]
            grade = None  # as grade_on(): the last (from_date, grade) in force on day a
            for from_day, g in grades:
                if from_day <= a:
                    grade = g
            if not grade:
                continue
            days = running[cuts[i + 1] - origin] - running[a - origin]
            if not days:
                continue
            lost = days * weight * grade
            totals = cells[month_of[a - origin] - first_index]
            totals[2] += lost
            totals[3 if a < long_from else 4] += lost
            totals[5 if self_certified else 6] += lost
            if related:
                totals[7] += lost

    months = period.months
    return {
        (unit_id, months[index]): UnitMonth(
            unit_id, months[index], possible_days=t[0] / 100, lost_days=t[2] / 10000, short_days=t[3] / 10000,
            long_days=t[4] / 10000, self_days=t[5] / 10000, doctor_days=t[6] / 10000,
            work_related_days=t[7] / 10000, people=t[1],
        )
        for (unit_id, index), t in sums.items()
    }


def merge_small_units(cells: dict[tuple[int, date], UnitMonth], parents: dict[int, int | None],
                      headcount: dict[int, int], minimum: int = 5) -> dict[tuple[int, date], UnitMonth]:
    """Units with fewer than `minimum` people are merged into their parent, bottom
    up (a parent counts the people merged into it), so that nobody can be
    identified from the figures. What is still too small at the top is not shown."""
    depths: dict[int, int] = {}

    def depth(unit_id):
        found = depths.get(unit_id)
        if found is None:
            parent = parents.get(unit_id)
            found = depths[unit_id] = 0 if parent is None else depth(parent) + 1
        return found

    units = set(parents) | {u for u, _ in cells}
    effective = {u: headcount.get(u, 0) for u in units}
    merged_into: dict[int, int | None] = {}
    for unit_id in sorted(units, key=depth, reverse=True):
        if effective[unit_id] < minimum:
            parent = parents.get(unit_id)
            merged_into[unit_id] = parent
            if parent is not None:
                effective[parent] = effective.get(parent, 0) + effective[unit_id]

    targets: dict[int, int | None] = {}

    def target(unit_id):
        if unit_id not in targets:
            current = unit_id
            while current is not None and current in merged_into:
                current = merged_into[current]
            targets[unit_id] = current
        return targets[unit_id]

    merged: dict[tuple[int, date], UnitMonth] = {}
    for (unit_id, month), cell in cells.items():
        to = target(unit_id)
        if to is None:
            continue
        out = merged.get((to, month))
        if out is None:
            out = merged[(to, month)] = UnitMonth(to, month)
        out.add(cell)
    return merged
