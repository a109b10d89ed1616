"""Every shipped rule pinned to DOMAIN.md §5/§6 and the agreed policy defaults.

A rule added, removed or changed without updating this table fails here on purpose: the catalogue
is law-as-code, and a change to it is a change to what tidsnok tells managers.
"""

from datetime import date

import pytest

from tidsnok.deadlines.rules import (
    CATALOGUE,
    KINDS,
    POLICY_DEFAULT,
    RESPONSIBLE,
    TRIGGERS,
    UNITS,
    rules_for,
    weeks_to_day_number,
)

PSY = ("psychosocial", "conflict")
HARASSMENT_DUTY = "aml § 4-3 (5); likestillings- og diskrimineringsloven § 13"

# id: (kinds, trigger, offset, unit, basis, duty_basis, policy, responsible, expected_event, condition)
EXPECTED = {
    "psychosocial.first_conversation": (PSY, "known_at", 5, "working_days", POLICY_DEFAULT, "aml § 4-3 (1)–(4)", True, "handler", False, ""),
    "psychosocial.assessment": (PSY, "known_at", 10, "working_days", POLICY_DEFAULT, "aml § 4-3 (1)–(4); forskrift om organisering, ledelse og medvirkning § 7-1", True, "handler", False, ""),
    "psychosocial.measure_follow_up": (PSY, "measure_due", 20, "working_days", POLICY_DEFAULT, "aml § 4-3 (1)–(4)", True, "handler", False, ""),
    "psychosocial.review": (PSY, "review", 30, "calendar_days", POLICY_DEFAULT, "aml § 4-3 (1)–(4)", True, "handler", False, ""),
    "harassment.hr_involved": (("harassment",), "known_at", 1, "working_days", POLICY_DEFAULT, HARASSMENT_DUTY, True, "handler", False, ""),
    "harassment.protective_measures": (("harassment",), "known_at", 2, "working_days", POLICY_DEFAULT, HARASSMENT_DUTY, True, "hr", False, ""),
    "harassment.both_sides_heard": (("harassment",), "known_at", 10, "working_days", POLICY_DEFAULT, HARASSMENT_DUTY, True, "hr", False, ""),
    "harassment.conclusion": (("harassment",), "known_at", 30, "working_days", POLICY_DEFAULT, HARASSMENT_DUTY, True, "hr", False, ""),
    "hr.first_response": (("psychosocial", "conflict", "harassment", "violence", "sick_leave"), "hr_involved", 2, "working_days", POLICY_DEFAULT, "aml § 3-1 (2) f; aml § 4-3", True, "hr", False, ""),
    "violence.follow_up_affected": (("violence",), "known_at", 1, "working_days", POLICY_DEFAULT, "aml § 4-3 (6)", True, "handler", False, ""),
    "sick_leave.employer_period_ends": (("sick_leave",), "absence_start", 16, "day_number", "ftrl. § 8-19", "ftrl. § 8-19", False, "employer", True, ""),
    "sick_leave.follow_up_plan": (("sick_leave",), "absence_start", 28, "day_number", "aml § 4-6 (3)", "aml § 4-6 (3)", False, "employer", False, ""),
    "sick_leave.plan_to_doctor": (("sick_leave",), "absence_start", 28, "day_number", "aml § 4-6 (3)", "aml § 4-6 (3)", False, "employer", False, ""),
    "sick_leave.job_side_measure": (("sick_leave",), "absence_start", 28, "day_number", POLICY_DEFAULT, "aml § 4-3 (1); aml § 4-6 (3)", True, "employer", False, "work_related"),
    "sick_leave.dialogue_meeting_1": (("sick_leave",), "absence_start", 49, "day_number", "aml § 4-6 (4)", "aml § 4-6 (4)", False, "employer", False, "full_leave"),
    "sick_leave.activity_requirement": (("sick_leave",), "absence_start", 56, "day_number", "ftrl. § 8-8", "ftrl. § 8-8", False, "nav", True, ""),
    "sick_leave.nav_dialogue_meeting_2_question": (("sick_leave",), "absence_start", 112, "day_number", "NAV practice, not law", "NAV practice, not law", False, "nav", True, ""),
    "sick_leave.dialogue_meeting_2": (("sick_leave",), "absence_start", 182, "day_number", "ftrl. § 8-7 a", "ftrl. § 8-7 a", False, "nav", True, ""),
    "sick_leave.plan_to_nav": (("sick_leave",), "nav_meeting", -7, "calendar_days", "aml § 4-6 (3); ftrl. § 25-2", "aml § 4-6 (3); ftrl. § 25-2", False, "employer", False, ""),
    "sick_leave.dismissal_protection_ends": (("sick_leave",), "absence_start", 12, "months", "aml § 15-8", "aml § 15-8", False, "employer", True, ""),
    "sick_leave.max_sick_pay": (("sick_leave",), "absence_start", 248, "sick_pay_days", "ftrl. § 8-12", "ftrl. § 8-12", False, "nav", True, ""),
    "whistleblowing.acknowledge": (("whistleblowing",), "received", 7, "calendar_days", POLICY_DEFAULT, "aml § 2 A-3", True, "handler", False, ""),
    "whistleblowing.feedback": (("whistleblowing",), "received", 3, "months", POLICY_DEFAULT, "aml § 2 A-3", True, "handler", False, ""),
    "whistleblowing.retaliation_check": (("psychosocial", "conflict", "harassment", "violence", "sick_leave", "whistleblowing"), "retaliation_change", 5, "working_days", POLICY_DEFAULT, "aml §§ 2 A-3, 2 A-4", True, "handler", False, ""),
}


