"""The risk assessments through the JSON API: the same services and access policy as the pages,
the same error shapes as the other rooms (400 per field, 404 for what may not be read, 409 for a
stale version)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tidsnok.audit.models import AuditEvent
from tidsnok.notify.models import Notification
from tidsnok.risk import services
from tidsnok.risk.models import Action, Assessment


def today():
    return timezone.localdate()


def iso(days=0) -> str:
    return (today() + timedelta(days=days)).isoformat()


def start(api, who="marte", unit=None, **changes):
    body = {"unit": unit, "title": "Kartlegging 2026", "method": "workshop", "started_on": iso()}
    body.update(changes)
    response = api(who, "post", "/risk-assessments", body)
    assert response.status_code == 201, response.content
    return response.json()


@pytest.fixture
def hj(api, world):
    """Marte's assessment of her unit HJ, as the API returned it."""
    return start(api, unit=world.units["HJ"].pk)


def add_risk(api, assessment, who="marte", **changes):
    body = {"factor": "workload", "description": "Kveldsvaktene er for tynt bemannet", "likelihood": 3,
            "consequence": 3, "current_measures": "Innleie ved sykdom"}
    body.update(changes)
    return api(who, "post", f"/risk-assessments/{assessment['id']}/risks", body)


def add_action(api, assessment, owner, who="marte", **changes):
    body = {"what": "Én ekstra på kveldsvakt", "owner": owner.pk, "due": iso(30)}
    body.update(changes)
    return api(who, "post", f"/risk-assessments/{assessment['id']}/actions", body)


def add_participant(api, assessment, person, role="employee", who="marte"):
    return api(who, "post", f"/risk-assessments/{assessment['id']}/participants",
               {"person": person.pk, "role": role, "took_part_on": iso()})


def detail(api, assessment, who="marte"):
    return api(who, "get", f"/risk-assessments/{assessment['id']}")


# --- starting and reading -------------------------------------------------------------------------


def test_the_manager_starts_an_assessment_of_her_unit(api, world, hj):
    assert hj["unit"] == world.units["HJ"].pk and hj["unit_code"] == "HJ"
    assert hj["status"] == "draft" and hj["method"] == "workshop" and hj["started_on"] == iso()
    assert hj["risks"] == [] and hj["actions"] == [] and hj["may_edit"] is True
    assert AuditEvent.objects.filter(action="risk.assessment_started", object_id=str(hj["id"])).exists()


def test_an_employee_may_not_start_one(api, world):
    response = api("emil", "post", "/risk-assessments",
                   {"unit": world.units["HJ"].pk, "title": "x", "method": "workshop", "started_on": iso()})
    assert response.status_code == 403
    assert response.json()["message"]
    assert not Assessment.objects.exists()


def test_a_manager_may_not_start_one_for_another_unit(api, world):
    response = api("kim", "post", "/risk-assessments",
                   {"unit": world.units["HJ"].pk, "title": "x", "method": "workshop", "started_on": iso()})
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"unit"}
    assert not Assessment.objects.exists()


def test_bad_input_is_refused_per_field_in_the_request_language(api, world):
    response = api("marte", "post", "/risk-assessments",
                   {"unit": world.units["HJ"].pk, "title": "  ", "method": "workshop", "started_on": iso(1)},
                   lang="en")
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert set(errors) == {"title", "started_on"}
    assert errors["started_on"] == ["The date cannot be in the future."]
    response = api("marte", "post", "/risk-assessments",
                   {"unit": world.units["HJ"].pk, "title": "x", "method": "guess", "started_on": iso()})
    assert response.status_code == 422
    assert "method" in response.json()["errors"]
    assert not Assessment.objects.exists()


