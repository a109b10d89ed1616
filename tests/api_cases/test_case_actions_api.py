"""Entries, measures, closing, reopening and asking HR through the API."""

import pytest

from tidsnok.versioning import StaleVersion


def detail(api, case, key="marte") -> dict:
    response = api(key, "get", f"/cases/{case['id']}")
    assert response.status_code == 200, response.content
    return response.json()


def deadline(body, rule) -> dict:
    return next(d for d in body["deadlines"] if d["rule"] == rule)


def conversation(world, **changes) -> dict:
    body = {"kind": "conversation", "occurred_on": "2027-03-23", "text": "Samtale om arbeidsmengden.",
            "data": {"participants": [world.emil.pk, world.marte.pk]}}
    body.update(changes)
    return body


def measure(world, **changes) -> dict:
    body = {"what": "Omfordele to brukere fra Emils liste.", "kind": "organisational", "area": "workload",
            "owner": world.marte.pk, "due": "2027-04-15"}
    body.update(changes)
    return body


@pytest.fixture
def case(open_case):
    return open_case()


# --- entries ------------------------------------------------------------------


def test_a_conversation_is_documented_and_meets_the_first_deadline_by_when_it_happened(api, world, case):
    response = api("marte", "post", f"/cases/{case['id']}/entries", conversation(world))
    assert response.status_code == 201
    entry = response.json()
    assert entry["kind"] == "conversation"
    assert entry["occurred_on"] == "2027-03-23"
    assert entry["recorded_at"].startswith("2027-03-2")
    assert entry["visibility"] == "shared"
    assert entry["author"] == world.marte.pk
    assert entry["data"]["participants"] == sorted([world.emil.pk, world.marte.pk])
    first = deadline(detail(api, case), "psychosocial.first_conversation")
    assert first["status"] == "met"
    assert first["met_at"] == "2027-03-23"


def test_an_assessment_without_its_fields_is_refused_on_each_data_field(api, world, case):
    response = api("marte", "post", f"/cases/{case['id']}/entries",
                   {"kind": "assessment", "occurred_on": "2027-03-24"})
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"data.health_risk", "data.work_related"}


def test_an_assessment_with_its_fields_is_kept_internal_by_default(api, world, case):
    response = api("marte", "post", f"/cases/{case['id']}/entries", {
        "kind": "assessment", "occurred_on": "2027-03-24", "text": "Arbeidsmengden er for stor.",
        "data": {"health_risk": "medium", "work_related": "yes", "factors_confirmed": ["workload"]},
    })
    assert response.status_code == 201
    assert response.json()["visibility"] == "internal"
    assert response.json()["data"]["factors_confirmed"] == ["workload"]
    assert deadline(detail(api, case), "psychosocial.assessment")["status"] == "met"


def test_a_participant_the_manager_may_not_see_reads_as_unknown(api, world, case):
    path = f"/cases/{case['id']}/entries"
    hidden = api("marte", "post", path, conversation(world, data={"participants": [world.kari.pk]}), lang="en")
    missing = api("marte", "post", path, conversation(world, data={"participants": [999999]}), lang="en")
    assert hidden.status_code == missing.status_code == 400
    assert hidden.json() == missing.json()
    assert hidden.json()["errors"] == {"data.participants": ["Unknown participant."]}


def test_the_hr_adviser_brought_into_the_case_may_be_named_as_a_participant(api, world, case):
    assert api("marte", "post", f"/cases/{case['id']}/ask-hr", {"note": "Usikker på prosessen."}).status_code == 201
    body = conversation(world, data={"participants": [world.emil.pk, world.marte.pk, world.hugo.pk]})
    assert api("marte", "post", f"/cases/{case['id']}/entries", body).status_code == 201


def test_an_entry_dated_in_the_future_is_refused(api, world, case):
    response = api("marte", "post", f"/cases/{case['id']}/entries", conversation(world, occurred_on="2027-03-25"))
    assert response.status_code == 400
    assert "occurred_on" in response.json()["errors"]


def test_a_kind_only_the_system_writes_is_not_accepted(api, world, case):
    response = api("marte", "post", f"/cases/{case['id']}/entries", conversation(world, kind="evaluation"))
    assert response.status_code == 422
    assert "kind" in response.json()["errors"]


