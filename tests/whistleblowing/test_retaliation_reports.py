"""The retaliation watch for people who reported: checks with deadlines, their documentation
in the case PDF, the end of the protection period, and the reporter's identity kept."""

import io
import re
from datetime import date

import pytest
import time_machine
from pypdf import PdfReader

from tests.conftest import enrol_totp
from tests.whistleblowing.conftest import send
from tidsnok.access.policy import visible
from tidsnok.cases.models import Case, DeadlineStatus, Entry, EntryKind
from tidsnok.notify.models import Notification
from tidsnok.reports.case_pdf import export_case_pdf
from tidsnok.whistleblowing import retaliation
from tidsnok.whistleblowing.models import Protection, RetaliationCheck

TODAY = date(2027, 3, 1)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(TODAY, tick=False):
        yield


@pytest.fixture
def confidential(world):
    """Emil reports confidentially; Hanne handles the report."""
    enrol_totp(world.user("hanne"))
    return send(world, user=world.user("emil"), anonymity="confidential").report


def pdf_text(content: bytes) -> str:
    return re.sub(r"\s+", " ", "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(content)).pages))


def test_a_reporter_is_protected_for_the_organisations_period(world, confidential):
    protection = Protection.objects.get(person=world.emil)
    assert (protection.reason, protection.starts_on, protection.ends_on) == ("reported", TODAY, date(2028, 3, 1))


def test_a_change_for_the_reporter_raises_a_check_with_a_deadline_on_the_report(world, confidential):
    from tidsnok.org import services as org_services

    org_services.save_person(None, world.org, world.emil.employee_number, unit_id=world.units["SK"].pk)
    check = RetaliationCheck.objects.get()
    assert check.change_type == "place" and check.protection.case == confidential.case
    deadline = confidential.case.deadlines.get(rule_id="whistleblowing.retaliation_check", sequence=check.pk)
    assert deadline.due == date(2027, 3, 8) and deadline.status == DeadlineStatus.OPEN
    # The handler is told; no one else is.
    assert set(Notification.objects.filter(case=confidential.case).values_list("user__email", flat=True)) <= {
        "hanne@test.no"}


def test_the_documented_check_is_in_the_case_pdf(world, confidential):
    [check] = retaliation.report_change(world.user("hugo"), world.emil, change_type="hours", change_on=TODAY,
                                        justification="Ny turnusplan for hele enheten.", decided_by=world.marte)
    retaliation.document_check(world.user("hanne"), check, check.version,
                               grounds="Turnusen ble endret for alle 14 ansatte etter vedtak i AMU.",
                               decided_by=world.helga, outcome="objective_grounds")
    assert confidential.case.deadlines.get(rule_id="whistleblowing.retaliation_check").status == DeadlineStatus.MET
    text = pdf_text(export_case_pdf(world.user("hanne"), confidential.case, "nb").content)
    assert "Gjengjeldelseskontroll" in text
    assert "endret arbeidstid" in text and "Ny turnusplan for hele enheten." in text
    assert "Turnusen ble endret for alle 14 ansatte etter vedtak i AMU." in text
    assert "Helga Sektorleder" in text and "saklig grunnlag" in text
    english = pdf_text(export_case_pdf(world.user("hanne"), confidential.case, "en").content)
    assert "Retaliation check documented" in english and "Objective grounds:" in english


def test_a_change_after_the_protection_period_raises_no_check(world, confidential):
    assert retaliation.report_change(world.user("hanne"), world.emil, change_type="dismissal",
                                     change_on=date(2028, 3, 2), justification="Nedbemanning.") == []
    assert not RetaliationCheck.objects.exists()


def test_the_reporters_identity_is_not_revealed_by_the_check(world, confidential, handler_client):
    """HR outside the report (Hugo) reports a change; Emil's manager decided it. Neither learns that Emil reported."""
    retaliation.report_change(world.user("hugo"), world.emil, change_type="warning", change_on=TODAY,
                              justification="Advarsel.", decided_by=world.marte)
    check = RetaliationCheck.objects.get()
    # The check lives on the report's case, which only its handlers see.
    for name in ("hugo", "marte", "helga", "emil", "ada"):
        user = world.user(name)
        assert not visible(user, RetaliationCheck).exists(), name
        assert not visible(user, Case).filter(pk=check.protection.case_id).exists(), name
        assert not Notification.objects.filter(user=user, case=confidential.case).exists(), name
    # The timeline entry names no one.
    entry = Entry.objects.get(kind=EntryKind.RETALIATION_CHECK)
    assert entry.text == "" and entry.about is None and world.emil.pk not in entry.data.values()
    # The check pages show it to the handler only.
    client = handler_client(world.user("hugo"))
    assert "Emil Ansatt" not in client.get("/varsler/gjengjeldelse/").content.decode()
    client = handler_client(world.user("hanne"))
    assert "Emil Ansatt" in client.get("/varsler/gjengjeldelse/").content.decode()


def test_hr_handling_the_report_documents_the_check_on_its_page(world, confidential, handler_client):
    [check] = retaliation.report_change(world.user("hanne"), world.emil, change_type="role", change_on=TODAY,
                                        justification="Ny rolle.")
    client = handler_client(world.user("hanne"))
    body = client.get(f"/varsler/{confidential.case_id}/").content.decode()
    assert f'id="kontroll{check.pk}"' in body
    response = client.post(f"/varsler/{confidential.case_id}/kontroll/{check.pk}/", {
        f"kontroll{check.pk}-grounds": "Rollen ble lyst ut internt og Emil søkte selv.",
        f"kontroll{check.pk}-decided_by": world.marte.pk,
        f"kontroll{check.pk}-outcome": "objective_grounds",
        f"kontroll{check.pk}-version": check.version,
    })
    assert response.status_code == 302
    check.refresh_from_db()
    assert check.documented_on == TODAY and check.decided_by == world.marte


def test_a_claim_of_retaliation_after_a_report_opens_a_case_with_hr(world, confidential):
    case = retaliation.claim_retaliation(world.user("emil"), world.emil, "Jeg har mistet nattevaktene etter varselet.")
    assert case.kind == "harassment" and case.handlers.filter(role="hr").exists()
