"""Organisation overrides of policy rules: bounded, and never rewriting cases already known."""

from datetime import date

import pytest

from tidsnok.deadlines.calendar import WorkingCalendar
from tidsnok.deadlines.rules import (
    ORGANISATION_POLICY,
    OverrideError,
    compute_due,
    find_rule,
    rules_for,
    validate_override,
)

CAL = WorkingCalendar()
STRICTER_FROM_2027 = {"harassment.conclusion": [(date(2027, 1, 1), 20)]}


def rule_in(rules, rule_id):
    return next(rule for rule in rules if rule.id == rule_id)


def test_a_later_override_does_not_change_a_case_known_before_it():
    rule = rule_in(rules_for("harassment", date(2026, 12, 31), STRICTER_FROM_2027), "harassment.conclusion")
    assert rule.offset == 30
    assert rule.basis == "policy default"
    assert rule.overridden_from is None


def test_an_override_applies_to_cases_known_on_or_after_its_effective_date():
    rule = rule_in(rules_for("harassment", date(2027, 1, 1), STRICTER_FROM_2027), "harassment.conclusion")
    assert rule.offset == 20
    assert rule.basis == ORGANISATION_POLICY
    assert rule.overridden_from == date(2027, 1, 1)
    assert rule.duty_basis == "aml § 4-3 (5); likestillings- og diskrimineringsloven § 13"


def test_the_latest_override_in_force_on_the_start_date_wins():
    overrides = {
        "psychosocial.first_conversation": [(date(2026, 6, 1), 3), (date(2027, 6, 1), 8), (date(2027, 1, 1), 4)]
    }
    offsets = {
        on: rule_in(rules_for("psychosocial", on, overrides), "psychosocial.first_conversation").offset
        for on in (date(2026, 5, 31), date(2026, 6, 1), date(2027, 3, 1), date(2027, 6, 1))
    }
    assert offsets == {date(2026, 5, 31): 5, date(2026, 6, 1): 3, date(2027, 3, 1): 4, date(2027, 6, 1): 8}


def test_an_override_leaves_the_other_rules_alone():
    rules = rules_for("harassment", date(2027, 2, 1), STRICTER_FROM_2027)
    assert [rule.offset for rule in rules] == [1, 2, 10, 20, 2, 5]


def test_an_overridden_deadline_explains_whose_rule_it_is():
    rule = rule_in(rules_for("harassment", date(2027, 3, 24), STRICTER_FROM_2027), "harassment.conclusion")
    due = compute_due(rule, date(2027, 3, 24), CAL)
    assert due.due == date(2027, 4, 26)  # 10 working days reach 12.04, 10 more reach 26.04
    assert due.explanation["overridden_from"] == "2027-01-01"
    assert due.text("nb").endswith(" – virksomhetens regel fra 01.01.2027")
    assert due.text("en").endswith(" – organisation policy from 01.01.2027")


def test_an_override_outside_the_bounds_is_refused():
    rule = find_rule("harassment.hr_involved", date(2026, 6, 1))
    with pytest.raises(OverrideError) as refused:
        validate_override(rule, 3)
    assert refused.value.rule_id == "harassment.hr_involved"
    assert refused.value.bounds == (0, 2)
    with pytest.raises(OverrideError):
        validate_override(rule, -1)


def test_an_override_at_the_bounds_is_accepted():
    rule = find_rule("harassment.hr_involved", date(2026, 6, 1))
    validate_override(rule, 0)
    validate_override(rule, 2)


def test_a_rule_set_by_law_cannot_be_overridden():
    rule = find_rule("sick_leave.dialogue_meeting_1", date(2026, 6, 1))
    with pytest.raises(OverrideError) as refused:
        validate_override(rule, 42)
    assert refused.value.bounds is None


def test_an_override_that_is_not_a_whole_number_is_refused():
    rule = find_rule("psychosocial.first_conversation", date(2026, 6, 1))
    with pytest.raises(OverrideError):
        validate_override(rule, 5.0)
    with pytest.raises(OverrideError):
        validate_override(rule, True)


def test_an_override_error_is_a_value_error():
    assert issubclass(OverrideError, ValueError)


def test_rules_for_refuses_a_stored_override_of_a_law_rule_rather_than_apply_it():
    overrides = {"sick_leave.dialogue_meeting_1": [(date(2026, 1, 1), 60)]}
    with pytest.raises(OverrideError):
        rules_for("sick_leave", date(2026, 6, 1), overrides)


def test_overrides_for_rules_of_other_kinds_are_ignored():
    overrides = {"sick_leave.dialogue_meeting_1": [(date(2026, 1, 1), 60)]}
    assert [rule.offset for rule in rules_for("violence", date(2026, 6, 1), overrides)] == [2, 1, 5]
