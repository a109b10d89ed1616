"""The arithmetic sick-leave statistics give the figures of the old day-by-day walk.

`reference_statistics` below is the implementation that walked every working day of every
episode (before the statistics were made fast), kept here unchanged as the reference. Random
organisations, periods and episodes (grades that change, position percentages, closed days,
public holidays, employment that starts or ends inside the period, episodes across month and
period boundaries, open-ended ones) must give the same cells with the same figures."""

import random
from datetime import date, timedelta

import pytest

from tidsnok.absence import rules
from tidsnok.deadlines.calendar import WorkingCalendar

# --- the reference: the day-by-day implementation, as it was ----------------------------------


def _grade_on(grades, day):
    current = None
    for from_date, grade in grades:
        if from_date <= day:
            current = grade
    return current


def _month_end(month):
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def _working_days_in(calendar, first, last):
    days, current = [], first
    while current <= last:
        if calendar.is_working_day(current):
            days.append(current)
        current += timedelta(days=1)
    return days


def reference_statistics(staff, episodes, first, last, calendar):
    result = {}
    months = rules.month_starts(first, last)
    month_end = {m: _month_end(m) for m in months}
    workdays = {m: _working_days_in(calendar, max(m, first), min(month_end[m], last)) for m in months}
    for person_id, unit_id, percent, start_date, end_date in staff:
        share = percent / 100
        for m in months:
            days = [d for d in workdays[m] if (start_date is None or d >= start_date) and (end_date is None or d <= end_date)]
            if not days:
                continue
            cell = result.setdefault((unit_id, m), rules.UnitMonth(unit_id, m))
            cell.possible_days += len(days) * share
            cell.people += 1
    for ep in episodes:
        share = ep.position_percent / 100
        ep_last = min(ep.end or last, last)
        for m in months:
            m_first, m_last = max(m, first, ep.start), min(month_end[m], ep_last)
            if m_first > m_last:
                continue
            cell = result.setdefault((ep.unit_id, m), rules.UnitMonth(ep.unit_id, m))
            for d in workdays[m]:
                if d < m_first or d > m_last:
                    continue
                grade = _grade_on(ep.grades, d) or 0
                lost = share * grade / 100
                if not lost:
                    continue
                cell.lost_days += lost
                if (d - ep.period_start).days + 1 <= rules.SHORT_ABSENCE_MAX_DAYS:
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


# --- random organisations -----------------------------------------------------------------------

FIGURES = ("possible_days", "lost_days", "short_days", "long_days", "self_days", "doctor_days", "work_related_days")


def _random_day(rng, first, last):
    return first + timedelta(days=rng.randint(0, (last - first).days))


def _random_case(rng: random.Random):
    # Periods from a day to over a year, often across Easter, Christmas and month ends.
    first = date(2025, 1, 1) + timedelta(days=rng.randint(0, 700))
    if rng.random() < 0.2:
        first = first.replace(day=1)
    last = first + timedelta(days=rng.choice([0, 1, 6, 27, 30, 45, 90, 200, 365, 400]) + rng.randint(0, 5))
    around_first, around_last = first - timedelta(days=120), last + timedelta(days=60)
    closed = {_random_day(rng, around_first, around_last) for _ in range(rng.randint(0, 8))}
    units = list(range(10, 10 + rng.randint(1, 4)))
    staff, episodes = [], []
    for person_id in range(1, rng.randint(1, 25)):
        unit_id = rng.choice(units)
        percent = rng.choice([100, 100, 100, 80, 75, 60, 50, 33, 20, 0])
        start_date = None if rng.random() < 0.6 else _random_day(rng, around_first, around_last)
        end_date = None if rng.random() < 0.7 else _random_day(rng, start_date or around_first, around_last)
        staff.append((person_id, unit_id, percent, start_date, end_date))
        day = around_first
        for _ in range(rng.randint(0, 6)):
            start = day + timedelta(days=rng.randint(0, 60))
            length = rng.choice([1, 2, 3, 5, 10, 16, 17, 20, 40, 90, 200])
            end = None if rng.random() < 0.1 else start + timedelta(days=length - 1)
            # Day 1 of the employer period: often the start, sometimes an earlier episode's.
            period_start = start if rng.random() < 0.7 else start - timedelta(days=rng.randint(1, 40))
            grades = []
            grade_day = start if rng.random() < 0.9 else start + timedelta(days=rng.randint(1, 10))
            for _ in range(rng.choice([1, 1, 1, 2, 3, 4])):
                grades.append((grade_day, rng.choice([100, 100, 50, 40, 20, 60, 80, 0, 33])))
                grade_day += timedelta(days=rng.randint(1, 45))
            episodes.append(rules.EpisodeRow(
                person_id, unit_id, start, end, rng.choice(["self", "doctor"]),
                rng.choice(["no", "no", "partly", "fully"]), percent, tuple(grades), period_start,
            ))
            if end is None:
                break
            day = end + timedelta(days=1)
    return staff, episodes, first, last, WorkingCalendar(closed_days=closed)


