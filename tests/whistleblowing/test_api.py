"""The whistleblowing API: the open reporting channel, the reporter's receipt, and HR's endpoints."""

from datetime import date

import pytest
import time_machine

from tests.whistleblowing.conftest import send
from tidsnok.access.services import create_token
from tidsnok.cases.models import Case
from tidsnok.whistleblowing import services
from tidsnok.whistleblowing.models import Message, Protection, Report, RetaliationCheck

TODAY = date(2027, 3, 1)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(TODAY, tick=False):
        yield


def bearer(user) -> dict:
    _, token = create_token(None, user)
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def post(client, path, body, **headers):
    return client.post(path, body, content_type="application/json", **headers)


REPORT = {"category": "harassment", "anonymity": "anonymous", "description": "Sjikane i personalrommet."}


def test_an_anonymous_report_through_the_api_returns_the_receipt_once(world, client):
    response = post(client, "/api/v1/reports", REPORT)
    assert response.status_code == 201
    body = response.json()
    assert body["received_on"] == "2027-03-01"
    receipt = body["receipt"]
    assert len(receipt.replace("-", "")) == 24
    assert receipt not in repr(Report.objects.values().get())
    assert "Location" not in response
    # Reading it back with the receipt shows no receipt again.
    view = client.get("/api/v1/reports/receipt", HTTP_X_RECEIPT=receipt)
    assert view.status_code == 200 and receipt not in view.content.decode()


def test_every_category_of_the_law_is_accepted(world, client):
    for category in ("work_environment", "harassment", "health_safety", "financial_crime", "abuse_of_authority",
                     "data_security", "other"):
        assert post(client, "/api/v1/reports", {**REPORT, "category": category}).status_code == 201, category
    assert post(client, "/api/v1/reports", {**REPORT, "category": "gossip"}).status_code == 422


def test_named_reports_through_the_api_need_the_reporters_token(world, client):
    refused = post(client, "/api/v1/reports", {**REPORT, "anonymity": "named"})
    assert refused.status_code == 400 and "anonymity" in refused.json()["errors"]
    response = post(client, "/api/v1/reports", {**REPORT, "anonymity": "confidential"}, **bearer(world.user("emil")))
    assert response.status_code == 201 and response.json()["receipt"] is None
    assert Report.objects.get().reporter == world.emil
    assert Protection.objects.filter(person=world.emil).exists()


def test_a_session_cookie_cannot_send_a_report_in_someone_elses_name(world, client):
    client.force_login(world.user("emil"))  # no CSRF check on the open channel, so a session does not count
    response = post(client, "/api/v1/reports", {**REPORT, "anonymity": "named"})
    assert response.status_code == 400
    assert not Report.objects.exists()


def test_the_reporter_reads_and_writes_with_the_receipt_header(world, client):
    submitted = send(world)
    services.send_message(world.user("hanne"), submitted.report, "Når skjedde det sist?")
    view = client.get("/api/v1/reports/receipt", HTTP_X_RECEIPT=submitted.receipt.grouped).json()
    assert view["status"] == "open"
    assert [m["body"] for m in view["messages"]] == ["Når skjedde det sist?"]
    response = post(client, "/api/v1/reports/receipt", {"message": "I går kveld."},
                    HTTP_X_RECEIPT=submitted.receipt.code)
    assert response.status_code == 201
    assert [m["direction"] for m in response.json()["messages"]] == ["to_reporter", "from_reporter"]
    assert services.body_of(Message.objects.get(direction="from_reporter")) == "I går kveld."
    assert client.get("/api/v1/reports/receipt").status_code == 422  # no header


def test_the_reporter_consents_through_the_api(world, client):
    submitted = send(world)
    services.record_assessment(world.user("hanne"), submitted.report, submitted.report.version,
                               assessment="personal_grievance", reasoning="Eget arbeidsforhold.")
    view = client.get("/api/v1/reports/receipt", HTTP_X_RECEIPT=submitted.receipt.code).json()
    assert view["consent_requested"] is True
    response = post(client, "/api/v1/reports/receipt", {"consent": False}, HTTP_X_RECEIPT=submitted.receipt.code)
    assert response.status_code == 201 and response.json()["consent_requested"] is False
    assert Report.objects.get().redirect_consent is False


