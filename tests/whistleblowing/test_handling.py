"""Handling a report: who receives it, messages, notes, assessment, redirection, closing."""

from datetime import date, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError

from tests.whistleblowing.conftest import send
from tidsnok.access.policy import AccessDenied, visible
from tidsnok.audit.models import AuditEvent
from tidsnok.cases import services as case_services
from tidsnok.cases.models import Case, DeadlineStatus, EntryKind, Kind, PartyRole, Status
from tidsnok.org.models import Role
from tidsnok.whistleblowing import services
from tidsnok.whistleblowing.models import Assessment, DesignatedHandler, Message, Report

TODAY = date(2027, 3, 1)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(TODAY, tick=False):
        yield


def test_reports_go_to_hr_for_the_whole_organisation_by_default(world):
    case = send(world).report.case
    assert list(case.handlers.values_list("person__name", "role")) == [("Hanne HR", "hr")]
    assert visible(world.user("hanne"), Case).filter(pk=case.pk).exists()
    # HR with a limited scope, managers and the safety representative do not see it.
    for name in ("hugo", "marte", "helga", "siri", "ada"):
        assert not visible(world.user(name), Case).filter(pk=case.pk).exists(), name


def test_reports_go_to_the_designated_committee(world):
    DesignatedHandler.objects.create(organisation=world.org, person=world.ask)
    DesignatedHandler.objects.create(organisation=world.org, person=world.siri)
    case = send(world).report.case
    assert set(case.handlers.values_list("person__name", flat=True)) == {"Ask AMU", "Siri Verneombud"}
    assert visible(world.user("siri"), Case).filter(pk=case.pk).exists()
    assert not visible(world.user("hanne"), Case).filter(pk=case.pk).exists()


def test_several_handlers_each_get_their_role_and_hear_of_the_report_once(world):
    from tidsnok.notify.models import Notification

    for person in (world.ask, world.hanne, world.hugo):
        DesignatedHandler.objects.create(organisation=world.org, person=person)
    case = send(world).report.case
    assert sorted(case.handlers.values_list("person__name", "role")) == [
        ("Ask AMU", "added"), ("Hanne HR", "hr"), ("Hugo HR Helse", "hr")]
    for name in ("ask", "hanne", "hugo"):
        assert Notification.objects.filter(user=world.user(name), case=case).count() == 1, name
        assert visible(world.user(name), Case).filter(pk=case.pk).exists(), name


def test_the_deadlines_are_policy_defaults_with_their_basis(world):
    case = send(world).report.case
    ack = case.deadlines.get(rule_id="whistleblowing.acknowledge")
    feedback = case.deadlines.get(rule_id="whistleblowing.feedback")
    assert (ack.start, ack.due) == (TODAY, TODAY + timedelta(days=7))
    assert feedback.due == date(2027, 6, 1)
    assert ack.basis == feedback.basis == "policy default"
    assert ack.duty_basis == "aml § 2 A-3"


def test_the_organisation_may_change_the_deadlines_and_the_protection_period(world):
    services.update_settings(world.user("hanne"), world.org, protection_months=24, acknowledge_days=5,
                             feedback_months=2)
    case = send(world, user=world.user("emil"), anonymity="named").report.case
    assert case.deadlines.get(rule_id="whistleblowing.acknowledge").due == TODAY + timedelta(days=5)
    assert case.deadlines.get(rule_id="whistleblowing.feedback").due == date(2027, 5, 1)
    assert world.emil.protections.get().ends_on == date(2029, 3, 1)
    with pytest.raises(ValidationError):
        services.update_settings(world.user("hanne"), world.org, protection_months=12, acknowledge_days=60,
                                 feedback_months=3)
    with pytest.raises(AccessDenied):
        services.update_settings(world.user("hugo"), world.org, protection_months=12, acknowledge_days=7,
                                 feedback_months=3)


def test_the_first_message_to_the_reporter_acknowledges_receipt(world):
    report = send(world).report
    with time_machine.travel(TODAY + timedelta(days=2), tick=False):
        services.send_message(world.user("hanne"), report, "Vi har mottatt varselet ditt.")
    deadline = report.case.deadlines.get(rule_id="whistleblowing.acknowledge")
    assert deadline.status == DeadlineStatus.MET and deadline.met_on == TODAY + timedelta(days=2)


