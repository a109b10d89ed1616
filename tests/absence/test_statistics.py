"""Sick-leave statistics against a small example computed by hand."""

from datetime import date

import pytest

from tidsnok.absence import rules
from tidsnok.absence.statistics import compute
from tidsnok.access.policy import AccessDenied
from tidsnok.deadlines.calendar import WorkingCalendar


def test_the_rate_is_days_lost_over_possible_days_weighted_by_grade_and_position():
    # February 2027 has 20 working days (no holidays).
    staff = [(1, 10, 100, None, None), (2, 10, 50, None, None)]
    episodes = [
        # Person 1: 100 % from Mon 1 to Fri 5 February = 5 days lost.
        rules.EpisodeRow(1, 10, date(2027, 2, 1), date(2027, 2, 5), "self", "no", 100, ((date(2027, 2, 1), 100),),
                         date(2027, 2, 1)),
        # Person 2 (50 % position): 50 % sick 8–19 February = 10 working days × 0.5 × 0.5 = 2.5 days.
        rules.EpisodeRow(2, 10, date(2027, 2, 8), date(2027, 2, 19), "doctor", "partly", 50, ((date(2027, 2, 8), 50),),
                         date(2027, 2, 8)),
    ]
    cells = rules.sick_leave_statistics(staff, episodes, date(2027, 2, 1), date(2027, 2, 28), WorkingCalendar())
    cell = cells[(10, date(2027, 2, 1))]
    assert cell.possible_days == pytest.approx(20 + 10)
    assert cell.lost_days == pytest.approx(5 + 2.5)
    assert cell.rate == pytest.approx(25.0)
    assert cell.self_days == pytest.approx(5)
    assert cell.doctor_days == pytest.approx(2.5)
    assert cell.work_related_days == pytest.approx(2.5)
    assert cell.short_days == pytest.approx(7.5)


def test_days_after_the_employer_period_count_as_long_term():
    staff = [(1, 10, 100, None, None)]
    episode = rules.EpisodeRow(1, 10, date(2027, 1, 4), date(2027, 2, 26), "doctor", "no", 100,
                               ((date(2027, 1, 4), 100),), date(2027, 1, 4))
    cells = rules.sick_leave_statistics(staff, [episode], date(2027, 2, 1), date(2027, 2, 28), WorkingCalendar())
    # Day 17 of the period is 20 January: all of February is long-term.
    assert cells[(10, date(2027, 2, 1))].long_days == pytest.approx(20)
    assert cells[(10, date(2027, 2, 1))].short_days == 0


def test_units_with_fewer_than_five_people_are_merged_upwards():
    month = date(2027, 2, 1)
    cells = {
        (3, month): rules.UnitMonth(3, month, possible_days=40, lost_days=4, people=2),
        (2, month): rules.UnitMonth(2, month, possible_days=100, lost_days=5, people=5),
        (4, month): rules.UnitMonth(4, month, possible_days=20, lost_days=1, people=1),
    }
    parents = {1: None, 2: 1, 3: 2, 4: 1}
    merged = rules.merge_small_units(cells, parents, {2: 5, 3: 2, 4: 1, 1: 0})
    assert set(merged) == {(2, month)}  # 3 joins 2; 4 (1 person) and the empty top are too small
    assert merged[(2, month)].lost_days == 9


def test_statistics_for_a_manager_cover_her_units_and_hide_small_groups(world):
    from tidsnok.absence import services

    services.register_episode(world.user("marte"), person=world.emil, start=date(2026, 11, 2),
                              end=date(2026, 11, 6), certified="self")
    stats = compute(world.user("helga"), world.org, date(2026, 11, 1), date(2026, 11, 30))
    # Hjemmetjenesten has 5 people (Marte, Frode, Dina, Emil, Ella); Sykehjemmet's 3 merge into Helse.
    names = {row.unit_name for row in stats.rows}
    assert "Hjemmetjenesten" in names
    assert "Sykehjemmet" not in names


def test_an_employee_without_a_role_sees_no_statistics(world):
    with pytest.raises(AccessDenied):
        compute(world.user("emil"), world.org, date(2026, 11, 1), date(2026, 11, 30))


def test_the_safety_representative_sees_anonymised_statistics(world):
    stats = compute(world.user("siri"), world.org, date(2026, 11, 1), date(2026, 11, 30))
    assert all(row.cell.people >= 5 for row in stats.rows)