def test_handlers_read_the_report_through_the_api_and_others_get_404(world, client):
    submitted = send(world, description="Lekkasje av pasientjournaler.", category="data_security")
    case_id = submitted.report.case_id
    body = client.get(f"/api/v1/cases/{case_id}/report", **bearer(world.user("hanne"))).json()
    assert body["description"] == "Lekkasje av pasientjournaler." and body["reporter"] is None
    spine = client.get(f"/api/v1/cases/{case_id}", **bearer(world.user("hanne"))).json()
    assert spine["kind"] == "whistleblowing" and "Lekkasje" not in repr(spine)
    for name in ("hugo", "marte", "ada", "emil"):
        headers = bearer(world.user(name))
        assert client.get(f"/api/v1/cases/{case_id}/report", **headers).status_code == 404, name
        assert client.get(f"/api/v1/cases/{case_id}", **headers).status_code == 404, name


def test_hr_reports_a_change_and_learns_nothing_about_protection(world, client):
    send(world, user=world.user("emil"), anonymity="confidential")
    headers = bearer(world.user("hanne"))
    change = {"type": "hours", "change_on": "2027-03-01", "justification": "Ny turnus for alle."}
    protected = post(client, f"/api/v1/people/{world.emil.pk}/changes", change, **headers)
    unprotected = post(client, f"/api/v1/people/{world.ella.pk}/changes", change, **headers)
    assert protected.status_code == unprotected.status_code == 202
    assert protected.json() == unprotected.json()
    assert RetaliationCheck.objects.count() == 1
    assert post(client, f"/api/v1/people/{world.emil.pk}/changes", change,
                **bearer(world.user("marte"))).status_code == 404
    assert post(client, f"/api/v1/people/{world.emil.pk}/changes", {**change, "justification": ""},
                **headers).status_code == 400


def test_retaliation_checks_name_the_person_only_to_the_handlers_of_the_case(world, client):
    from tidsnok.cases import services as case_services
    from tidsnok.cases.models import Kind, Source

    concern = case_services.open_case(world.user("marte"), kind=Kind.PSYCHOSOCIAL, concerns=[world.emil],
                                      description="Bekymring.", source=Source.EMPLOYEE_TOLD, known_at=TODAY)
    post(client, f"/api/v1/people/{world.emil.pk}/changes",
         {"type": "tasks", "change_on": "2027-03-01", "justification": "Omorganisering."}, **bearer(world.user("hanne")))
    handler = client.get("/api/v1/retaliation-checks", **bearer(world.user("marte"))).json()
    assert handler["count"] == 1
    assert handler["items"][0]["person"] == {"id": world.emil.pk, "name": "Emil Ansatt"}
    assert handler["items"][0]["case"]["id"] == concern.pk
    # Helga oversees the unit and sees the case, but does not handle it: the check names no one to her.
    overseer = client.get("/api/v1/retaliation-checks", **bearer(world.user("helga"))).json()
    assert overseer["count"] == 1 and overseer["items"][0]["person"] is None
    assert client.get("/api/v1/retaliation-checks", **bearer(world.user("sander"))).json()["count"] == 0


def test_a_confidential_reporters_check_is_seen_by_the_reports_handlers_only(world, client):
    report = send(world, user=world.user("emil"), anonymity="confidential").report
    post(client, f"/api/v1/people/{world.emil.pk}/changes",
         {"type": "warning", "change_on": "2027-03-01", "justification": "Advarsel for sen oppmøte."},
         **bearer(world.user("hugo")))
    assert client.get("/api/v1/retaliation-checks", **bearer(world.user("hugo"))).json()["count"] == 0
    assert client.get("/api/v1/retaliation-checks", **bearer(world.user("marte"))).json()["count"] == 0
    mine = client.get("/api/v1/retaliation-checks", **bearer(world.user("hanne"))).json()
    assert mine["items"][0]["case"]["id"] == report.case_id
    assert mine["items"][0]["person"]["name"] == "Emil Ansatt"
    assert Case.objects.get(pk=report.case_id).deadlines.filter(rule_id="whistleblowing.retaliation_check").exists()


def test_the_open_endpoints_leave_no_trace_in_the_request_log(world, client, caplog):
    import logging

    caplog.set_level(logging.INFO, logger="tidsnok.request")
    submitted = send(world)
    post(client, "/api/v1/reports", REPORT, HTTP_USER_AGENT="Curl-Special/7", REMOTE_ADDR="10.1.2.3")
    client.get("/api/v1/reports/receipt", HTTP_X_RECEIPT=submitted.receipt.code)
    text = caplog.text
    assert "[reporting channel]" in text
    for trace in ("10.1.2.3", "Curl-Special", submitted.receipt.code, "/api/v1/reports"):
        assert trace not in text