def test_someone_outside_the_case_gets_404_on_entries_and_measures(api, world, case):
    assert api("kim", "post", f"/cases/{case['id']}/entries", conversation(world)).status_code == 404
    assert api("kim", "post", f"/cases/{case['id']}/measures", measure(world)).status_code == 404
    assert api("sander", "post", f"/cases/{case['id']}/entries", conversation(world)).status_code == 404


# --- measures -----------------------------------------------------------------


def add_measure(api, world, case, **changes) -> dict:
    response = api("marte", "post", f"/cases/{case['id']}/measures", measure(world, **changes))
    assert response.status_code == 201, response.content
    return response.json()


def test_the_manager_decides_a_measure_and_it_gets_a_follow_up_deadline(api, world, case):
    created = add_measure(api, world, case)
    assert created["owner"] == world.marte.pk
    assert created["owner_name"] == "Marte Leder"
    assert created["status"] == "planned"
    assert created["kind"] == "organisational"
    assert created["visibility"] == "shared"
    assert created["version"] == 1
    body = detail(api, case)
    assert [m["id"] for m in body["measures"]] == [created["id"]]
    follow_up = deadline(body, "psychosocial.measure_follow_up")
    assert follow_up["measure"] == created["id"]


def test_a_measure_owner_out_of_reach_is_refused_on_the_owner_field(api, world, case):
    response = api("marte", "post", f"/cases/{case['id']}/measures", measure(world, owner=world.kari.pk))
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["owner"]


def test_a_measure_due_centuries_ahead_is_refused(api, world, case):
    response = api("marte", "post", f"/cases/{case['id']}/measures", measure(world, due="2500-01-01"))
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["due"]


def test_marking_a_measure_done_bumps_its_version(api, world, case):
    created = add_measure(api, world, case)
    response = api("marte", "patch", f"/measures/{created['id']}", {"version": 1, "status": "done"})
    assert response.status_code == 200
    assert response.json()["status"] == "done"
    assert response.json()["done_on"] == "2027-03-24"
    assert response.json()["version"] == 2


def test_a_change_based_on_a_stale_version_is_refused_with_409_and_nothing_is_saved(api, world, case):
    created = add_measure(api, world, case)
    assert api("marte", "patch", f"/measures/{created['id']}", {"version": 1, "due": "2027-04-20"}).status_code == 200
    stale = api("marte", "patch", f"/measures/{created['id']}", {"version": 1, "status": "done"}, lang="en")
    assert stale.status_code == 409
    assert stale.json()["message"] == str(StaleVersion())
    current = detail(api, case)["measures"][0]
    assert current["status"] == "planned"
    assert current["due"] == "2027-04-20"


def test_cancelling_a_measure_needs_a_reason_and_ends_its_follow_up_deadline(api, world, case):
    created = add_measure(api, world, case)
    path = f"/measures/{created['id']}"
    refused = api("marte", "patch", path, {"version": 1, "status": "cancelled"})
    assert refused.status_code == 400
    assert list(refused.json()["errors"]) == ["cancel_reason"]
    response = api("marte", "patch", path, {"version": 1, "status": "cancelled",
                                            "cancel_reason": "Emil byttet avdeling."})
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert response.json()["cancel_reason"] == "Emil byttet avdeling."
    assert deadline(detail(api, case), "psychosocial.measure_follow_up")["status"] == "not_required"


def test_a_measure_can_be_given_to_another_owner_the_manager_may_name(api, world, case):
    created = add_measure(api, world, case)
    response = api("marte", "patch", f"/measures/{created['id']}", {"version": 1, "owner": world.dina.pk})
    assert response.status_code == 200
    assert response.json()["owner"] == world.dina.pk
    hidden = api("marte", "patch", f"/measures/{created['id']}", {"version": 2, "owner": world.kari.pk})
    assert hidden.status_code == 400
    assert list(hidden.json()["errors"]) == ["owner"]


def test_null_is_not_a_value_for_a_measure_field(api, world, case):
    created = add_measure(api, world, case)
    response = api("marte", "patch", f"/measures/{created['id']}", {"version": 1, "status": None})
    assert response.status_code == 422
    assert "status" in response.json()["errors"]


