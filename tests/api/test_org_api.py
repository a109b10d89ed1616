"""The organisation API: /me, /units, /people, /people/{id}.

Both ways in are covered: a personal bearer token and the browser session.
"""

import pytest
from django.utils import timezone

from tests.conftest import enrol_totp
from tidsnok.access.services import create_token, revoke_token


def bearer(world, key: str) -> dict:
    _, raw = create_token(None, world.user(key))
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def people_keys(world, response) -> set[str]:
    by_id = {p.pk: key for key, p in world.people.items()}
    return {by_id[item["id"]] for item in response.json()["items"]}


# --- authentication ---------------------------------------------------------

def test_me_with_a_token_names_the_user_her_person_and_roles(world, client):
    response = client.get("/api/v1/me", **bearer(world, "marte"))
    assert response.status_code == 200
    body = response.json()
    assert body["email"] == "marte@test.no"
    assert body["person"] == world.marte.pk
    assert body["unit"] == world.units["HJ"].pk
    assert body["roles"] == [
        {"role": "manager", "unit": world.units["HJ"].pk, "starts_on": "2019-01-01", "ends_on": None}
    ]
    assert body["second_factor_required"] is False


def test_me_with_a_session_works_for_a_manager(world, client):
    client.force_login(world.user("marte"))
    response = client.get("/api/v1/me")
    assert response.status_code == 200
    assert response.json()["email"] == "marte@test.no"


def test_me_leaves_out_roles_that_have_ended(world, client):
    body = client.get("/api/v1/me", **bearer(world, "frode")).json()
    assert body["roles"] == []


def test_request_without_credentials_is_refused_with_a_json_message(world, client):
    response = client.get("/api/v1/people")
    assert response.status_code == 401
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["message"]


def test_unknown_token_is_refused(world, client):
    response = client.get("/api/v1/me", HTTP_AUTHORIZATION="Bearer tn_not-a-real-token")
    assert response.status_code == 401
    assert response.json()["message"]


def test_revoked_token_is_refused(world, client):
    token, raw = create_token(None, world.user("marte"))
    assert client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200
    revoke_token(None, token)
    response = client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 401
    assert response.json()["message"]


def test_token_of_a_deactivated_user_is_refused(world, client):
    headers = bearer(world, "marte")
    user = world.user("marte")
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert client.get("/api/v1/me", **headers).status_code == 401


def test_token_use_is_recorded_on_the_token(world, client):
    token, raw = create_token(None, world.user("marte"))
    assert token.last_used_at is None
    client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {raw}")
    token.refresh_from_db()
    assert token.last_used_at is not None and token.last_used_at <= timezone.now()


@pytest.mark.parametrize("key", ["hanne", "hugo", "ada"])
def test_hr_or_admin_session_without_second_factor_is_refused_with_json(world, client, key):
    client.force_login(world.user(key))
    response = client.get("/api/v1/me")
    # JSON, not the redirect to the enrolment page the HTML pages answer with.
    assert response.status_code == 403
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["message"]


def test_second_factor_refusal_speaks_norwegian_by_default_and_english_on_request(world, client):
    client.force_login(world.user("hanne"))
    assert "tofaktorautentisering" in client.get("/api/v1/me").json()["message"]
    english = client.get("/api/v1/me", HTTP_ACCEPT_LANGUAGE="en").json()["message"]
    assert english == "Set up a second factor before you use the API from the browser."


def test_hr_session_with_second_factor_is_accepted(world, client):
    enrol_totp(world.user("hanne"))
    client.force_login(world.user("hanne"))
    response = client.get("/api/v1/me")
    assert response.status_code == 200
    assert response.json()["second_factor_required"] is True


@pytest.mark.parametrize("key", ["hanne", "ada"])
def test_hr_or_admin_token_works_without_second_factor(world, client, key):
    # Tokens are issued by the operator to one person and can be revoked; the
    # second factor guards the password login, which a token does not use.
    response = client.get("/api/v1/me", **bearer(world, key))
    assert response.status_code == 200
    assert response.json()["second_factor_required"] is True


def test_token_overrides_a_session_without_second_factor(world, client):
    client.force_login(world.user("hanne"))
    assert client.get("/api/v1/me", **bearer(world, "hanne")).status_code == 200


# --- units --------------------------------------------------------------------

