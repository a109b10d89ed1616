"""The caller's deadlines, the rule catalogue, and the OpenAPI document."""

from datetime import date

from tidsnok.deadlines.models import RuleOverride

# --- the caller's deadlines -------------------------------------------------------


def rules_of(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [item["rule"] for item in response.json()["items"]]


def test_my_deadlines_are_the_open_ones_on_cases_i_handle_earliest_first(api, world, open_case):
    case = open_case()
    response = api("marte", "get", "/deadlines")
    # Known Monday 22 March: 5 and 10 working days (Easter skipped), then 30 calendar days.
    assert rules_of(response) == ["psychosocial.first_conversation", "psychosocial.assessment", "psychosocial.review"]
    first = response.json()["items"][0]
    assert first["case"] == {"id": case["id"], "number": case["number"], "kind": "psychosocial"}
    assert first["due"] == "2027-04-01"
    assert first["status"] == "open"
    assert first["title"] == "Første samtale med den det gjelder"
    assert first["explanation"].startswith("Start 22.03.2027 + 5 arbeidsdager")


def test_overseeing_a_case_is_not_handling_it(api, world, open_case):
    open_case()
    # The sector manager and organisation-wide HR see the case, but nobody asked them to act.
    assert rules_of(api("helga", "get", "/deadlines")) == []
    assert rules_of(api("hanne", "get", "/deadlines")) == []
    assert rules_of(api("emil", "get", "/deadlines")) == []


def test_my_deadlines_filter_by_due_date_and_status(api, world, open_case):
    case = open_case()
    assert rules_of(api("marte", "get", "/deadlines?due_before=2027-04-01")) == ["psychosocial.first_conversation"]
    assert rules_of(api("marte", "get", "/deadlines?due_after=2027-04-02&due_before=2027-04-20")) == [
        "psychosocial.assessment"]
    api("marte", "post", f"/cases/{case['id']}/entries", {
        "kind": "conversation", "occurred_on": "2027-03-23", "text": "Samtale.",
        "data": {"participants": [world.emil.pk]}})
    # The conversation also counts as the first review of the case.
    assert rules_of(api("marte", "get", "/deadlines?status=met")) == [
        "psychosocial.first_conversation", "psychosocial.review"]
    assert "psychosocial.first_conversation" not in rules_of(api("marte", "get", "/deadlines"))


def test_my_deadlines_refuse_a_date_that_is_not_iso(api, world):
    response = api("marte", "get", "/deadlines?due_before=0")
    assert response.status_code == 422
    assert "due_before" in response.json()["errors"]


def test_my_deadlines_are_paginated(api, world, open_case):
    open_case()
    open_case(concerns=[world.ella.pk])
    page = api("marte", "get", "/deadlines?page_size=4&page=2").json()
    assert page["count"] == 6
    assert len(page["items"]) == 2


def test_the_api_needs_credentials(client, world):
    for path in ("/api/v1/cases", "/api/v1/deadlines", "/api/v1/rules", "/api/v1/participation/cases"):
        response = client.get(path)
        assert response.status_code == 401
        assert response.json()["message"]


# --- the rule catalogue ---------------------------------------------------------


def rule(response, rule_id) -> dict:
    assert response.status_code == 200, response.content
    return next(r for r in response.json() if r["id"] == rule_id)


def test_the_rules_in_force_today_carry_their_basis_and_dates(api, world):
    first = rule(api("emil", "get", "/rules"), "psychosocial.first_conversation")
    assert first == {
        "id": "psychosocial.first_conversation", "version": 1, "kinds": ["psychosocial", "conflict"],
        "trigger": "known_at", "offset": 5, "unit": "working_days", "basis": "policy default",
        "duty_basis": "aml § 4-3 (1)–(4)", "policy": True, "bounds": [1, 10], "responsible": "handler",
        "expected_event": False, "repeat": False, "condition": "", "effective_from": "2026-01-01",
        "effective_to": None, "overridden_from": None, "title": "Første samtale med den det gjelder", "note": "",
    }
    plan = rule(api("emil", "get", "/rules"), "sick_leave.follow_up_plan")
    assert plan["basis"] == "aml § 4-6 (3)"
    assert plan["policy"] is False


def test_rule_titles_follow_the_request_language(api, world):
    first = rule(api("emil", "get", "/rules", lang="en"), "psychosocial.first_conversation")
    assert first["title"] == "First conversation with the person concerned"


def test_the_rules_can_be_filtered_by_kind(api, world):
    response = api("emil", "get", "/rules?kind=sick_leave")
    assert response.status_code == 200
    assert response.json()
    assert all("sick_leave" in r["kinds"] for r in response.json())


def test_the_rules_show_the_organisations_own_offset(api, world):
    RuleOverride.objects.create(organisation=world.org, rule_id="psychosocial.first_conversation", offset=3,
                                effective_from=date(2027, 1, 1))
    first = rule(api("emil", "get", "/rules"), "psychosocial.first_conversation")
    assert first["offset"] == 3
    assert first["basis"] == "organisation policy"
    assert first["overridden_from"] == "2027-01-01"


# --- the OpenAPI document ---------------------------------------------------------


def test_the_openapi_document_describes_the_case_api(client, db):
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    expected = {
        "/api/v1/cases": {"get", "post"},
        "/api/v1/cases/{case_id}": {"get"},
        "/api/v1/cases/{case_id}/entries": {"post"},
        "/api/v1/cases/{case_id}/measures": {"post"},
        "/api/v1/measures/{measure_id}": {"patch"},
        "/api/v1/cases/{case_id}/close": {"post"},
        "/api/v1/cases/{case_id}/reopen": {"post"},
        "/api/v1/cases/{case_id}/ask-hr": {"post"},
        "/api/v1/deadlines": {"get"},
        "/api/v1/rules": {"get"},
        "/api/v1/participation/cases": {"get"},
        "/api/v1/participation/cases/{case_id}": {"get"},
        "/api/v1/participation/cases/{case_id}/comments": {"post"},
        "/api/v1/participation/measures/{measure_id}/response": {"post"},
    }
    for path, methods in expected.items():
        assert path in paths, path
        assert methods <= set(paths[path]), path
    assert "409" in paths["/api/v1/measures/{measure_id}"]["patch"]["responses"]
    assert {"400", "404", "422"} <= set(paths["/api/v1/cases/{case_id}/close"]["post"]["responses"])
