"""HR changes the organisation's deadline policy, within bounds, audited; old cases keep their rules."""

from datetime import date

import pytest
import time_machine
from django.core.exceptions import ValidationError

from tidsnok.audit.models import AuditEvent
from tidsnok.cases import services as case_services
from tidsnok.cases.models import Kind, Source
from tidsnok.deadlines import services

TODAY = date(2027, 2, 1)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(TODAY, tick=False):
        yield


def test_hr_shortens_the_first_conversation_for_new_cases_only(world):
    old = case_services.open_case(world.user("marte"), kind=Kind.PSYCHOSOCIAL, concerns=[world.emil],
                                  description="Før", source=Source.OBSERVED, known_at=TODAY)
    services.set_rule_offset(world.user("hanne"), world.org, "psychosocial.first_conversation", 3, date(2027, 2, 2))
    assert AuditEvent.objects.filter(action="deadlines.policy_changed").exists()
    with time_machine.travel(date(2027, 2, 2), tick=False):
        new = case_services.open_case(world.user("marte"), kind=Kind.PSYCHOSOCIAL, concerns=[world.ella],
                                      description="Etter", source=Source.OBSERVED, known_at=date(2027, 2, 2))
        case_services.refresh_case(old)
    assert old.deadlines.get(rule_id="psychosocial.first_conversation").due == date(2027, 2, 8)
    assert new.deadlines.get(rule_id="psychosocial.first_conversation").due == date(2027, 2, 5)


def test_offsets_outside_the_bounds_and_law_rules_are_refused(world):
    with pytest.raises(ValidationError):
        services.set_rule_offset(world.user("hanne"), world.org, "psychosocial.first_conversation", 400)
    with pytest.raises(ValidationError):
        services.set_rule_offset(world.user("hanne"), world.org, "sick_leave.dialogue_meeting_1", 60)


def test_only_hr_for_the_whole_organisation_may_change_the_policy(world):
    for key in ("marte", "hugo"):
        with pytest.raises(services.NotAllowed):
            services.set_rule_offset(world.user(key), world.org, "psychosocial.first_conversation", 3)


def test_the_api_changes_the_policy(world, client):
    from tidsnok.access.services import create_token

    raw = create_token(None, world.user("hanne"))[1]
    response = client.put("/api/v1/rules/psychosocial.assessment/policy", data={"offset": 7},
                          content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 200, response.content
    raw = create_token(None, world.user("marte"))[1]
    response = client.put("/api/v1/rules/psychosocial.assessment/policy", data={"offset": 7},
                          content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 404


def test_a_closed_day_is_not_a_working_day_for_new_deadlines(world):
    services.add_closed_day(world.user("hanne"), world.org, date(2027, 2, 8), "Planleggingsdag")
    case = case_services.open_case(world.user("marte"), kind=Kind.PSYCHOSOCIAL, concerns=[world.emil],
                                   description="x", source=Source.OBSERVED, known_at=TODAY)
    assert case.deadlines.get(rule_id="psychosocial.first_conversation").due == date(2027, 2, 9)


def test_the_rules_page_shows_the_basis_and_lets_hr_change_a_policy(world, client):
    from tests.conftest import enrol_totp

    client.force_login(world.user("marte"))
    page = client.get("/saker/regler/").content.decode()
    assert "aml § 4-6 (3)" in page and "psychosocial.first_conversation" in page
    assert client.post("/saker/regler/psychosocial.assessment/", {"offset": "7"}).status_code == 404
    enrol_totp(world.user("hanne"))
    client.force_login(world.user("hanne"))
    assert client.post("/saker/regler/psychosocial.assessment/", {"offset": "7"}).status_code == 302
    assert "(standard 10)" in client.get("/saker/regler/").content.decode() or "(default 10)" in client.get("/saker/regler/").content.decode()
