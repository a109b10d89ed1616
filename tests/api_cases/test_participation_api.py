"""The concerned employee's view: her own cases, with only what was shared with her."""

import pytest


@pytest.fixture
def case(open_case, api, world):
    """Marte's case about Emil, with one thing of each: shared and internal."""
    case = open_case()
    path = f"/cases/{case['id']}"
    for body in [
        {"kind": "conversation", "occurred_on": "2027-03-23", "text": "Vi snakket om arbeidsmengden.",
         "data": {"participants": [world.emil.pk, world.marte.pk]}},
        {"kind": "note", "occurred_on": "2027-03-23", "text": "Intern: sjekk turnus."},
        {"kind": "assessment", "occurred_on": "2027-03-24", "text": "Høy belastning.",
         "data": {"health_risk": "medium", "work_related": "yes"}},
    ]:
        assert api("marte", "post", f"{path}/entries", body).status_code == 201
    shared = api("marte", "post", f"{path}/measures", {
        "what": "Færre brukere på Emils liste.", "kind": "organisational", "area": "workload",
        "owner": world.marte.pk, "due": "2027-04-15"})
    internal = api("marte", "post", f"{path}/measures", {
        "what": "Vurdere bemanning i turnusen.", "kind": "organisational", "area": "organisation",
        "owner": world.marte.pk, "due": "2027-04-30", "visibility": "internal"})
    case["shared_measure"], case["internal_measure"] = shared.json(), internal.json()
    return case


def test_the_concerned_employee_gets_404_on_the_handlers_view(api, world, case):
    assert api("emil", "get", f"/cases/{case['id']}").status_code == 404


def test_the_concerned_employee_sees_only_what_was_shared_with_her(api, world, case):
    response = api("emil", "get", f"/participation/cases/{case['id']}")
    assert response.status_code == 200
    body = response.json()
    assert body["number"] == case["number"]
    assert body["owner_name"] == "Marte Leder"
    kinds = [e["kind"] for e in body["entries"]]
    assert "conversation" in kinds
    assert "note" not in kinds and "assessment" not in kinds and "system" not in kinds
    assert all(e["visibility"] == "shared" for e in body["entries"])
    assert [m["id"] for m in body["measures"]] == [case["shared_measure"]["id"]]
    # The handlers' material is not part of this view at all.
    assert not {"deadlines", "description", "parties", "handlers"} & set(body)


def test_a_colleague_sees_nothing_of_the_case(api, world, case):
    assert api("ella", "get", f"/participation/cases/{case['id']}").status_code == 404
    assert api("ella", "get", "/participation/cases").json()["items"] == []


def test_a_shared_entry_about_one_party_is_shown_to_that_party_only(api, world, open_case):
    conflict = open_case(kind="conflict", concerns=[world.emil.pk, world.ella.pk])
    response = api("marte", "post", f"/cases/{conflict['id']}/entries", {
        "kind": "conversation", "occurred_on": "2027-03-24", "text": "Samtale med Ella alene.",
        "data": {"participants": [world.ella.pk, world.marte.pk]}, "about": world.ella.pk})
    assert response.status_code == 201
    def texts(key):
        return [e["text"] for e in api(key, "get", f"/participation/cases/{conflict['id']}").json()["entries"]]

    assert "Samtale med Ella alene." in texts("ella")
    assert "Samtale med Ella alene." not in texts("emil")


def test_the_list_shows_the_employee_her_own_cases(api, world, case, open_case):
    open_case(concerns=[world.ella.pk])
    body = api("emil", "get", "/participation/cases").json()
    assert [c["number"] for c in body["items"]] == [case["number"]]


def test_the_concerned_employee_comments_and_the_handler_sees_it(api, world, case):
    response = api("emil", "post", f"/participation/cases/{case['id']}/comments",
                   {"text": "Jeg kjenner meg ikke igjen i alt som står her."})
    assert response.status_code == 201
    comment = response.json()
    assert comment["kind"] == "comment"
    assert comment["occurred_on"] == "2027-03-24"
    assert comment["about"] == world.emil.pk
    handler_view = api("marte", "get", f"/cases/{case['id']}").json()
    assert comment["id"] in [e["id"] for e in handler_view["entries"]]


def test_the_concerned_employee_disagrees_with_a_measure(api, world, case):
    path = f"/participation/measures/{case['shared_measure']['id']}/response"
    response = api("emil", "post", path, {"agrees": False, "comment": "Det hjelper ikke på kveldsvaktene."})
    assert response.status_code == 201
    assert response.json()["kind"] == "measure_response"
    assert response.json()["data"] == {"agrees": False}
    # An internal measure is not hers to see, nor a colleague's to answer.
    internal = f"/participation/measures/{case['internal_measure']['id']}/response"
    assert api("emil", "post", internal, {"agrees": True}).status_code == 404
    assert api("ella", "post", path, {"agrees": True}).status_code == 404


def test_a_comment_needs_text_and_yes_or_no_must_be_a_boolean(api, world, case):
    empty = api("emil", "post", f"/participation/cases/{case['id']}/comments", {"text": "  "})
    assert empty.status_code == 400
    assert list(empty.json()["errors"]) == ["text"]
    path = f"/participation/measures/{case['shared_measure']['id']}/response"
    assert api("emil", "post", path, {"agrees": "yes"}).status_code == 422


def test_a_colleague_cannot_comment_on_the_case(api, world, case):
    response = api("ella", "post", f"/participation/cases/{case['id']}/comments", {"text": "Hei"})
    assert response.status_code == 404
