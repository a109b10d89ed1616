"""A handler named in a report is excluded from it at once and cannot see it by any path:
the lists, the pages, the API, the PDF, the case search and the notifications."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail

from tests.conftest import enrol_totp
from tests.whistleblowing.conftest import send
from tidsnok.access.policy import visible
from tidsnok.access.services import create_token
from tidsnok.cases.models import Case, Deadline, Entry
from tidsnok.notify.models import Mail, Notification
from tidsnok.notify.sweep import run_round
from tidsnok.whistleblowing import services
from tidsnok.whistleblowing.models import DesignatedHandler

OSLO = ZoneInfo("Europe/Oslo")
RECEIVED = date(2027, 3, 1)


@pytest.fixture
def named(world):
    """An anonymous report that names Hanne (organisation-wide HR, who receives reports by default)."""
    with time_machine.travel(datetime(2027, 3, 1, 10, tzinfo=OSLO), tick=False):
        return send(world, description="HR-sjefen dekker over for lederen.",
                    involved="hanne hr  og lederen på Sykehjemmet").report


def test_the_named_handler_is_excluded_and_another_takes_the_report(world, named):
    case = named.case
    assert case.exclusions.filter(person=world.hanne, reason="named_in_report").exists()
    assert not case.handlers.filter(person=world.hanne).exists()
    # The next in line (HR with a narrower scope) handles it.
    assert list(case.handlers.values_list("person__name", flat=True)) == ["Hugo HR Helse"]


def test_the_exclusion_is_visible_to_the_other_handlers(world, named, handler_client):
    client = handler_client(world.user("hugo"))
    body = client.get(f"/varsler/{named.case_id}/").content.decode()
    people = body.split('id="people-heading"')[1].split("</section>")[0]
    assert "Hanne HR: nevnt i varselet" in people


def test_a_designated_committee_member_named_in_the_report_is_left_out(world):
    DesignatedHandler.objects.create(organisation=world.org, person=world.ask)
    DesignatedHandler.objects.create(organisation=world.org, person=world.siri)
    case = send(world, description="Ask AMU har lekket opplysninger.").report.case
    assert list(case.handlers.values_list("person__name", flat=True)) == ["Siri Verneombud"]
    assert not visible(world.user("ask"), Case).filter(pk=case.pk).exists()


def test_the_named_handler_sees_nothing_in_the_pages(world, named, handler_client):
    client = handler_client(world.user("hanne"))
    number = named.case.number
    for path in ("/varsler/", "/saker/", "/saker/?kind=whistleblowing", "/meldinger/", "/meldinger/frister/",
                 "/etterlevelse/", "/varsler/gjengjeldelse/"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert number not in response.content.decode(), path
    for path in (f"/varsler/{named.case_id}/", f"/saker/{named.case_id}/", f"/saker/{named.case_id}/?tidslinje=1",
                 f"/rapporter/saker/{named.case_id}/pdf"):
        assert client.get(path).status_code == 404, path
    for action in ("melding", "notat", "vurdering", "avslutt", "utelukk", "kvitter"):
        assert client.post(f"/varsler/{named.case_id}/{action}/", {}).status_code == 404, action


def test_the_named_handler_sees_nothing_in_the_api(world, named, client):
    _, token = create_token(None, world.user("hanne"))
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    for path in (f"/api/v1/cases/{named.case_id}", f"/api/v1/cases/{named.case_id}/report",
                 f"/api/v1/cases/{named.case_id}/pdf"):
        assert client.get(path, **headers).status_code == 404, path
    listed = client.get("/api/v1/cases?kind=whistleblowing", **headers).json()
    assert listed["count"] == 0
    assert client.get("/api/v1/deadlines", **headers).json()["count"] == 0
    assert client.get("/api/v1/retaliation-checks", **headers).json()["count"] == 0


def test_the_named_handler_is_not_notified_now_or_when_deadlines_pass(world, named):
    enrol_totp(world.user("hugo"))
    hanne = world.user("hanne")
    assert not Notification.objects.filter(user=hanne).exists()
    assert not Mail.objects.filter(user=hanne).exists()
    # Long past the deadline to acknowledge: reminders and escalation go to others.
    for day in (date(2027, 3, 8), date(2027, 3, 12), date(2027, 3, 22)):
        with time_machine.travel(datetime(day.year, day.month, day.day, 9, tzinfo=OSLO), tick=False):
            run_round("test")
    assert Notification.objects.filter(case=named.case).exists()
    assert not Notification.objects.filter(user=hanne).exists()
    assert not Mail.objects.filter(user=hanne).exists()
    assert all(hanne.email not in message.to for message in mail.outbox)


def test_the_named_handler_cannot_be_added_to_the_report(world, named):
    from django.core.exceptions import ValidationError

    from tidsnok.cases import services as case_services

    with pytest.raises(ValidationError):
        case_services.add_handler(world.user("hugo"), named.case, world.hanne, "Trenger hjelp.")


def test_the_named_handler_reaches_no_entries_deadlines_or_content(world, named):
    hanne = world.user("hanne")
    assert not visible(hanne, Entry).filter(case=named.case).exists()
    assert not Deadline.objects.filter(case__in=visible(hanne, Case), case=named.case).exists()
    from tidsnok.whistleblowing.models import Message, Report

    assert not visible(hanne, Report).exists()
    assert not visible(hanne, Message).exists()
    assert services.is_handler(hanne)  # she still handles other reports
