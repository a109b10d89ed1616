"""The access copy, its requests and the inspection pack through the JSON API.

The same exports, access rules and audit events as the pages (test_access_copy.py and
test_inspection_pack.py cover the content); here: who gets what, in which shape, and
that the API writes the same events.
"""

import io
import zipfile
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from tidsnok.access.services import create_token
from tidsnok.audit.models import AuditEvent
from tidsnok.cases import services as case_services
from tidsnok.cases.models import Kind, Source
from tidsnok.reports.access_copy import DELIVERED_ACTION, EXPORT_ACTION
from tidsnok.reports.access_copy_requests import REQUEST_ACTION
from tidsnok.reports.inspection import PACK_ACTION
from tidsnok.reports.models import AccessRequest

OSLO = ZoneInfo("Europe/Oslo")
TODAY = date(2027, 4, 20)
# Creating a persona's token is itself an event; these are what an export writes.
EXPORT_EVENTS = (PACK_ACTION, "case.exported")
PACK_FILES = {"innhold.txt", "etterlevelse.csv", "sykefravaer.csv", "saker.csv", "frister.csv",
              "varslingsrutiner.txt", "risikovurderinger.csv", "handlingsplaner.csv"}


@pytest.fixture(autouse=True)
def today():
    with time_machine.travel(datetime(2027, 4, 20, 10, tzinfo=OSLO), tick=False):
        yield TODAY




# --- the access copy ------------------------------------------------------------------------------


def test_hr_downloads_the_access_copy_as_a_pdf_attachment_and_the_export_is_audited(world, api):
    response = api("hanne", "get", f"/people/{world.emil.pk}/access-copy?lang=en")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    assert 'attachment; filename="access-copy-T004-2027-04-20.pdf"' == response["Content-Disposition"]
    assert response["Content-Language"] == "en" and "no-store" in response["Cache-Control"]
    event = AuditEvent.objects.get(action=EXPORT_ACTION)
    assert (event.object_type, event.object_id, event.actor) == ("org.person", str(world.emil.pk),
                                                                world.user("hanne"))
    assert event.data["language"] == "en" and event.data["request"] is None
    assert not AuditEvent.objects.filter(action=DELIVERED_ACTION).exists()


def test_the_access_copy_is_in_norwegian_unless_asked_otherwise(world, api):
    response = api("ada", "get", f"/people/{world.emil.pk}/access-copy")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="innsynskopi-')


@pytest.mark.parametrize("key", ["marte", "emil", "kim"])
def test_anyone_but_hr_and_administrators_gets_404_for_the_access_copy(world, api, key):
    response = api(key, "get", f"/people/{world.emil.pk}/access-copy")
    assert response.status_code == 404
    assert response.json() == api(key, "get", "/people/999999999/access-copy").json()
    assert not AuditEvent.objects.filter(action=EXPORT_ACTION).exists()


def test_hr_outside_the_persons_scope_gets_the_same_404_as_for_a_person_that_does_not_exist(world, api):
    outside = api("hugo", "get", f"/people/{world.kari.pk}/access-copy")
    missing = api("hugo", "get", "/people/999999999/access-copy")
    assert outside.status_code == missing.status_code == 404
    assert outside.json() == missing.json()
    assert not AuditEvent.objects.filter(action=EXPORT_ACTION).exists()


def test_an_unknown_language_is_refused_with_a_message_for_the_field(world, api):
    response = api("hanne", "get", f"/people/{world.emil.pk}/access-copy?lang=de")
    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["lang"]
    assert not AuditEvent.objects.filter(action=EXPORT_ACTION).exists()


def test_an_employee_asks_for_her_copy_and_asking_again_returns_the_open_request(world, api):
    first = api("emil", "post", "/me/access-requests")
    assert first.status_code == 201
    body = first.json()
    request = AccessRequest.objects.get()
    assert body == {"id": request.pk, "person": world.emil.pk, "received_on": "2027-04-20",
                    "due_on": "2027-05-20", "overdue": False, "delivered_on": None}
    assert AuditEvent.objects.filter(action=REQUEST_ACTION, object_id=str(world.emil.pk)).count() == 1

    again = api("emil", "post", "/me/access-requests")
    assert again.status_code == 200 and again.json() == body
    assert AccessRequest.objects.count() == 1
    assert AuditEvent.objects.filter(action=REQUEST_ACTION).count() == 1

    mine = api("emil", "get", "/me/access-requests").json()
    assert mine == {"items": [body], "count": 1}
    # Someone else's requests are not hers.
    assert api("ella", "get", "/me/access-requests").json() == {"items": [], "count": 0}


