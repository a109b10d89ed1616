"""Impartiality (habilitet) holds through the API: a manager who is a party sees nothing."""

import pytest

from tests.api_cases.conftest import workload_case


@pytest.fixture
def harassment_by_marte(api, world):
    """Helga, the sector manager, registers Emil's account of harassment by his manager Marte."""
    body = workload_case(world, kind="harassment", factors=["harassment"],
                         parties=[{"person": world.marte.pk, "role": "accused"}],
                         description="Emil forteller om nedsettende kommentarer fra lederen.",
                         known_at="2027-03-24")
    response = api("helga", "post", "/cases", body)
    assert response.status_code == 201, response.content
    case = response.json()
    measure = api("helga", "post", f"/cases/{case['id']}/measures", {
        "what": "Emil rapporterer til Helga inntil saken er avklart.", "kind": "organisational",
        "area": "organisation", "owner": world.helga.pk, "due": "2027-04-09",
    })
    assert measure.status_code == 201, measure.content
    case["measure"] = measure.json()
    return case


def test_the_accused_manager_gets_404_on_everything_about_the_case(api, world, harassment_by_marte):
    case_id = harassment_by_marte["id"]
    missing = api("marte", "get", "/cases/999999").json()
    calls = [
        ("get", f"/cases/{case_id}", None),
        ("post", f"/cases/{case_id}/entries", {"kind": "note", "occurred_on": "2027-03-24", "text": "Min versjon."}),
        ("post", f"/cases/{case_id}/measures", {"what": "x", "kind": "individual", "owner": world.marte.pk,
                                                "due": "2027-04-01"}),
        ("patch", f"/measures/{harassment_by_marte['measure']['id']}", {"version": 1, "status": "cancelled",
                                                                        "cancel_reason": "Unødvendig."}),
        ("post", f"/cases/{case_id}/close", {"evaluation": "Ingenting å se her.", "version": 1}),
        ("post", f"/cases/{case_id}/reopen", {"reason": "x", "version": 1}),
        ("post", f"/cases/{case_id}/ask-hr", {"note": "x"}),
    ]
    for method, path, body in calls:
        response = api("marte", method, path, body)
        assert response.status_code == 404, (method, path, response.content)
        assert response.json() == missing
    assert harassment_by_marte["number"] not in [c["number"] for c in api("marte", "get", "/cases").json()["items"]]
    assert api("marte", "get", "/deadlines").json()["items"] == []


def test_the_deputy_who_reports_to_the_accused_manager_does_not_handle_the_case(api, world, harassment_by_marte):
    assert api("dina", "get", f"/cases/{harassment_by_marte['id']}").status_code == 404


def test_the_next_manager_up_and_hr_handle_the_case_instead(api, world, harassment_by_marte):
    body = api("helga", "get", f"/cases/{harassment_by_marte['id']}").json()
    assert body["owner"] == world.helga.pk
    assert body["restricted"] is True
    handlers = {h["person"]: h["role"] for h in body["handlers"]}
    assert handlers[world.helga.pk] == "next_manager"
    assert handlers[world.hugo.pk] == "hr"
    assert world.marte.pk not in handlers
    assert next(d for d in body["deadlines"] if d["rule"] == "harassment.hr_involved")["status"] == "met"
    assert api("hugo", "get", f"/cases/{harassment_by_marte['id']}").status_code == 200


def test_a_restricted_case_is_hidden_from_managers_and_hr_who_do_not_handle_it(api, world, harassment_by_marte):
    # Organisation-wide HR sees ordinary cases through her scope, but not this one.
    assert api("hanne", "get", f"/cases/{harassment_by_marte['id']}").status_code == 404
    assert api("sander", "get", f"/cases/{harassment_by_marte['id']}").status_code == 404