def test_the_detail_holds_the_register_with_levels_the_plan_the_ledger_and_comments(api, world, hj):
    high = add_risk(api, hj)
    assert high.status_code == 201, high.content
    assert high.json()["level"] == "high" and high.json()["factor"] == "workload"
    medium = add_risk(api, hj, factor=None, description="Alene på nattevakt", likelihood=1, consequence=4)
    assert medium.json()["level"] == "medium" and medium.json()["factor"] is None
    action = add_action(api, hj, world.ella, risk=high.json()["id"])
    assert action.status_code == 201, action.content
    assert action.json()["owner_name"] == "Ella Ansatt" and action.json()["status"] == "planned"
    assert add_participant(api, hj, world.emil).status_code == 201
    assert add_participant(api, hj, world.siri, role="safety_rep").status_code == 201
    comment = api("emil", "post", f"/risk-assessments/{hj['id']}/comments", {"text": "Vi trenger bedre overlapp."})
    assert comment.status_code == 201, comment.content
    assert comment.json()["role"] == "employee" and comment.json()["author_name"] == "Emil Ansatt"

    body = detail(api, hj).json()
    assert [(r["description"], r["level"]) for r in body["risks"]] == [
        ("Kveldsvaktene er for tynt bemannet", "high"), ("Alene på nattevakt", "medium")]
    assert [(a["what"], a["risk"], a["owner"]) for a in body["actions"]] == [
        ("Én ekstra på kveldsvakt", high.json()["id"], world.ella.pk)]
    assert [(p["name"], p["role"]) for p in body["participants"]] == [
        ("Emil Ansatt", "employee"), ("Siri Verneombud", "safety_rep")]
    assert [c["text"] for c in body["comments"]] == ["Vi trenger bedre overlapp."]
    assert body["risk_count"] == 2 and body["open_actions"] == 1
    # Ella heard of her measure.
    assert Notification.objects.filter(user=world.user("ella"), kind="risk_action").count() == 1


def test_who_reads_an_assessment_and_who_gets_404(api, world, hj):
    readers = {key for key in ("marte", "dina", "helga", "emil", "ella", "siri", "ask", "hugo", "hanne",
                               "kim", "kari", "stine", "sander", "ada")
               if detail(api, hj, key).status_code == 200}
    assert readers == {"marte", "dina", "helga", "emil", "ella", "siri", "ask", "hugo", "hanne"}
    missing = api("kari", "get", f"/risk-assessments/{hj['id'] + 1000}")
    assert missing.status_code == 404 and detail(api, hj, "kari").json() == missing.json()
    assert detail(api, hj, "emil").json()["may_edit"] is False


def test_readers_who_may_not_change_it_get_404_on_every_change(api, world, hj):
    for who in ("emil", "siri", "ask", "kim"):
        assert add_risk(api, hj, who=who).status_code == 404, who
        assert add_action(api, hj, world.ella, who=who).status_code == 404, who
        assert add_participant(api, hj, world.emil, who=who).status_code == 404, who
        response = api(who, "post", f"/risk-assessments/{hj['id']}/complete", {"version": hj["version"],
                                                                               "summary": "Ferdig"})
        assert response.status_code == 404, who
    assert not Assessment.objects.get(pk=hj["id"]).risks.exists()


def test_only_readers_comment(api, world, hj):
    by_ask = api("ask", "post", f"/risk-assessments/{hj['id']}/comments", {"text": "AMU følger opp."})
    assert by_ask.status_code == 201 and by_ask.json()["role"] == "amu"
    response = api("kari", "post", f"/risk-assessments/{hj['id']}/comments", {"text": "Jeg er ikke med her."})
    assert response.status_code == 404


# --- the list -------------------------------------------------------------------------------------


def test_the_list_holds_what_the_caller_may_read_filtered_by_unit_and_status(api, world, hj):
    sy = start(api, "sander", unit=world.units["SY"].pk, title="Sykehjemmet 2026")
    sk = start(api, "kim", unit=world.units["SK"].pk, title="Skolen 2026")

    def ids(who, query=""):
        response = api(who, "get", f"/risk-assessments{query}")
        assert response.status_code == 200, response.content
        return {row["id"] for row in response.json()["items"]}

    assert ids("helga") == {hj["id"], sy["id"]}
    assert ids("siri") == {hj["id"], sy["id"]}
    assert ids("emil") == {hj["id"]}
    assert ids("kari") == {sk["id"]}
    assert ids("ask") == ids("hanne") == {hj["id"], sy["id"], sk["id"]}
    assert ids("hanne", f"?unit={world.units['SY'].pk}") == {sy["id"]}
    assert ids("hanne", f"?unit={world.units['HEL'].pk}") == set()  # its own only, not the units below
    assert ids("hanne", "?status=completed") == set()
    assert ids("hanne", "?status=draft") == {hj["id"], sy["id"], sk["id"]}
    assert api("hanne", "get", "/risk-assessments?status=finished").status_code == 422
    page = api("hanne", "get", "/risk-assessments?page_size=2").json()
    assert page["count"] == 3 and len(page["items"]) == 2


