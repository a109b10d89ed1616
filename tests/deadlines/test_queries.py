"""The organisation's stored policy read back into the plain values the rules take."""

from datetime import date

import pytest
from django.core.exceptions import ValidationError

from tidsnok.deadlines.models import ClosedDay, RuleOverride
from tidsnok.deadlines.queries import calendar_for, overrides_map
from tidsnok.deadlines.rules import find_rule, rules_for
from tidsnok.org import services as org_services

pytestmark = pytest.mark.django_db


@pytest.fixture
def orgs():
    return org_services.create_organisation(None, "Vår kommune"), org_services.create_organisation(None, "Nabo AS")


def test_overrides_map_lists_only_this_organisations_overrides_in_date_order(orgs):
    ours, theirs = orgs
    RuleOverride.objects.create(organisation=ours, rule_id="harassment.conclusion", offset=20, effective_from=date(2027, 6, 1))
    RuleOverride.objects.create(organisation=ours, rule_id="harassment.conclusion", offset=25, effective_from=date(2027, 1, 1))
    RuleOverride.objects.create(organisation=ours, rule_id="violence.follow_up_affected", offset=0, effective_from=date(2027, 1, 1))
    RuleOverride.objects.create(organisation=theirs, rule_id="harassment.conclusion", offset=10, effective_from=date(2026, 1, 1))
    assert overrides_map(ours.pk) == {
        "harassment.conclusion": [(date(2027, 1, 1), 25), (date(2027, 6, 1), 20)],
        "violence.follow_up_affected": [(date(2027, 1, 1), 0)],
    }


def test_stored_overrides_drive_rules_for_without_touching_older_cases(orgs):
    ours, _ = orgs
    RuleOverride.objects.create(organisation=ours, rule_id="harassment.conclusion", offset=20, effective_from=date(2027, 1, 1))
    overrides = overrides_map(ours.pk)
    before = [r.offset for r in rules_for("harassment", date(2026, 12, 31), overrides) if r.id == "harassment.conclusion"]
    after = [r.offset for r in rules_for("harassment", date(2027, 1, 1), overrides) if r.id == "harassment.conclusion"]
    assert (before, after) == ([30], [20])


def test_calendar_for_closes_only_this_organisations_closed_days(orgs):
    ours, theirs = orgs
    ClosedDay.objects.create(organisation=ours, date=date(2026, 12, 24), reason="Julaften")
    ClosedDay.objects.create(organisation=theirs, date=date(2026, 12, 31), reason="Nyttårsaften")
    calendar = calendar_for(ours.pk)
    assert not calendar.is_working_day(date(2026, 12, 24))
    assert calendar.is_working_day(date(2026, 12, 31))
    assert calendar.add_working_days(date(2026, 12, 23), 1) == date(2026, 12, 28)


def test_an_override_outside_the_bounds_fails_validation_with_a_readable_message(orgs):
    ours, _ = orgs
    override = RuleOverride(organisation=ours, rule_id="harassment.hr_involved", offset=5, effective_from=date(2027, 1, 1))
    with pytest.raises(ValidationError) as refused:
        override.full_clean()
    assert refused.value.message_dict == {"offset": ["The deadline “HR involved” must be between 0 and 2."]}


def test_an_override_of_a_law_rule_fails_validation(orgs):
    ours, _ = orgs
    override = RuleOverride(organisation=ours, rule_id="sick_leave.dialogue_meeting_1", offset=42, effective_from=date(2027, 1, 1))
    with pytest.raises(ValidationError) as refused:
        override.full_clean()
    assert refused.value.message_dict == {
        "offset": ["The deadline “Dialogue meeting 1” is set by law (aml § 4-6 (4)) and cannot be changed."]
    }


def test_an_override_of_an_unknown_rule_fails_validation(orgs):
    ours, _ = orgs
    override = RuleOverride(organisation=ours, rule_id="harassment.nonsense", offset=1, effective_from=date(2027, 1, 1))
    with pytest.raises(ValidationError) as refused:
        override.full_clean()
    assert set(refused.value.message_dict) == {"rule_id"}


def test_a_valid_override_passes_validation(orgs):
    ours, _ = orgs
    override = RuleOverride(organisation=ours, rule_id="harassment.hr_involved", offset=0, effective_from=date(2027, 1, 1))
    override.full_clean()
    assert find_rule(override.rule_id, override.effective_from).bounds == (0, 2)
