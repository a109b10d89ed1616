"""The retaliation watch through its services."""

from datetime import date

import pytest
import time_machine
from django.core.exceptions import ValidationError

from tidsnok.access.policy import AccessDenied, visible
from tidsnok.cases import services as case_services
from tidsnok.cases.models import DeadlineStatus, EntryKind, Kind, MeasureKind, Source
from tidsnok.whistleblowing import retaliation
from tidsnok.whistleblowing.models import Protection, RetaliationCheck

TODAY = date(2027, 2, 1)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(TODAY, tick=False):
        yield


@pytest.fixture
def concern(world):
    """Emil tells Marte about a concern: he is protected from that day."""
    return case_services.open_case(
        world.user("marte"), kind=Kind.PSYCHOSOCIAL, concerns=[world.emil], description="Bekymring for arbeidsmiljøet.",
        source=Source.EMPLOYEE_TOLD, known_at=TODAY,
    )


def test_whoever_raised_a_concern_is_protected_for_12_months(world, concern):
    protection = Protection.objects.get(person=world.emil)
    assert protection.case == concern
    assert protection.ends_on == date(2028, 2, 1)


def test_a_change_for_a_protected_person_raises_a_check_with_a_deadline(world, concern):
    checks = retaliation.report_change(world.user("hanne"), world.emil, change_type="hours", change_on=TODAY,
                                       justification="Ny turnusplan for hele enheten.", decided_by=world.marte)
    assert len(checks) == 1
    deadline = concern.deadlines.get(rule_id="whistleblowing.retaliation_check", sequence=checks[0].pk)
    assert deadline.due == date(2027, 2, 8)  # 5 working days
    assert deadline.status == DeadlineStatus.OPEN
    assert concern.entries.filter(kind=EntryKind.RETALIATION_CHECK).exists()


def test_documenting_the_grounds_meets_the_deadline(world, concern):
    from tests.conftest import enrol_totp

    enrol_totp(world.user("hugo"))
    case_services.add_handler(world.user("marte"), concern, world.hugo, "Trenger HR i saken.")
    [check] = retaliation.report_change(world.user("hanne"), world.emil, change_type="tasks", change_on=TODAY,
                                        justification="Omorganisering.")
    with pytest.raises(ValidationError):
        retaliation.document_check(world.user("hugo"), check, check.version, grounds="", decided_by=world.marte,
                                   outcome="objective_grounds")
    retaliation.document_check(world.user("hugo"), check, check.version, grounds="Vedtatt i AMU for hele enheten.",
                               decided_by=world.helga, outcome="objective_grounds")
    deadline = concern.deadlines.get(rule_id="whistleblowing.retaliation_check", sequence=check.pk)
    assert deadline.status == DeadlineStatus.MET


def test_a_change_after_the_protection_period_raises_no_check(world, concern):
    checks = retaliation.report_change(world.user("hanne"), world.emil, change_type="warning",
                                       change_on=date(2028, 2, 2), justification="Advarsel.")
    assert checks == []


def test_a_job_side_measure_in_another_case_is_checked(world, concern):
    other = case_services.open_case(world.user("marte"), kind=Kind.CONFLICT, concerns=[world.emil, world.ella],
                                    description="Konflikt.", source=Source.OBSERVED, known_at=TODAY)
    assert RetaliationCheck.objects.filter(change_type="new_case_party").count() == 1
    case_services.add_measure(world.user("marte"), other, what="Flytte Emil til nattevakt", kind=MeasureKind.INDIVIDUAL,
                              area="working_hours", owner=world.marte, due=date(2027, 2, 10))
    assert RetaliationCheck.objects.filter(change_type="hours").count() == 1


def test_a_protected_employee_raising_another_concern_about_himself_raises_no_check(world, concern):
    again = case_services.open_case(world.user("marte"), kind=Kind.PSYCHOSOCIAL, concerns=[world.emil],
                                    description="Fortsatt for mye.", source=Source.EMPLOYEE_TOLD, known_at=TODAY)
    assert not RetaliationCheck.objects.exists()
    assert Protection.objects.filter(person=world.emil, case=again).exists()  # protected for this one too
    # Made a party to a case someone else raised about him: checked against both.
    case_services.open_case(world.user("marte"), kind=Kind.CONFLICT, concerns=[world.emil],
                            description="Uenighet om vaktbytte.", source=Source.OBSERVED, known_at=TODAY)
    assert sorted(RetaliationCheck.objects.values_list("protection__case", flat=True)) == sorted([concern.pk, again.pk])


def test_moving_a_protected_person_to_another_unit_is_checked(world, concern):
    from tidsnok.org import services as org_services

    org_services.save_person(None, world.org, world.emil.employee_number, unit_id=world.units["SY"].pk)
    assert RetaliationCheck.objects.filter(change_type="place").exists()


def test_checks_are_seen_only_by_the_handlers_of_the_reporters_case(world, concern):
    retaliation.report_change(world.user("hanne"), world.emil, change_type="role", change_on=TODAY,
                              justification="Ny rolle.")
    assert visible(world.user("marte"), RetaliationCheck).exists()
    assert not visible(world.user("sander"), RetaliationCheck).exists()
    assert not visible(world.user("emil"), RetaliationCheck).exists()


def test_only_hr_may_report_changes(world, concern):
    with pytest.raises(AccessDenied):
        retaliation.report_change(world.user("marte"), world.emil, change_type="role", change_on=TODAY,
                                  justification="x")


def test_a_claim_of_retaliation_opens_a_case_with_hr_at_once(world):
    case = retaliation.claim_retaliation(world.user("ella"), world.ella, "Jeg har fått dårligere vakter etter varselet.")
    assert case.kind == Kind.HARASSMENT
    assert case.handlers.filter(role="hr").exists()
    assert Protection.objects.filter(person=world.ella, case=case).exists()


def test_hr_protects_someone_known_to_be_about_to_report(world):
    protection = retaliation.protect_about_to_report(world.user("hanne"), world.ella,
                                                     "Ella sa i dag at hun vil varsle om turnusen.")
    assert protection.reason == "about_to_report"
    assert protection.case.restricted
    checks = retaliation.report_change(world.user("hanne"), world.ella, change_type="hours", change_on=TODAY,
                                       justification="Ny turnus.")
    assert len(checks) == 1 and checks[0].protection == protection
    with pytest.raises(AccessDenied):
        retaliation.protect_about_to_report(world.user("hugo"), world.emil, "x")


def test_the_api_protects_someone_about_to_report(world, client):
    from tidsnok.access.services import create_token

    raw = create_token(None, world.user("hanne"))[1]
    response = client.post(f"/api/v1/people/{world.ella.pk}/protection", data={"note": "Vil varsle."},
                           content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 201, response.content
    assert Protection.objects.filter(person=world.ella, reason="about_to_report").exists()
