"""Due dates computed from rules, with the explanation that answers "why this date?"."""

import json
from datetime import date, timedelta

import pytest

from tidsnok.deadlines.calendar import WorkingCalendar
from tidsnok.deadlines.rules import (
    add_months,
    compute_due,
    day_number_date,
    explain_text,
    find_rule,
    nth_sick_pay_day,
    rules_for,
)

CAL = WorkingCalendar()


def due_dates(kind, start, calendar=CAL):
    # "HR involved" and a retaliation check start on events these timelines do not have.
    return {
        rule.id: compute_due(rule, start, calendar).due
        for rule in rules_for(kind, start)
        if rule.trigger not in ("hr_involved", "retaliation_change")
    }


def due_of(rule_id, start, calendar=CAL):
    return compute_due(find_rule(rule_id, start), start, calendar)


def test_a_harassment_claim_known_the_wednesday_before_easter_2027_needs_hr_by_tuesday_30_march():
    assert due_dates("harassment", date(2027, 3, 24)) == {
        "harassment.hr_involved": date(2027, 3, 30),
        "harassment.protective_measures": date(2027, 3, 31),
        "harassment.both_sides_heard": date(2027, 4, 12),
        "harassment.conclusion": date(2027, 5, 11),
    }


def test_the_easter_explanation_names_every_skipped_day_in_bokmal():
    due = due_of("harassment.hr_involved", date(2027, 3, 24))
    assert due.text("nb") == (
        "Start 24.03.2027 + 1 arbeidsdag = 30.03.2027 (hoppet over: 25.03 Skjærtorsdag, "
        "26.03 Langfredag, 27.03–28.03 helg, 29.03 Andre påskedag)"
    )


def test_the_easter_explanation_names_every_skipped_day_in_english():
    due = due_of("harassment.hr_involved", date(2027, 3, 24))
    assert due.text("en") == (
        "Start 24.03.2027 + 1 working day = 30.03.2027 (skipped: 25.03 Maundy Thursday, "
        "26.03 Good Friday, 27.03–28.03 weekend, 29.03 Easter Monday)"
    )


def test_the_explanation_carries_rule_basis_and_skipped_days():
    explanation = due_of("harassment.hr_involved", date(2027, 3, 24)).explanation
    assert explanation["rule"] == "harassment.hr_involved"
    assert explanation["basis"] == "policy default"
    assert explanation["duty_basis"] == "aml § 4-3 (5); likestillings- og diskrimineringsloven § 13"
    assert explanation["start"] == "2027-03-24"
    assert explanation["due"] == "2027-03-30"
    assert explanation["unit"] == "working_days"
    assert explanation["offset"] == 1
    assert explanation["skipped"] == [
        ["2027-03-25", "Skjærtorsdag"],
        ["2027-03-26", "Langfredag"],
        ["2027-03-27", "weekend"],
        ["2027-03-28", "weekend"],
        ["2027-03-29", "Andre påskedag"],
    ]


def test_a_stored_explanation_renders_the_same_sentence_after_a_json_round_trip():
    due = due_of("harassment.conclusion", date(2027, 3, 24))
    stored = json.loads(json.dumps(due.explanation))
    assert explain_text(stored, "nb") == due.text("nb")
    assert explain_text(stored, "en") == due.text("en")


def test_a_concern_known_before_christmas_2026_counts_christmas_eve_but_not_the_holidays():
    assert due_dates("psychosocial", date(2026, 12, 23)) == {
        "psychosocial.first_conversation": date(2026, 12, 31),
        "psychosocial.assessment": date(2027, 1, 8),
        "psychosocial.measure_follow_up": date(2027, 1, 22),
        "psychosocial.review": date(2027, 1, 22),
    }


def test_violence_on_a_friday_is_followed_up_on_monday():
    assert due_of("violence.follow_up_affected", date(2026, 3, 13)).due == date(2026, 3, 16)


def test_violence_before_17_may_2027_is_followed_up_on_18_may():
    due = due_of("violence.follow_up_affected", date(2027, 5, 14))
    assert due.due == date(2027, 5, 18)
    assert due.text("nb").endswith("(hoppet over: 15.05–16.05 helg, 17.05 Andre pinsedag; Grunnlovsdag)")


def test_an_organisation_closed_day_is_named_in_the_explanation():
    closed = WorkingCalendar(closed_days=[date(2026, 12, 24)])
    due = due_of("harassment.hr_involved", date(2026, 12, 23), closed)
    assert due.due == date(2026, 12, 28)
    assert due.text("nb") == (
        "Start 23.12.2026 + 1 arbeidsdag = 28.12.2026 "
        "(hoppet over: 24.12 stengt, 25.12 Første juledag, 26.12–27.12 helg)"
    )