def _assert_same(new, old):
    assert set(new) == set(old)
    for key, expected in old.items():
        got = new[key]
        assert (got.unit_id, got.month, got.people) == (expected.unit_id, expected.month, expected.people), key
        for field in FIGURES:
            # Exact sums, divided once, against a running float sum: equal but for the last bits.
            assert getattr(got, field) == pytest.approx(getattr(expected, field), rel=1e-12, abs=1e-9), (key, field)


@pytest.mark.parametrize("seed", range(400))
def test_the_arithmetic_statistics_equal_the_day_by_day_walk(seed):
    staff, episodes, first, last, calendar = _random_case(random.Random(seed))
    _assert_same(rules.sick_leave_statistics(staff, episodes, first, last, calendar),
                 reference_statistics(staff, episodes, first, last, calendar))


def test_grades_given_out_of_date_order_are_read_as_before():
    # grade_on() takes the last pair in force in list order; the arithmetic must too.
    first, last = date(2027, 3, 1), date(2027, 4, 30)
    staff = [(1, 10, 80, None, None)]
    grades = ((date(2027, 3, 20), 50), (date(2027, 3, 1), 100), (date(2027, 4, 5), 20))
    episodes = [rules.EpisodeRow(1, 10, date(2027, 3, 1), None, "doctor", "fully", 80, grades, date(2027, 3, 1))]
    calendar = WorkingCalendar()
    _assert_same(rules.sick_leave_statistics(staff, episodes, first, last, calendar),
                 reference_statistics(staff, episodes, first, last, calendar))


def test_an_episode_outside_the_period_or_a_period_without_days_gives_nothing_new():
    calendar = WorkingCalendar()
    staff = [(1, 10, 100, None, None)]
    before = rules.EpisodeRow(1, 10, date(2027, 1, 4), date(2027, 1, 8), "self", "no", 100,
                              ((date(2027, 1, 4), 100),), date(2027, 1, 4))
    first, last = date(2027, 2, 1), date(2027, 2, 28)
    _assert_same(rules.sick_leave_statistics(staff, [before], first, last, calendar),
                 reference_statistics(staff, [before], first, last, calendar))
    # A weekend: the month has a cell for the episode but no possible days.
    saturday = date(2027, 2, 6)
    weekend = rules.EpisodeRow(1, 10, saturday, saturday, "self", "no", 100, ((saturday, 100),), saturday)
    _assert_same(rules.sick_leave_statistics(staff, [weekend], saturday, date(2027, 2, 7), calendar),
                 reference_statistics(staff, [weekend], saturday, date(2027, 2, 7), calendar))
    assert rules.sick_leave_statistics(staff, [before], last, first, calendar) == {}


def test_staff_employed_over_the_same_days_are_summed_into_one_group():
    first, last = date(2027, 1, 1), date(2027, 12, 31)
    groups = rules.staff_groups([
        (1, 10, 100, None, None), (2, 10, 50, date(2010, 1, 1), None), (3, 10, 80, None, date(2030, 1, 1)),
        (4, 10, 100, date(2027, 6, 1), None), (5, 11, 100, None, None),
    ], first, last)
    assert sorted(groups, key=lambda g: (g.unit_id, g.first)) == [
        rules.StaffGroup(10, first, last, 230, 3), rules.StaffGroup(10, date(2027, 6, 1), last, 100, 1),
        rules.StaffGroup(11, first, last, 100, 1),
    ]
