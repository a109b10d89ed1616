"""Registering, listing and reading cases through the API."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.api_cases.conftest import workload_case
from tidsnok.audit.models import AuditEvent
from tidsnok.cases.models import Case

# --- registering --------------------------------------------------------------


def test_manager_registers_a_case_and_gets_its_number_and_status(api, world):
    response = api("marte", "post", "/cases", workload_case(world))
    assert response.status_code == 201
    body = response.json()
    assert body["number"] == "SAK-2027-0001"
    assert body["kind"] == "psychosocial"
    assert body["status"] == "open"
    assert body["concerns"] == [world.emil.pk]
    assert body["factors"] == ["workload"]
    assert body["known_at"] == "2027-03-22"
    assert body["owner"] == world.marte.pk
    # Five working days from Monday 22 March skip Maundy Thursday, Good Friday and Easter Monday.
    assert body["next_due"] == "2027-04-01"
    assert body["version"] == 1
    assert Case.objects.get(pk=body["id"]).created_by == world.user("marte")


def test_a_person_the_manager_may_not_see_is_refused_like_one_who_does_not_exist(api, world):
    # Kari works in the school: Marte may not see her. 999999 is nobody.
    hidden = api("marte", "post", "/cases", workload_case(world, concerns=[world.kari.pk]), lang="en")
    missing = api("marte", "post", "/cases", workload_case(world, concerns=[999999]), lang="en")
    assert hidden.status_code == missing.status_code == 400
    assert hidden.json()["errors"]["concerns"] == [f"Unknown person: {world.kari.pk}"]
    assert missing.json()["errors"]["concerns"] == ["Unknown person: 999999"]
    assert hidden.json()["message"] == missing.json()["message"]
    assert not Case.objects.exists()


def test_an_accused_the_manager_may_not_see_is_refused_on_the_parties_field(api, world):
    body = workload_case(world, kind="conflict", parties=[{"person": world.stine.pk, "role": "accused"}])
    response = api("marte", "post", "/cases", body)
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["parties"]


def test_an_employee_cannot_register_a_case_about_herself(api, world):
    response = api("emil", "post", "/cases", workload_case(world))
    assert response.status_code == 403
    assert response.json()["message"]
    assert not Case.objects.exists()


def test_input_that_does_not_match_the_schema_is_422_with_a_message_per_field(api, world):
    response = api("marte", "post", "/cases", workload_case(world, kind="burnout", known_at="22.03.2027"))
    assert response.status_code == 422
    body = response.json()
    assert body["message"]
    assert set(body["errors"]) >= {"kind", "known_at"}


def test_refusals_by_the_rules_are_400_with_a_message_per_field(api, world):
    response = api("marte", "post", "/cases", workload_case(world, known_at="2027-03-25", factors=["astrology"]),
                   lang="en")
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert errors["known_at"] == ["The date cannot be in the future."]
    assert errors["factors"] == ["Unknown factor: astrology"]


def test_an_old_signal_needs_a_reason_for_registering_it_late(api, world):
    late = api("marte", "post", "/cases", workload_case(world, known_at="2026-12-01"))
    assert late.status_code == 400
    assert "known_at_reason" in late.json()["errors"]
    explained = api("marte", "post", "/cases", workload_case(
        world, known_at="2026-12-01", known_at_reason="Jeg var i permisjon da Emil fortalte det."))
    assert explained.status_code == 201


# --- listing ------------------------------------------------------------------


def numbers(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [item["number"] for item in response.json()["items"]]


def test_the_list_shows_each_manager_only_the_cases_she_may_see(api, world, open_case):
    hj = open_case("marte")
    sy = open_case("sander", concerns=[world.stine.pk])
    assert numbers(api("marte", "get", "/cases")) == [hj["number"]]
    assert numbers(api("sander", "get", "/cases")) == [sy["number"]]
    # The sector manager oversees both units; the school's manager neither.
    assert numbers(api("helga", "get", "/cases")) == [sy["number"], hj["number"]]
    assert numbers(api("kim", "get", "/cases")) == []
    # The list is the handlers' list: the concerned employee uses /participation/cases.
    assert numbers(api("emil", "get", "/cases")) == []


def test_the_list_filters_by_status_and_kind(api, world, open_case):
    workload = open_case()
    conflict = open_case(kind="conflict", concerns=[world.ella.pk])
    assert numbers(api("marte", "get", "/cases?kind=conflict")) == [conflict["number"]]
    assert numbers(api("marte", "get", "/cases?status=open&kind=psychosocial")) == [workload["number"]]
    assert numbers(api("marte", "get", "/cases?status=closed")) == []
    assert api("marte", "get", "/cases?status=shelved").status_code == 422


def test_the_list_is_paginated(api, world, open_case):
    for _ in range(3):
        open_case()
    page = api("marte", "get", "/cases?page_size=2&page=2").json()
    assert page["count"] == 3
    assert [item["number"] for item in page["items"]] == ["SAK-2027-0001"]


def count_queries(api, path) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert api("marte", "get", path).status_code == 200
    return len(queries)


def test_the_list_costs_the_same_number_of_queries_for_one_case_or_many(api, world, open_case):
    open_case(kind="conflict", parties=[{"person": world.ella.pk, "role": "witness"}])
    api("marte", "get", "/cases")  # the first request also stamps the token's last use
    one = count_queries(api, "/cases")
    for kind in ("psychosocial", "violence", "conflict", "psychosocial"):
        open_case(kind=kind, concerns=[world.emil.pk, world.ella.pk], factors=["workload", "support"])
    assert count_queries(api, "/cases") == one
    assert count_queries(api, "/cases?page_size=2") == one


# --- reading one case ---------------------------------------------------------


def test_the_case_has_its_timeline_measures_and_deadlines_with_reasons(api, world, open_case):
    case = open_case()
    response = api("marte", "get", f"/cases/{case['id']}")
    assert response.status_code == 200
    body = response.json()
    assert body["description"] == "Emil sier han ikke rekker arbeidsoppgavene."
    assert {"person": world.emil.pk, "name": "Emil Ansatt", "role": "concerned"} in body["parties"]
    assert [h["person"] for h in body["handlers"]] == [world.marte.pk]
    assert body["measures"] == []
    known = body["entries"][0]
    assert known["kind"] == "system"
    assert known["occurred_on"] == "2027-03-22"
    assert known["recorded_at"].startswith("2027-03-2")
    assert known["visibility"] == "internal"
    first = next(d for d in body["deadlines"] if d["rule"] == "psychosocial.first_conversation")
    assert first["title"] == "Første samtale med den det gjelder"
    assert first["basis"] == "policy default"
    assert first["due"] == "2027-04-01"
    assert first["status"] == "open"
    assert first["met_at"] is None
    assert first["explanation"].startswith("Start 22.03.2027 + 5 arbeidsdager = 01.04.2027 (hoppet over:")


def test_deadline_titles_and_explanations_follow_the_request_language(api, world, open_case):
    case = open_case()
    body = api("marte", "get", f"/cases/{case['id']}", lang="en-GB,en;q=0.9").json()
    first = next(d for d in body["deadlines"] if d["rule"] == "psychosocial.first_conversation")
    assert first["title"] == "First conversation with the person concerned"
    assert first["explanation"].startswith("Start 22.03.2027 + 5 working days = 01.04.2027 (skipped:")


def test_a_case_outside_the_callers_reach_is_404_like_a_missing_one(api, world, open_case):
    case = open_case()
    hidden = api("kim", "get", f"/cases/{case['id']}")
    missing = api("marte", "get", "/cases/999999")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json() == missing.json()


def test_the_manager_who_has_left_the_unit_no_longer_sees_its_cases(api, world, open_case):
    case = open_case()
    assert api("frode", "get", f"/cases/{case['id']}").status_code == 404


def test_hr_in_scope_sees_the_case_and_hr_elsewhere_does_not(api, world, open_case):
    case = open_case()
    assert api("hugo", "get", f"/cases/{case['id']}").status_code == 200
    assert api("hanne", "get", f"/cases/{case['id']}").status_code == 200
    school = open_case("kim", concerns=[world.kari.pk])
    assert api("hugo", "get", f"/cases/{school['id']}").status_code == 404


def test_reading_a_restricted_case_is_on_the_record(api, world, open_case):
    case = open_case("helga", kind="harassment", factors=["harassment"])
    before = AuditEvent.objects.filter(action="ACCESS", object_id=str(case["id"])).count()
    assert api("helga", "get", f"/cases/{case['id']}").status_code == 200
    assert AuditEvent.objects.filter(action="ACCESS", object_id=str(case["id"])).count() == before + 1