@pytest.mark.parametrize("key", ["emil", "marte", "siri", "ada"])
def test_everyone_in_the_organisation_sees_all_units(world, client, key):
    body = client.get("/api/v1/units", **bearer(world, key)).json()
    assert body["count"] == 5
    assert [u["code"] for u in body["items"]] == ["ROOT", "HEL", "HJ", "SY", "SK"]
    hj = next(u for u in body["items"] if u["code"] == "HJ")
    assert hj == {"id": world.units["HJ"].pk, "code": "HJ", "name": "Hjemmetjenesten",
                  "parent": world.units["HEL"].pk, "depth": 2}


def test_units_are_paginated(world, client):
    headers = bearer(world, "emil")
    first = client.get("/api/v1/units?page_size=2", **headers).json()
    third = client.get("/api/v1/units?page_size=2&page=3", **headers).json()
    beyond = client.get("/api/v1/units?page_size=2&page=99", **headers).json()
    assert first["count"] == third["count"] == beyond["count"] == 5
    assert [u["code"] for u in first["items"]] == ["ROOT", "HEL"]
    assert [u["code"] for u in third["items"]] == ["SK"]
    assert beyond["items"] == []


def test_page_size_above_the_limit_is_invalid_input(world, client):
    response = client.get("/api/v1/units?page_size=201", **bearer(world, "emil"))
    assert response.status_code == 422
    assert response.json()["message"]
    assert "page_size" in response.json()["errors"]


def test_absurd_page_number_is_an_empty_page_not_an_error(world, client):
    response = client.get(f"/api/v1/units?page={10**30}", **bearer(world, "emil"))
    assert response.status_code == 200
    assert response.json()["items"] == []


def test_user_without_a_person_sees_no_units_or_people(world, client):
    from tidsnok.org.models import User

    User.objects.create_user(email="operator@test.no", password="x" * 20)
    client.force_login(User.objects.get(email="operator@test.no"))
    assert client.get("/api/v1/units").json() == {"items": [], "count": 0}
    assert client.get("/api/v1/people").json() == {"items": [], "count": 0}
    assert client.get("/api/v1/me").json()["person"] is None


# --- people -------------------------------------------------------------------

def test_manager_lists_the_people_of_her_unit(world, client):
    response = client.get("/api/v1/people", **bearer(world, "marte"))
    assert response.status_code == 200
    assert people_keys(world, response) == {"marte", "frode", "dina", "emil", "ella"}
    emil = next(i for i in response.json()["items"] if i["id"] == world.emil.pk)
    assert emil == {"id": world.emil.pk, "employee_number": world.emil.employee_number, "name": "Emil Ansatt",
                    "email": "emil@test.no", "unit": world.units["HJ"].pk, "position": "Rådgiver",
                    "start_date": "2020-01-01"}


def test_people_are_listed_by_name(world, client):
    items = client.get("/api/v1/people", **bearer(world, "marte")).json()["items"]
    assert [i["name"] for i in items] == sorted(i["name"] for i in items)


def test_employee_lists_only_herself(world, client):
    response = client.get("/api/v1/people", **bearer(world, "emil"))
    assert people_keys(world, response) == {"emil"}


def test_session_list_follows_the_same_policy(world, client):
    client.force_login(world.user("sander"))
    assert people_keys(world, client.get("/api/v1/people")) == {"sander", "stine", "siri"}


def test_people_filter_by_unit_stays_within_what_the_user_may_see(world, client):
    headers = bearer(world, "helga")
    assert people_keys(world, client.get(f"/api/v1/people?unit={world.units['SY'].pk}", **headers)) == {
        "sander", "stine", "siri"
    }
    # A unit outside her scope gives nothing, not its people.
    response = client.get(f"/api/v1/people?unit={world.units['SK'].pk}", **headers)
    assert response.json() == {"items": [], "count": 0}


def test_people_filter_by_name(world, client):
    response = client.get("/api/v1/people?q=ansatt", **bearer(world, "marte"))
    assert people_keys(world, response) == {"emil", "ella"}


def test_people_filter_by_name_folds_norwegian_letters(world, client):
    from tidsnok.org.models import Person

    Person.objects.create(organisation=world.org, employee_number="N1", name="Åse Ødegård", unit=world.units["HJ"])
    response = client.get("/api/v1/people?q=%C3%B8deg%C3%A5rd", **bearer(world, "marte"))  # "ødegård"
    assert [p["name"] for p in response.json()["items"]] == ["Åse Ødegård"]


