"""The Norwegian working-day calendar: weekends, public holidays and an organisation's closed days."""

from datetime import date, timedelta

from tidsnok.deadlines.calendar import CLOSED, WEEKEND, WorkingCalendar, holiday_name

CAL = WorkingCalendar()


def test_it_lists_exactly_the_norwegian_public_holidays_of_2027():
    holidays_2027 = {
        d for d in (date(2027, 1, 1) + timedelta(days=i) for i in range(365)) if holiday_name(d)
    }
    assert holidays_2027 == {
        date(2027, 1, 1),  # 1. nyttårsdag
        date(2027, 3, 25),  # skjærtorsdag
        date(2027, 3, 26),  # langfredag
        date(2027, 3, 28),  # 1. påskedag
        date(2027, 3, 29),  # 2. påskedag
        date(2027, 5, 1),  # arbeidernes dag
        date(2027, 5, 6),  # Kristi himmelfartsdag
        date(2027, 5, 16),  # 1. pinsedag
        date(2027, 5, 17),  # grunnlovsdag and 2. pinsedag
        date(2027, 12, 25),  # 1. juledag
        date(2027, 12, 26),  # 2. juledag
    }


def test_it_does_not_count_ordinary_sundays_as_public_holidays():
    # Some versions of `holidays` can list every Sunday as a Norwegian holiday; only the real
    # holidays that fall on a Sunday may appear.
    sundays_2026 = [date(2026, 1, 4) + timedelta(weeks=i) for i in range(52)]
    assert {d for d in sundays_2026 if holiday_name(d)} == {
        date(2026, 4, 5),  # 1. påskedag
        date(2026, 5, 17),  # grunnlovsdag
        date(2026, 5, 24),  # 1. pinsedag
    }


def test_saturday_and_sunday_are_never_working_days():
    assert CAL.non_working_reason(date(2026, 3, 7)) == WEEKEND
    assert CAL.non_working_reason(date(2026, 3, 8)) == WEEKEND
    assert CAL.is_working_day(date(2026, 3, 9))


def test_christmas_eve_and_new_years_eve_are_working_days_by_law():
    assert holiday_name(date(2026, 12, 24)) is None
    assert holiday_name(date(2026, 12, 31)) is None
    assert CAL.is_working_day(date(2026, 12, 24))
    assert CAL.is_working_day(date(2026, 12, 31))
    assert holiday_name(date(2026, 12, 25)) == "Første juledag"
    assert holiday_name(date(2026, 12, 26)) == "Andre juledag"
    assert holiday_name(date(2027, 1, 1)) == "Første nyttårsdag"


def test_one_working_day_after_23_december_2026_is_christmas_eve():
    assert CAL.add_working_days(date(2026, 12, 23), 1) == date(2026, 12, 24)
    assert CAL.add_working_days(date(2026, 12, 23), 2) == date(2026, 12, 28)


def test_an_organisation_closed_on_christmas_eve_moves_the_deadline_to_28_december():
    closed = WorkingCalendar(closed_days=[date(2026, 12, 24)])
    assert closed.add_working_days(date(2026, 12, 23), 1) == date(2026, 12, 28)
    assert closed.non_working_reason(date(2026, 12, 24)) == CLOSED


def test_new_years_day_2027_pushes_the_deadline_to_monday_4_january():
    assert CAL.add_working_days(date(2026, 12, 31), 1) == date(2027, 1, 4)


def test_easter_2027_skips_from_wednesday_to_the_tuesday_after_easter_monday():
    assert CAL.add_working_days(date(2027, 3, 24), 1) == date(2027, 3, 30)
    assert CAL.working_days_between(date(2027, 3, 24), date(2027, 3, 30)) == 1


def test_17_may_2027_is_a_monday_holiday_shared_with_whit_monday():
    assert CAL.add_working_days(date(2027, 5, 14), 1) == date(2027, 5, 18)
    reason = CAL.non_working_reason(date(2027, 5, 17))
    assert "Grunnlovsdag" in reason and "Andre pinsedag" in reason


def test_17_may_2026_is_a_sunday_and_costs_no_working_day():
    assert CAL.non_working_reason(date(2026, 5, 17)) == WEEKEND
    assert CAL.add_working_days(date(2026, 5, 15), 1) == date(2026, 5, 18)


def test_ascension_day_is_skipped():
    assert CAL.add_working_days(date(2026, 5, 13), 1) == date(2026, 5, 15)
    assert CAL.add_working_days(date(2027, 5, 5), 1) == date(2027, 5, 7)
    assert CAL.non_working_reason(date(2027, 5, 6)) == "Kristi himmelfartsdag"


def test_whit_monday_2026_is_skipped():
    assert CAL.add_working_days(date(2026, 5, 22), 1) == date(2026, 5, 26)


def test_the_leap_day_2028_is_an_ordinary_working_day():
    assert CAL.is_working_day(date(2028, 2, 29))
    assert CAL.add_working_days(date(2028, 2, 28), 1) == date(2028, 2, 29)
    assert CAL.working_days_between(date(2028, 2, 25), date(2028, 3, 3)) == 5


def test_zero_working_days_means_the_start_day_or_the_next_working_day():
    assert CAL.add_working_days(date(2027, 3, 24), 0) == date(2027, 3, 24)
    assert CAL.add_working_days(date(2027, 3, 25), 0) == date(2027, 3, 30)


def test_negative_working_days_count_backwards():
    assert CAL.add_working_days(date(2027, 3, 30), -1) == date(2027, 3, 24)
    assert CAL.working_days_between(date(2027, 3, 30), date(2027, 3, 24)) == -1


def test_working_days_between_counts_the_end_but_not_the_start():
    assert CAL.working_days_between(date(2026, 3, 9), date(2026, 3, 9)) == 0
    assert CAL.working_days_between(date(2026, 3, 9), date(2026, 3, 10)) == 1
    assert CAL.working_days_between(date(2026, 3, 6), date(2026, 3, 9)) == 1


def test_adding_and_counting_working_days_agree_for_every_start_in_2026_to_2028():
    d = date(2026, 1, 1)
    while d < date(2029, 1, 1):
        for n in (1, 2, 5, 10, 30):
            due = CAL.add_working_days(d, n)
            assert CAL.is_working_day(due), (d, n)
            assert CAL.working_days_between(d, due) == n, (d, n)
        d += timedelta(days=1)


def test_a_holiday_that_is_also_a_closed_day_is_explained_as_the_holiday():
    closed = WorkingCalendar(closed_days=[date(2027, 3, 25)])
    assert closed.non_working_reason(date(2027, 3, 25)) == "Skjærtorsdag"


def test_holiday_names_are_available_in_english():
    assert CAL.non_working_reason(date(2027, 3, 26), "en") == "Good Friday"
    assert holiday_name(date(2027, 5, 6), "en") == "Ascension Day"