def test_acknowledging_with_the_standard_message(world, handler_client):
    report = send(world).report
    client = handler_client(world.user("hanne"))
    response = client.post(f"/varsler/{report.case_id}/kvitter/")
    assert response.status_code == 302
    message = Message.objects.get()
    assert message.direction == "to_reporter" and services.body_of(message)
    assert report.case.deadlines.get(rule_id="whistleblowing.acknowledge").status == DeadlineStatus.MET


def test_feedback_meets_the_feedback_deadline(world):
    report = send(world).report
    services.send_message(world.user("hanne"), report, "Vi er i gang.")
    assert report.case.deadlines.get(rule_id="whistleblowing.feedback").status == DeadlineStatus.OPEN
    services.send_message(world.user("hanne"), report, "Vi har intervjuet tre ansatte.", feedback=True)
    assert report.case.deadlines.get(rule_id="whistleblowing.feedback").status == DeadlineStatus.MET


def test_internal_notes_are_never_shown_to_the_reporter(world, client):
    submitted = send(world)
    services.add_note(world.user("hanne"), submitted.report, "Sjekk turnuslistene for mars.")
    response = client.post("/varsling/kvittering/", {"receipt": submitted.receipt.code})
    assert response.status_code == 200
    assert "turnuslistene" not in response.content.decode()
    api = client.get("/api/v1/reports/receipt", HTTP_X_RECEIPT=submitted.receipt.code).json()
    assert "turnuslistene" not in repr(api)