def test_someone_outside_the_case_cannot_change_its_measure(api, world, case):
    created = add_measure(api, world, case)
    assert api("kim", "patch", f"/measures/{created['id']}", {"version": 1, "status": "done"}).status_code == 404


# --- closing and reopening ------------------------------------------------------


def test_closing_is_refused_while_a_measure_is_open_and_without_an_evaluation(api, world, case):
    add_measure(api, world, case)
    response = api("marte", "post", f"/cases/{case['id']}/close", {"evaluation": "", "version": 1}, lang="en")
    assert response.status_code == 400
    refusals = response.json()["errors"]["__all__"]
    assert refusals == [
        "1 measure(s) are still open. Mark them done, or cancel them with a reason, first.",
        "Write a final evaluation: what was done, and what effect it had.",
    ]
    assert detail(api, case)["status"] == "open"


def test_closing_with_an_evaluation_once_measures_are_done(api, world, case):
    created = add_measure(api, world, case)
    api("marte", "patch", f"/measures/{created['id']}", {"version": 1, "status": "done"})
    response = api("marte", "post", f"/cases/{case['id']}/close",
                   {"evaluation": "Arbeidsmengden er redusert; Emil opplever bedring.", "version": 1})
    assert response.status_code == 200
    assert response.json()["status"] == "closed"
    assert response.json()["closed_at"]
    assert response.json()["version"] == 2
    evaluation = detail(api, case)["entries"][-1]
    assert evaluation["kind"] == "evaluation"
    assert evaluation["visibility"] == "shared"


def test_closing_with_a_stale_version_is_refused_with_409(api, world, case):
    response = api("marte", "post", f"/cases/{case['id']}/close", {"evaluation": "Løst.", "version": 7})
    assert response.status_code == 409
    assert response.json()["message"]
    assert detail(api, case)["status"] == "open"


def test_reopening_needs_a_reason_and_the_current_version(api, world, case):
    api("marte", "post", f"/cases/{case['id']}/close", {"evaluation": "Løst.", "version": 1})
    path = f"/cases/{case['id']}/reopen"
    assert list(api("marte", "post", path, {"reason": "", "version": 2}).json()["errors"]) == ["reason"]
    assert api("marte", "post", path, {"reason": "Problemet er tilbake.", "version": 1}).status_code == 409
    response = api("marte", "post", path, {"reason": "Problemet er tilbake.", "version": 2})
    assert response.status_code == 200
    assert response.json()["status"] == "open"
    assert response.json()["version"] == 3
    assert api("marte", "post", path, {"reason": "Igjen.", "version": 3}).status_code == 400


def test_someone_outside_the_case_cannot_close_or_reopen_it(api, world, case):
    assert api("kim", "post", f"/cases/{case['id']}/close", {"evaluation": "Løst.", "version": 1}).status_code == 404
    assert api("kim", "post", f"/cases/{case['id']}/reopen", {"reason": "x", "version": 1}).status_code == 404


# --- asking HR ----------------------------------------------------------------


def test_a_manager_unsure_of_the_process_brings_in_hr_for_her_unit(api, world, case):
    response = api("marte", "post", f"/cases/{case['id']}/ask-hr", {"note": "Er jeg inhabil? Emil er en venn."})
    assert response.status_code == 201
    body = response.json()
    assert body["entry"]["kind"] == "uncertain"
    assert body["entry"]["visibility"] == "internal"
    # Hugo's HR scope (Helse) is closer to the unit than Hanne's (everything).
    assert body["hr_handler"]["person"] == world.hugo.pk
    case_now = detail(api, case)
    assert case_now["hr_involved_at"]
    assert deadline(case_now, "hr.first_response")["status"] == "open"


def test_asking_hr_needs_a_note(api, world, case):
    response = api("marte", "post", f"/cases/{case['id']}/ask-hr", {"note": " "})
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["note"]


def test_someone_outside_the_case_cannot_ask_hr_about_it(api, world, case):
    assert api("kim", "post", f"/cases/{case['id']}/ask-hr", {"note": "Hjelp"}).status_code == 404