def test_people_filter_refuses_nul_characters(world, client):
    response = client.get("/api/v1/people?q=a%00b", **bearer(world, "marte"))
    assert response.status_code == 422
    assert response.json()["message"]


def test_people_filter_refuses_an_id_beyond_64_bits(world, client):
    response = client.get(f"/api/v1/people?unit={2**64}", **bearer(world, "marte"))
    assert response.status_code == 422


def test_people_list_is_paginated(world, client):
    body = client.get("/api/v1/people?page_size=2&page=2", **bearer(world, "marte")).json()
    assert body["count"] == 5
    assert len(body["items"]) == 2


@pytest.mark.parametrize("key, queries", [
    # token, person, her active roles (admin? HR? manager? all at once), count, page
    ("hanne", 5),
    # ... and for a manager: the units below the ones she manages
    ("marte", 6),
])
def test_people_list_query_count_is_pinned_and_does_not_grow_with_the_page(
    world, client, django_assert_num_queries, key, queries
):
    headers = bearer(world, key)
    client.get("/api/v1/me", **headers)  # the token's first use writes last_used_at
    with django_assert_num_queries(queries):
        small = client.get("/api/v1/people?page_size=1", **headers)
    with django_assert_num_queries(queries):
        large = client.get("/api/v1/people?page_size=200", **headers)
    assert len(small.json()["items"]) == 1
    assert len(large.json()["items"]) == large.json()["count"] > 1


# --- one person ---------------------------------------------------------------

def test_manager_reads_one_of_her_people(world, client):
    response = client.get(f"/api/v1/people/{world.emil.pk}", **bearer(world, "marte"))
    assert response.status_code == 200
    assert response.json()["name"] == "Emil Ansatt"
    assert response.json()["unit"] == world.units["HJ"].pk


def test_person_outside_her_scope_is_not_found_exactly_like_a_missing_one(world, client):
    headers = bearer(world, "marte")
    hidden = client.get(f"/api/v1/people/{world.stine.pk}", **headers)
    missing = client.get("/api/v1/people/999999", **headers)
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json() == missing.json()
    assert hidden.json()["message"]


def test_person_id_that_is_not_a_number_is_invalid_input(world, client):
    response = client.get("/api/v1/people/abc", **bearer(world, "marte"))
    assert response.status_code == 422
    assert response.json()["message"]


def test_person_lookup_with_a_session_follows_the_policy(world, client):
    client.force_login(world.user("kim"))
    assert client.get(f"/api/v1/people/{world.kari.pk}").status_code == 200
    assert client.get(f"/api/v1/people/{world.emil.pk}").status_code == 404


# --- the OpenAPI document -------------------------------------------------------

def test_openapi_document_documents_bearer_tokens_and_every_error(world, client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    assert spec["openapi"].startswith("3.")
    schemes = spec["components"]["securitySchemes"]
    assert schemes["BearerToken"] == {"type": "http", "scheme": "bearer"}
    assert schemes["Session"]["type"] == "apiKey" and schemes["Session"]["in"] == "cookie"
    paths = spec["paths"]
    for path in ("/api/v1/me", "/api/v1/units", "/api/v1/people", "/api/v1/people/{person_id}"):
        operation = paths[path]["get"]
        assert {"BearerToken": []} in operation["security"], path
        assert {"200", "401", "403"} <= set(operation["responses"]), path
        error_schema = operation["responses"]["401"]["content"]["application/json"]["schema"]
        assert error_schema == {"$ref": "#/components/schemas/ErrorOut"}, path
    assert "404" in paths["/api/v1/people/{person_id}"]["get"]["responses"]
    assert "message" in spec["components"]["schemas"]["ErrorOut"]["required"]


def test_a_page_number_in_exponent_form_is_read_as_the_whole_number(world, client):
    # A client's float prints 10**16 as "1e+16"; it is a whole number, so an empty page.
    response = client.get("/api/v1/units?page=1e%2B16", **bearer(world, "emil"))
    assert response.status_code == 200 and response.json()["items"] == []
    assert client.get("/api/v1/units?page=2.0&page_size=1", **bearer(world, "emil")).status_code == 200
    assert client.get("/api/v1/units?page=1.5", **bearer(world, "emil")).status_code == 422