def test_the_sick_leave_timeline_for_a_full_leave_from_1_december_2026():
    assert due_dates("sick_leave", date(2026, 12, 1)) == {
        "sick_leave.employer_period_ends": date(2026, 12, 16),
        "sick_leave.follow_up_plan": date(2026, 12, 28),
        "sick_leave.plan_to_doctor": date(2026, 12, 28),
        "sick_leave.job_side_measure": date(2026, 12, 28),
        "sick_leave.dialogue_meeting_1": date(2027, 1, 18),
        "sick_leave.activity_requirement": date(2027, 1, 25),
        "sick_leave.nav_dialogue_meeting_2_question": date(2027, 3, 22),
        "sick_leave.dialogue_meeting_2": date(2027, 5, 31),
        # Trigger is a NAV meeting; computed from 1 December here only because due_dates uses
        # one start for all. The real use is in the test below.
        "sick_leave.plan_to_nav": date(2026, 11, 24),
        # 12 months from 1 December 2026: from 1 December 2027 the protection no longer applies.
        "sick_leave.dismissal_protection_ends": date(2027, 12, 1),
        "sick_leave.max_sick_pay": date(2027, 11, 11),
    }


def test_sick_leave_milestones_do_not_move_off_weekends_or_holidays():
    # Day 28 of a leave from 28 November 2026 is Christmas Day; the law counts weeks, not working days.
    due = due_of("sick_leave.follow_up_plan", date(2026, 11, 28))
    assert due.due == date(2026, 12, 25)
    assert due.text("nb") == (
        "Start 28.11.2026, dag 28 (dag 1 = startdato) = 25.12.2026 (faller på fridag: Første juledag)"
    )


def test_the_updated_plan_is_due_at_nav_seven_days_before_the_nav_meeting():
    due = due_of("sick_leave.plan_to_nav", date(2027, 6, 10))
    assert due.due == date(2027, 6, 3)
    assert due.text("en") == "Start 10.06.2027 − 7 calendar days = 03.06.2027"


def test_the_estimated_maximum_sick_pay_date_is_the_248th_weekday_counting_day_one():
    start = date(2026, 12, 1)
    due = due_of("sick_leave.max_sick_pay", start)
    weekdays = sum(
        1 for i in range((due.due - start).days + 1) if (start + timedelta(days=i)).weekday() < 5
    )
    assert weekdays == 248
    assert due.due.weekday() < 5
    assert due.text("en") == (
        "Start 01.12.2026, sick-pay day 248 = 11.11.2027 "
        "(estimate: Monday–Friday counted, public holidays included)"
    )


def test_sick_pay_days_start_on_monday_when_the_absence_starts_on_a_weekend():
    assert nth_sick_pay_day(date(2026, 12, 5), 1) == date(2026, 12, 7)
    assert nth_sick_pay_day(date(2026, 12, 7), 5) == date(2026, 12, 11)
    assert nth_sick_pay_day(date(2026, 12, 7), 6) == date(2026, 12, 14)


def test_day_numbers_count_the_start_as_day_one_across_the_leap_day():
    assert day_number_date(date(2028, 2, 1), 1) == date(2028, 2, 1)
    assert day_number_date(date(2028, 2, 1), 29) == date(2028, 2, 29)
    assert due_of("sick_leave.follow_up_plan", date(2028, 2, 2)).due == date(2028, 2, 29)
    with pytest.raises(ValueError):
        day_number_date(date(2028, 2, 1), 0)


def test_months_keep_the_day_of_month_and_clamp_at_month_end():
    assert add_months(date(2028, 1, 31), 1) == date(2028, 2, 29)
    assert add_months(date(2027, 1, 31), 1) == date(2027, 2, 28)
    assert add_months(date(2028, 2, 29), 12) == date(2029, 2, 28)
    assert add_months(date(2026, 12, 1), 12) == date(2027, 12, 1)
    assert add_months(date(2026, 11, 15), 3) == date(2027, 2, 15)


def test_whistleblowing_feedback_three_months_after_30_november_2027_lands_on_the_leap_day():
    assert due_of("whistleblowing.feedback", date(2027, 11, 30)).due == date(2028, 2, 29)


def test_whistleblowing_receipt_is_acknowledged_within_seven_calendar_days_even_over_easter():
    due = due_of("whistleblowing.acknowledge", date(2027, 3, 26))
    assert due.due == date(2027, 4, 2)
    assert due.explanation["skipped"] == []


def test_a_retaliation_check_counts_working_days_from_the_change():
    assert due_of("whistleblowing.retaliation_check", date(2027, 5, 3)).due == date(2027, 5, 11)


def test_a_review_that_lands_on_a_sunday_says_so_but_keeps_the_date():
    due = due_of("psychosocial.review", date(2026, 5, 1))
    assert due.due == date(2026, 5, 31)
    assert due.text("nb") == "Start 01.05.2026 + 30 kalenderdager = 31.05.2026 (faller på fridag: helg)"
    assert due.text("en") == "Start 01.05.2026 + 30 calendar days = 31.05.2026 (falls on a non-working day: weekend)"


def test_protection_against_dismissal_reads_as_months_in_both_languages():
    due = due_of("sick_leave.dismissal_protection_ends", date(2026, 12, 1))
    assert due.text("nb") == "Start 01.12.2026 + 12 måneder = 01.12.2027"
    assert due.text("en") == "Start 01.12.2026 + 12 months = 01.12.2027"