def test_hr_lists_the_open_requests_in_its_scope_with_overdue_marked(world, api, today):
    with time_machine.travel(datetime(2027, 2, 1, 10, tzinfo=OSLO), tick=False):
        assert api("kari", "post", "/me/access-requests").status_code == 201  # due 1 March: overdue
    assert api("emil", "post", "/me/access-requests").status_code == 201
    kari_request = AccessRequest.objects.get(person=world.kari)
    emil_request = AccessRequest.objects.get(person=world.emil)

    everyone = api("hanne", "get", "/access-requests").json()
    assert everyone["count"] == 2
    assert everyone["items"] == [  # the most urgent first
        {"id": kari_request.pk, "person": world.kari.pk, "received_on": "2027-02-01", "due_on": "2027-03-01",
         "overdue": True},
        {"id": emil_request.pk, "person": world.emil.pk, "received_on": "2027-04-20", "due_on": "2027-05-20",
         "overdue": False},
    ]
    paged = api("hanne", "get", "/access-requests?page=2&page_size=1").json()
    assert paged == {"items": [everyone["items"][1]], "count": 2}
    # HR for Helse sees Emil's only; the administrator both.
    assert [r["person"] for r in api("hugo", "get", "/access-requests").json()["items"]] == [world.emil.pk]
    assert api("ada", "get", "/access-requests").json()["count"] == 2


@pytest.mark.parametrize("key", ["marte", "emil", "kim"])
def test_a_caller_who_may_answer_no_request_gets_an_empty_list(world, api, key):
    assert api("emil", "post", "/me/access-requests").status_code == 201
    response = api(key, "get", "/access-requests")
    assert response.status_code == 200 and response.json() == {"items": [], "count": 0}


def test_the_api_export_marks_the_open_request_delivered(world, api):
    assert api("emil", "post", "/me/access-requests").status_code == 201
    request = AccessRequest.objects.get()
    response = api("hugo", "get", f"/people/{world.emil.pk}/access-copy")
    assert response.status_code == 200
    request.refresh_from_db()
    exported = AuditEvent.objects.get(action=EXPORT_ACTION)
    delivered = AuditEvent.objects.get(action=DELIVERED_ACTION)
    assert not request.is_open
    assert request.delivered_by == world.user("hugo") and request.delivered_sha256 == exported.data["sha256"]
    assert exported.data["request"] == request.pk
    assert delivered.data == {"request": request.pk, "sha256": exported.data["sha256"], "late": False}
    assert delivered.seq == exported.seq + 1
    # The employee sees it delivered, HR's list is empty again, and a second export marks nothing.
    assert api("emil", "get", "/me/access-requests").json()["items"][0]["delivered_on"] == "2027-04-20"
    assert api("hugo", "get", "/access-requests").json() == {"items": [], "count": 0}
    assert api("hugo", "get", f"/people/{world.emil.pk}/access-copy").status_code == 200
    assert AuditEvent.objects.filter(action=DELIVERED_ACTION).count() == 1
    assert AuditEvent.objects.filter(action=EXPORT_ACTION).count() == 2


def test_a_login_without_a_person_cannot_ask_for_a_copy(world, client):
    from tidsnok.org.models import User

    operator = User.objects.create_user(email="operator@test.no", password="x")
    headers = {"HTTP_AUTHORIZATION": f"Bearer {create_token(None, operator)[1]}"}
    assert client.post("/api/v1/me/access-requests", **headers).status_code == 404
    assert client.get("/api/v1/me/access-requests", **headers).json() == {"items": [], "count": 0}
    assert client.get("/api/v1/access-requests", **headers).json() == {"items": [], "count": 0}
    assert not AccessRequest.objects.exists()


# --- the inspection pack --------------------------------------------------------------------------


def unpack(content: bytes) -> set[str]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return set(archive.namelist())


@pytest.fixture
def case(world):
    with time_machine.travel(datetime(2027, 3, 22, 9, tzinfo=OSLO), tick=False):
        return case_services.open_case(
            world.user("marte"), kind=Kind.PSYCHOSOCIAL, concerns=[world.emil], factors=["workload"],
            description="Emil sier han ikke rekker arbeidsoppgavene.", source=Source.EMPLOYEE_TOLD,
            known_at=date(2027, 3, 22),
        )