def test_the_catalogue_ships_exactly_the_pinned_rules():
    assert sorted(rule.id for rule in CATALOGUE) == sorted(EXPECTED)


@pytest.mark.parametrize("rule", CATALOGUE, ids=lambda rule: rule.id)
def test_each_rule_matches_its_pinned_values(rule):
    actual = (
        rule.kinds,
        rule.trigger,
        rule.offset,
        rule.unit,
        rule.basis,
        rule.duty_basis,
        rule.policy,
        rule.responsible,
        rule.expected_event,
        rule.condition,
    )
    assert actual == EXPECTED[rule.id]


@pytest.mark.parametrize("rule", CATALOGUE, ids=lambda rule: rule.id)
def test_each_rule_is_well_formed(rule):
    assert set(rule.kinds) <= set(KINDS)
    assert rule.trigger in TRIGGERS
    assert rule.unit in UNITS
    assert rule.responsible in RESPONSIBLE
    assert rule.title_nb and rule.title_en and rule.title_nb != rule.title_en
    assert rule.effective_from == date(2026, 1, 1)
    assert rule.effective_to is None
    assert rule.version == 1
    assert rule.overridden_from is None
    if rule.policy:
        low, high = rule.bounds
        assert low <= rule.offset <= high
        assert rule.basis == POLICY_DEFAULT
    else:
        assert rule.bounds is None
        assert rule.basis != POLICY_DEFAULT
        assert rule.duty_basis == rule.basis
    if rule.unit in ("day_number", "sick_pay_days"):
        assert rule.offset >= 1


def test_rule_versions_of_the_same_id_never_overlap():
    by_id = {}
    for rule in CATALOGUE:
        by_id.setdefault(rule.id, []).append(rule)
    for versions in by_id.values():
        assert len({rule.version for rule in versions}) == len(versions)
        ordered = sorted(versions, key=lambda rule: rule.effective_from)
        for earlier, later in zip(ordered, ordered[1:]):
            assert earlier.effective_to is not None and earlier.effective_to < later.effective_from


def test_only_the_30_day_review_repeats():
    assert [rule.id for rule in CATALOGUE if rule.repeat] == ["psychosocial.review"]


def test_sick_leave_milestones_are_the_law_s_weeks_counted_from_day_one():
    assert weeks_to_day_number(4) == 28  # follow-up plan, aml § 4-6 (3)
    assert weeks_to_day_number(7) == 49  # dialogue meeting 1, aml § 4-6 (4)
    assert weeks_to_day_number(8) == 56  # activity requirement, ftrl. § 8-8
    assert weeks_to_day_number(16) == 112  # NAV asks about dialogue meeting 2
    assert weeks_to_day_number(26) == 182  # dialogue meeting 2, ftrl. § 8-7 a


def test_whistleblowing_targets_are_labelled_as_not_norwegian_law():
    for rule_id in ("whistleblowing.acknowledge", "whistleblowing.feedback"):
        rule = next(rule for rule in CATALOGUE if rule.id == rule_id)
        assert "2019/1937" in rule.note_en and "not Norwegian law" in rule.note_en
        assert "2019/1937" in rule.note_nb and "ikke er norsk lov" in rule.note_nb


def test_titles_come_in_bokmal_and_english():
    rule = next(rule for rule in CATALOGUE if rule.id == "sick_leave.dialogue_meeting_1")
    assert rule.title("nb") == "Dialogmøte 1"
    assert rule.title("nb-no") == "Dialogmøte 1"
    assert rule.title("en") == "Dialogue meeting 1"


@pytest.mark.parametrize(
    "kind, expected",
    [
        ("psychosocial", ["psychosocial.first_conversation", "psychosocial.assessment", "psychosocial.measure_follow_up", "psychosocial.review", "hr.first_response", "whistleblowing.retaliation_check"]),
        ("conflict", ["psychosocial.first_conversation", "psychosocial.assessment", "psychosocial.measure_follow_up", "psychosocial.review", "hr.first_response", "whistleblowing.retaliation_check"]),
        ("harassment", ["harassment.hr_involved", "harassment.protective_measures", "harassment.both_sides_heard", "harassment.conclusion", "hr.first_response", "whistleblowing.retaliation_check"]),
        ("violence", ["hr.first_response", "violence.follow_up_affected", "whistleblowing.retaliation_check"]),
        ("whistleblowing", ["whistleblowing.acknowledge", "whistleblowing.feedback", "whistleblowing.retaliation_check"]),
    ],
)
def test_rules_for_picks_the_rules_of_the_case_kind(kind, expected):
    assert [rule.id for rule in rules_for(kind, date(2026, 6, 1))] == expected


def test_sick_leave_gets_every_sick_leave_rule():
    ids = [rule.id for rule in rules_for("sick_leave", date(2026, 6, 1))]
    assert ids == ["hr.first_response"] + [rule_id for rule_id in EXPECTED if rule_id.startswith("sick_leave.")] + [
        "whistleblowing.retaliation_check"
    ]


def test_no_rules_are_in_force_before_the_catalogue_starts():
    assert rules_for("harassment", date(2025, 12, 31)) == []
    assert rules_for("harassment", date(2026, 1, 1)) != []


def test_an_unknown_case_kind_is_refused():
    with pytest.raises(ValueError):
        rules_for("bullying", date(2026, 6, 1))