def test_the_list_counts_risks_and_open_measures_each_once(api, world, hj):
    first = add_risk(api, hj).json()
    add_risk(api, hj, description="Uklare roller", likelihood=2, consequence=2)
    add_action(api, hj, world.ella, risk=first["id"])
    add_action(api, hj, world.emil)
    done = add_action(api, hj, world.ella, what="Ferdig tiltak").json()
    api("marte", "patch", f"/risk-actions/{done['id']}", {"version": done["version"], "status": "done"})
    row = api("marte", "get", "/risk-assessments").json()["items"][0]
    assert (row["risk_count"], row["open_actions"]) == (2, 2)


def _list_queries(api) -> int:
    api("hanne", "get", "/risk-assessments?page_size=50")  # the token and the scopes are settled first
    with CaptureQueriesContext(connection) as queries:
        response = api("hanne", "get", "/risk-assessments?page_size=50")
    assert response.status_code == 200
    return len(queries)


def _assessments(world, n):
    marte = world.user("marte")
    for i in range(n):
        assessment = services.start_assessment(marte, world.units["HJ"], title=f"Runde {i}", method="survey",
                                               started_on=today())
        risk = services.add_risk(marte, assessment, factor_code="", description="Risiko", likelihood=2,
                                 consequence=3)
        services.add_action(marte, assessment, what="Tiltak", owner=world.ella, due=today() + timedelta(days=9),
                            risk=risk)


def test_the_list_costs_the_same_queries_for_3_assessments_as_for_25(api, world):
    _assessments(world, 3)
    few = _list_queries(api)
    _assessments(world, 22)
    many = _list_queries(api)
    assert api("hanne", "get", "/risk-assessments?page_size=50").json()["count"] == 25
    assert many == few


# --- the action plan ------------------------------------------------------------------------------


def test_the_owner_sets_the_status_of_her_measure_but_nothing_else(api, world, hj):
    action = add_action(api, hj, world.ella).json()
    done = api("ella", "patch", f"/risk-actions/{action['id']}", {"version": action["version"], "status": "done"})
    assert done.status_code == 200, done.content
    assert done.json()["status"] == "done" and done.json()["done_on"] == iso()
    refused = api("ella", "patch", f"/risk-actions/{action['id']}", {"version": done.json()["version"],
                                                                       "what": "Ingenting"})
    assert refused.status_code == 403
    assert Action.objects.get(pk=action["id"]).what == "Én ekstra på kveldsvakt"
    # Emil reads the plan but owns nothing in it: the measure does not exist for a change of his.
    assert api("emil", "patch", f"/risk-actions/{action['id']}",
               {"version": done.json()["version"], "status": "planned"}).status_code == 404


def test_a_stale_version_of_a_measure_is_refused_with_409(api, world, hj):
    action = add_action(api, hj, world.ella).json()
    first = api("marte", "patch", f"/risk-actions/{action['id']}", {"version": action["version"],
                                                                      "what": "Ny turnus fra januar"})
    assert first.status_code == 200
    second = api("dina", "patch", f"/risk-actions/{action['id']}", {"version": action["version"],
                                                                      "what": "Ny turnus fra mars"})
    assert second.status_code == 409 and second.json()["message"]
    assert Action.objects.get(pk=action["id"]).what == "Ny turnus fra januar"


def test_the_manager_moves_a_measure_to_another_owner_date_and_risk(api, world, hj):
    risk = add_risk(api, hj).json()
    action = add_action(api, hj, world.ella, risk=risk["id"]).json()
    changed = api("marte", "patch", f"/risk-actions/{action['id']}",
                  {"version": action["version"], "owner": world.emil.pk, "due": iso(40), "risk": None})
    assert changed.status_code == 200, changed.content
    body = changed.json()
    assert (body["owner"], body["due"], body["risk"]) == (world.emil.pk, iso(40), None)
    assert Notification.objects.filter(user=world.user("emil"), kind="risk_action").exists()
    cancelled = api("marte", "patch", f"/risk-actions/{action['id']}", {"version": body["version"],
                                                                          "status": "cancelled"})
    assert cancelled.status_code == 400 and "cancel_reason" in cancelled.json()["errors"]
    assert api("marte", "patch", f"/risk-actions/{action['id']}",
               {"version": body["version"], "owner": None}).status_code == 422