def test_the_handler_page_shows_the_report_decrypted_and_logs_the_read(world, handler_client):
    report = send(world, description="Nattevakten sover på jobb.").report
    client = handler_client(world.user("hanne"))
    response = client.get(f"/varsler/{report.case_id}/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Nattevakten sover på jobb." in body
    assert AuditEvent.objects.filter(action="ACCESS", object_id=str(report.case_id),
                                     actor=world.user("hanne")).count() == 1
    # The handlers see who has read it.
    assert "Hanne HR" in body.split('id="readers-heading"')[1]
    assert response["Cache-Control"] == "no-store, private"


def test_the_spine_case_page_sends_handlers_to_the_report_page(world, handler_client):
    report = send(world).report
    client = handler_client(world.user("hanne"))
    response = client.get(f"/saker/{report.case_id}/")
    assert response.status_code == 302 and response["Location"] == f"/varsler/{report.case_id}/"
    assert client.get(f"/saker/{report.case_id}/?tidslinje=1").status_code == 200


def test_investigation_steps_and_conclusion_are_documented(world, handler_client):
    report = send(world).report
    client = handler_client(world.user("hanne"))
    response = client.post(f"/varsler/{report.case_id}/steg/", {"steg-occurred_on": "2027-02-27",
                                                               "steg-text": "Samtale med tillitsvalgt."})
    assert response.status_code == 302
    response = client.post(f"/varsler/{report.case_id}/konklusjon/", {"konklusjon-text": "Påstanden er riktig."})
    assert response.status_code == 302
    kinds = list(report.case.entries.filter(kind__in=[EntryKind.FOLLOW_UP, EntryKind.CONCLUSION])
                 .values_list("kind", "occurred_on"))
    assert kinds == [(EntryKind.FOLLOW_UP, date(2027, 2, 27)), (EntryKind.CONCLUSION, TODAY)]


def test_bad_input_on_the_handler_page_keeps_what_was_written(world, handler_client):
    report = send(world).report
    client = handler_client(world.user("hanne"))
    response = client.post(f"/varsler/{report.case_id}/vurdering/", {
        "vurdering-assessment": "", "vurdering-reasoning": "Et utkast", "vurdering-version": report.version,
    })
    assert response.status_code == 400
    body = response.content.decode()
    assert "Et utkast" in body and 'href="#id_vurdering-assessment_0"' in body


def test_assessing_a_report_as_whistleblowing(world):
    report = send(world).report
    services.record_assessment(world.user("hanne"), report, report.version, assessment="whistleblowing",
                               reasoning="Gjelder arbeidsmiljøet i hele enheten.")
    report.refresh_from_db()
    assert report.assessment == Assessment.WHISTLEBLOWING
    with pytest.raises(ValidationError):
        services.record_assessment(world.user("hanne"), report, report.version, assessment="whistleblowing",
                                   reasoning="")


def test_a_personal_grievance_goes_to_the_right_track_only_with_consent(world):
    report = send(world, user=world.user("emil"), anonymity="confidential",
                  description="Jeg får ikke den lønnsøkningen jeg ble lovet.").report
    hanne = world.user("hanne")
    services.record_assessment(hanne, report, report.version, assessment="personal_grievance",
                               reasoning="Gjelder eget arbeidsforhold.")
    with pytest.raises(ValidationError):
        services.redirect_report(hanne, report, kind=Kind.PSYCHOSOCIAL, note="Lønn")
    services.set_redirect_consent(world.user("emil"), report, True)
    new = services.redirect_report(hanne, report, kind=Kind.PSYCHOSOCIAL, note="Uenighet om lønnsutvikling.")
    assert new.kind == Kind.PSYCHOSOCIAL and not new.restricted
    assert new.parties.filter(person=world.emil, role=PartyRole.CONCERNED).exists()
    assert new.handlers.filter(person=world.marte).exists()  # his manager now follows it up
    assert report.case.entries.filter(kind=EntryKind.DECISION, data__event="redirected").exists()


def test_only_the_reporter_answers_for_herself(world):
    report = send(world, user=world.user("emil"), anonymity="named").report
    services.record_assessment(world.user("hanne"), report, report.version, assessment="personal_grievance",
                               reasoning="Eget arbeidsforhold.")
    with pytest.raises(AccessDenied):
        services.set_redirect_consent(world.user("ella"), report, True)
    with pytest.raises(AccessDenied):
        services.add_reporter_message(world.user("ella"), report, "Jeg later som jeg er Emil.")


def test_a_report_closes_only_with_an_assessment_and_feedback(world):
    report = send(world).report
    hanne = world.user("hanne")
    case = report.case
    with pytest.raises(ValidationError):
        case_services.close_case(hanne, case, "Ferdig.", case.version)
    with pytest.raises(ValidationError) as error:
        services.close_with_feedback(hanne, report, case.version, evaluation="Ferdig.", feedback="Takk.")
    assert "§ 2 A-1" in repr(error.value)
    services.record_assessment(hanne, report, report.version, assessment="whistleblowing", reasoning="Ja.")
    case.refresh_from_db()
    services.close_with_feedback(hanne, report, case.version, evaluation="Tiltak gjennomført i enheten.",
                                 feedback="Vi har undersøkt saken og satt inn tiltak. Takk for at du sa fra.")
    case.refresh_from_db()
    assert case.status == Status.CLOSED
    feedback = Message.objects.get(is_feedback=True)
    assert "Takk for at du sa fra" in services.body_of(feedback)
    assert Report.objects.get().feedback_given_on == TODAY
    assert case.deadlines.get(rule_id="whistleblowing.feedback").status == DeadlineStatus.MET
    with pytest.raises(ValidationError):
        services.add_reporter_message(None, report, "Enda en ting")


def test_a_handler_excludes_a_colleague_with_a_reason_and_the_others_see_it(world, handler_client):
    DesignatedHandler.objects.create(organisation=world.org, person=world.hanne)
    DesignatedHandler.objects.create(organisation=world.org, person=world.ask)
    report = send(world).report
    client = handler_client(world.user("hanne"))
    response = client.post(f"/varsler/{report.case_id}/utelukk/", {
        "utelukk-person": world.ask.pk, "utelukk-reason": "Gift med en av de involverte.",
    })
    assert response.status_code == 302
    assert not visible(world.user("ask"), Case).filter(pk=report.case_id).exists()
    body = client.get(f"/varsler/{report.case_id}/").content.decode()
    assert "Ask AMU" in body.split('id="people-heading"')[1].split("</section>")[0]
    assert "Gift med en av de involverte." in body


def test_the_last_handler_cannot_be_excluded(world):
    report = send(world).report
    with pytest.raises(ValidationError):
        services.exclude_handler(world.user("hanne"), report, world.hanne, "Inhabil.")


def test_the_reporters_list_and_page_for_named_reports(world, client):
    report = send(world, user=world.user("emil"), anonymity="named").report
    services.send_message(world.user("hanne"), report, "Takk for varselet, Emil.")
    client.force_login(world.user("emil"))
    assert f"/varsling/mine/{report.pk}/" in client.get("/varsling/mine/").content.decode()
    body = client.get(f"/varsling/mine/{report.pk}/").content.decode()
    assert "Takk for varselet, Emil." in body
    assert "Hanne HR" not in body  # the handlers are not named to the reporter
    response = client.post(f"/varsling/mine/{report.pk}/", {"body": "Det skjedde igjen i går."})
    assert response.status_code == 200
    client.force_login(world.user("ella"))
    assert client.get(f"/varsling/mine/{report.pk}/").status_code == 404


def test_the_handler_list_shows_only_reports_one_handles(world, handler_client):
    send(world)
    client = handler_client(world.user("hanne"))
    body = client.get("/varsler/").content.decode()
    assert Report.objects.get().case.number in body
    other = handler_client(world.user("hugo"))
    assert Report.objects.get().case.number not in other.get("/varsler/").content.decode()


def test_hr_manages_who_receives_reports(world, handler_client):
    client = handler_client(world.user("hanne"))
    response = client.post("/varsler/innstillinger/mottakere/", {"mottaker-person": world.ask.pk})
    assert response.status_code == 302
    assert services.designated_handlers(world.org.pk) == [world.ask]
    client.post("/varsler/innstillinger/mottakere/", {"remove": world.ask.pk})
    assert services.designated_handlers(world.org.pk) == [world.hanne]
    hugo = handler_client(world.user("hugo"))
    assert hugo.get("/varsler/innstillinger/").status_code == 404


def test_in_a_large_organisation_hr_finds_the_handler_by_name(world, handler_client, monkeypatch):
    monkeypatch.setattr("tidsnok.whistleblowing.views.CANDIDATE_LIMIT", 3)
    client = handler_client(world.user("hanne"))
    page = client.get("/varsler/innstillinger/").content.decode()
    assert "for mange personer til å liste dem" in page
    assert "Stine Ansatt" not in page

    page = client.get("/varsler/innstillinger/?sok=stine").content.decode()
    assert "Stine Ansatt, Sykehjemmet" in page and "Emil Ansatt" not in page
    response = client.post("/varsler/innstillinger/mottakere/", {"mottaker-person": world.stine.pk})
    assert response.status_code == 302
    assert services.designated_handlers(world.org.pk) == [world.stine]


def test_the_manager_role_alone_does_not_reach_reports(world):
    from tidsnok.org import services as org_services

    report = send(world).report
    org_services.assign_role(None, world.marte, Role.MANAGER, world.units["ROOT"], starts_on=date(2020, 1, 1))
    assert not visible(world.user("marte"), Case).filter(pk=report.case_id).exists()


def test_the_report_list_costs_the_same_queries_however_many_reports(world, handler_client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = handler_client(world.user("hanne"))

    def count():
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/varsler/").status_code == 200
        return len(queries)

    for _ in range(2):
        send(world)
    few = count()
    for _ in range(5):
        services.send_message(world.user("hanne"), send(world).report, "Mottatt.")
    assert count() == few


def test_a_named_reporter_claims_retaliation_from_her_report_page(world, client):
    report = send(world, user=world.user("emil"), anonymity="confidential").report
    client.force_login(world.user("emil"))
    response = client.post(f"/varsling/mine/{report.pk}/gjengjeldelse/",
                           {"description": "Jeg har mistet helgevaktene etter at jeg varslet."})
    assert response.status_code == 200
    claim = Case.objects.get(kind=Kind.HARASSMENT)
    assert claim.handlers.filter(role="hr").exists()
    assert claim.parties.filter(person=world.emil).exists()
    assert client.post(f"/varsling/mine/{report.pk}/gjengjeldelse/", {"description": ""}).status_code == 400