def test_hr_gets_the_pack_as_a_zip_attachment_and_the_export_is_audited(world, api, case):
    body = {"start": "2027-01-01", "end": "2027-04-20", "case_numbers": [case.number.lower()]}
    response = api("hanne", "post", "/inspection-packs", body)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == 'attachment; filename="tilsynspakke-2027-04-20.zip"'
    assert "no-store" in response["Cache-Control"]
    assert unpack(response.content) == PACK_FILES | {f"saker/{case.number}.pdf"}
    event = AuditEvent.objects.get(action=PACK_ACTION)
    assert event.actor == world.user("hanne")
    assert event.data["start"] == "2027-01-01" and event.data["end"] == "2027-04-20"
    assert event.data["case_pdfs"] == [f"{case.number}.pdf"]
    assert AuditEvent.objects.filter(action="case.exported", object_id=str(case.pk)).count() == 1


def test_an_administrator_gets_the_pack_without_case_numbers(world, api):
    response = api("ada", "post", "/inspection-packs", {"start": "2027-01-01", "end": "2027-04-20"})
    assert response.status_code == 200 and unpack(response.content) == PACK_FILES
    assert AuditEvent.objects.filter(action=PACK_ACTION).count() == 1


@pytest.mark.parametrize("key", ["marte", "emil", "kim", "kari"])
def test_anyone_but_hr_and_administrators_gets_404_as_on_the_page(world, api, key):
    response = api(key, "post", "/inspection-packs", {"start": "2027-01-01", "end": "2027-04-20"})
    assert response.status_code == 404 and response.json()["message"]
    assert not AuditEvent.objects.filter(action=PACK_ACTION).exists()


@pytest.mark.parametrize("body, status, field, message", [
    ({"start": "2027-04-20", "end": "2027-01-01"}, 400, "end", "Perioden må begynne før den slutter."),
    ({"start": "2027-01-01", "end": "2027-05-01"}, 400, "end", "Perioden kan ikke slutte etter i dag."),
    ({"start": "2020-01-01", "end": "2027-04-20"}, 400, "start", "Velg en periode på høyst fem år."),
    ({"start": "2027-02-31", "end": "2027-04-20"}, 422, "start", ""),
    ({"end": "2027-04-20"}, 422, "start", ""),
    ({"start": "2027-01-01", "end": "2027-04-20", "case_numbers": [f"SAK-{n}" for n in range(21)]}, 422,
     "case_numbers", "20"),
])
def test_bad_input_is_refused_with_a_message_for_the_field_and_nothing_is_written(world, api, body, status, field,
                                                                                    message):
    response = api("hanne", "post", "/inspection-packs", body)
    assert response.status_code == status
    errors = response.json()["errors"]
    assert list(errors) == [field] and errors[field][0]
    assert message in errors[field][0]
    assert not AuditEvent.objects.filter(action__in=EXPORT_EVENTS).exists()


def test_a_case_hr_may_not_export_is_refused_like_one_that_does_not_exist(world, api):
    with time_machine.travel(datetime(2027, 3, 22, 9, tzinfo=OSLO), tick=False):
        school = case_services.open_case(
            world.user("kim"), kind=Kind.PSYCHOSOCIAL, concerns=[world.kari], factors=["workload"],
            description="Kari har for mye.", source=Source.EMPLOYEE_TOLD, known_at=date(2027, 3, 22),
        )
    body = {"start": "2027-01-01", "end": "2027-04-20"}
    outside = api("hugo", "post", "/inspection-packs", {**body, "case_numbers": [school.number]})
    missing = api("hugo", "post", "/inspection-packs", {**body, "case_numbers": ["SAK-1999-0001"]})
    assert outside.status_code == missing.status_code == 400
    assert outside.json()["errors"]["case_numbers"][0].replace(school.number, "?") == \
        missing.json()["errors"]["case_numbers"][0].replace("SAK-1999-0001", "?")
    assert not AuditEvent.objects.filter(action__in=EXPORT_EVENTS).exists()


def test_the_messages_follow_the_users_language(world, api):
    hanne = world.user("hanne")
    hanne.language = "en"
    hanne.save(update_fields=["language"])
    response = api("hanne", "post", "/inspection-packs", {"start": "2027-04-20", "end": "2027-01-01"})
    assert response.status_code == 400
    assert response.json()["errors"] == {"end": ["The period must start before it ends."]}