def test_a_measure_names_an_owner_the_manager_may_name(api, world, hj):
    other = start(api, "kim", unit=world.units["SK"].pk)
    foreign_risk = add_risk(api, other, who="kim").json()
    # Kari works in another manager's unit and holds no role: unknown to Marte's API.
    refused = add_action(api, hj, world.kari)
    assert refused.status_code == 400 and set(refused.json()["errors"]) == {"owner"}
    assert add_action(api, hj, world.ella, risk=foreign_risk["id"]).status_code == 400
    bad = add_action(api, hj, world.ella, what="", due=iso(-400))
    assert bad.status_code == 400 and set(bad.json()["errors"]) == {"what", "due"}
    # The safety representative, HR and AMU hold roles everyone may know.
    for person in (world.siri, world.hanne, world.ask):
        assert add_action(api, hj, person).status_code == 201, person.name
    assert not Action.objects.filter(owner=world.kari).exists()


# --- participation --------------------------------------------------------------------------------


def test_the_same_person_is_recorded_once_per_capacity(api, world, hj):
    assert add_participant(api, hj, world.emil).status_code == 201
    again = add_participant(api, hj, world.emil)
    assert again.status_code == 400 and "Emil Ansatt" in again.json()["errors"]["person"][0]
    assert add_participant(api, hj, world.kari).status_code == 400
    assert api("marte", "post", f"/risk-assessments/{hj['id']}/participants",
               {"person": world.emil.pk, "role": "boss", "took_part_on": iso()}).status_code == 422


# --- completing -----------------------------------------------------------------------------------


def test_completion_is_refused_with_its_problems(api, world, hj):
    add_risk(api, hj, likelihood=2, consequence=3)
    version = detail(api, hj).json()["version"]
    response = api("marte", "post", f"/risk-assessments/{hj['id']}/complete", {"version": version, "summary": ""},
                   lang="en")
    assert response.status_code == 400
    problems = " ".join(response.json()["errors"]["__all__"])
    assert "conclusion" in problems and "no measure" in problems and "took part" in problems
    assert detail(api, hj).json()["status"] == "draft"


def test_the_manager_completes_it_from_the_version_she_saw(api, world, hj):
    risk = add_risk(api, hj).json()
    add_action(api, hj, world.ella, risk=risk["id"])
    add_participant(api, hj, world.emil)
    seen = detail(api, hj).json()["version"]
    add_participant(api, hj, world.siri, role="safety_rep", who="dina")
    stale = api("marte", "post", f"/risk-assessments/{hj['id']}/complete", {"version": seen, "summary": "Ferdig"})
    assert stale.status_code == 409
    version = detail(api, hj).json()["version"]
    done = api("marte", "post", f"/risk-assessments/{hj['id']}/complete",
               {"version": version, "summary": "Bemanningen på kveld er hovedrisikoen.", "review_due": iso(180)})
    assert done.status_code == 200, done.content
    body = done.json()
    assert body["status"] == "completed" and body["completed_on"] == iso() and body["review_due"] == iso(180)
    assert body["summary"] == "Bemanningen på kveld er hovedrisikoen."
    # Completed: the register is closed, the plan and the comments stay open.
    assert add_risk(api, hj).status_code == 400
    assert add_action(api, hj, world.emil).status_code == 201
    assert api("emil", "post", f"/risk-assessments/{hj['id']}/comments", {"text": "Takk."}).status_code == 201


# --- the document ---------------------------------------------------------------------------------


def test_the_openapi_document_describes_the_risk_api(client, db):
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    expected = {
        "/api/v1/risk-assessments": {"get", "post"},
        "/api/v1/risk-assessments/{assessment_id}": {"get"},
        "/api/v1/risk-assessments/{assessment_id}/risks": {"post"},
        "/api/v1/risk-assessments/{assessment_id}/actions": {"post"},
        "/api/v1/risk-assessments/{assessment_id}/participants": {"post"},
        "/api/v1/risk-assessments/{assessment_id}/comments": {"post"},
        "/api/v1/risk-assessments/{assessment_id}/complete": {"post"},
        "/api/v1/risk-actions/{action_id}": {"patch"},
    }
    for path, methods in expected.items():
        assert path in paths, path
        assert methods == set(paths[path]), path
        for method in methods:
            operation = paths[path][method]
            assert operation["tags"] == ["risk assessment"], path
            assert {"401", "403"} <= set(operation["responses"]), path
    assert "409" in paths["/api/v1/risk-actions/{action_id}"]["patch"]["responses"]
    completing = paths["/api/v1/risk-assessments/{assessment_id}/complete"]["post"]
    assert {"400", "404", "409", "422"} <= set(completing["responses"])
