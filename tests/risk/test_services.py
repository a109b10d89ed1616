"""A unit's mapping and risk assessment (forskrift om organisering, ledelse og medvirkning § 7-1):
who may do what, what completion demands, and the reminders that keep the cycle going."""

from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone, translation

from tidsnok.access.policy import AccessDenied, visible
from tidsnok.audit.models import AuditEvent
from tidsnok.audit.services import verify_chain
from tidsnok.cases.models import MeasureStatus
from tidsnok.notify.models import Notification
from tidsnok.risk import rules, services
from tidsnok.risk.models import Action, Assessment, ParticipantRole, Status
from tidsnok.versioning import StaleVersion


def today():
    return timezone.localdate()


def started(world, who="marte", unit="HJ"):
    return services.start_assessment(world.user(who), world.units[unit], title="Kartlegging 2026",
                                     method="workshop", started_on=today())


def ready_to_complete(world, assessment):
    """A register with one high risk and its measure, and Emil and the safety rep taking part."""
    marte = world.user("marte")
    risk = services.add_risk(marte, assessment, factor_code="workload", description="Kveldsvaktene er for tynt bemannet",
                             likelihood=3, consequence=3, current_measures="Innleie ved sykdom")
    services.add_action(marte, assessment, what="Én ekstra på kveldsvakt", owner=world.ella,
                        due=today() + timedelta(days=30), risk=risk)
    services.add_participant(marte, assessment, person=world.emil, role=ParticipantRole.EMPLOYEE, took_part_on=today())
    services.add_participant(marte, assessment, person=world.siri, role=ParticipantRole.SAFETY_REP, took_part_on=today())
    assessment.refresh_from_db()
    return assessment


# --- rules ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("likelihood, consequence, expected", [
    (1, 1, "low"), (1, 3, "low"), (3, 1, "low"), (1, 4, "medium"), (2, 2, "medium"), (2, 4, "medium"),
    (4, 2, "medium"), (3, 3, "high"), (4, 4, "high"), (3, 4, "high"),
])
def test_the_risk_level_follows_the_four_by_four_matrix(likelihood, consequence, expected):
    assert rules.level(likelihood, consequence) == expected


def test_a_level_outside_the_matrix_is_a_programming_error():
    with pytest.raises(ValueError):
        rules.level(0, 5)


def test_the_next_review_is_a_year_after_completion_also_from_a_leap_day():
    assert rules.default_review_due(date(2026, 3, 31)) == date(2027, 3, 31)
    assert rules.default_review_due(date(2028, 2, 29)) == date(2029, 2, 28)


def test_review_and_action_stages_change_at_their_boundaries():
    day = date(2026, 11, 27)
    assert rules.review_stage(day + timedelta(days=31), day) == ""
    assert rules.review_stage(day + timedelta(days=30), day) == "before"
    assert rules.review_stage(day, day) == "before"
    assert rules.review_stage(day - timedelta(days=1), day) == "overdue"
    assert rules.action_stage(day + timedelta(days=3), day, day + timedelta(days=3)) == "before"
    assert rules.action_stage(day + timedelta(days=4), day, day + timedelta(days=3)) == ""
    assert rules.action_stage(day + timedelta(days=1), day, None) == ""
    assert rules.action_stage(day - timedelta(days=1), day, None) == "overdue"


# --- who may -------------------------------------------------------------------------------------


def test_the_manager_starts_an_assessment_for_her_unit_and_it_is_logged(world):
    assessment = started(world)
    assert assessment.status == Status.DRAFT
    assert assessment.organisation_id == world.org.pk
    event = AuditEvent.objects.filter(action="risk.assessment_started").get()
    assert event.object_id == str(assessment.pk)
    assert verify_chain().ok


def test_a_manager_cannot_start_one_for_another_managers_unit(world):
    with pytest.raises(AccessDenied):
        services.start_assessment(world.user("kim"), world.units["HJ"], title="x", method="workshop", started_on=today())
    assert not Assessment.objects.exists()


def test_an_employee_cannot_start_one(world):
    assert not services.may_start(world.user("emil"))
    with pytest.raises(AccessDenied):
        started(world, who="emil")


def test_the_sector_manager_and_hr_in_scope_may_start_one_for_a_unit_below(world):
    assert started(world, who="helga").unit == world.units["HJ"]
    assert started(world, who="hugo", unit="SY").unit == world.units["SY"]
    with pytest.raises(AccessDenied):
        started(world, who="hugo", unit="SK")


def test_who_reads_a_units_assessment(world):
    assessment = started(world)
    readers = {key for key in ("marte", "dina", "helga", "emil", "ella", "siri", "ask", "hugo", "hanne",
                               "kim", "kari", "stine", "sander", "ada")
               if visible(world.user(key), Assessment).filter(pk=assessment.pk).exists()}
    # The unit's managers and employees, its safety rep, AMU and HR in scope; not other units.
    assert readers == {"marte", "dina", "helga", "emil", "ella", "siri", "ask", "hugo", "hanne"}


def test_only_managers_and_hr_change_it(world):
    assessment = started(world)
    editors = {key for key in ("marte", "dina", "helga", "emil", "siri", "ask", "hugo", "hanne", "kim")
               if visible(world.user(key), Assessment, "edit").filter(pk=assessment.pk).exists()}
    assert editors == {"marte", "dina", "helga", "hugo", "hanne"}
    with pytest.raises(AccessDenied):
        services.add_risk(world.user("siri"), assessment, factor_code="", description="x", likelihood=1, consequence=1)


def test_the_owner_of_a_measure_in_another_unit_reads_the_plan(world):
    assessment = started(world)
    # HR for the whole organisation sees Kari at the school and makes her the owner.
    services.add_action(world.user("hanne"), assessment, what="Kurs i konflikthåndtering", owner=world.kari,
                        due=today() + timedelta(days=10))
    assert visible(world.user("kari"), Assessment).filter(pk=assessment.pk).exists()
    assert not visible(world.user("kari"), Assessment, "edit").filter(pk=assessment.pk).exists()
    # Owning a second measure of it does not list it twice.
    services.add_action(world.user("hanne"), assessment, what="Oppfølging av kurset", owner=world.kari,
                        due=today() + timedelta(days=20))
    assert list(visible(world.user("kari"), Assessment).values_list("pk", flat=True)) == [assessment.pk]


# --- the register, the plan and the ledger -------------------------------------------------------


def test_bad_input_gets_errors_per_field_and_nothing_is_saved(world):
    assessment = started(world)
    with pytest.raises(ValidationError) as caught:
        services.add_risk(world.user("marte"), assessment, factor_code="nope", description=" ", likelihood=7,
                          consequence=0)
    assert set(caught.value.message_dict) == {"factor", "description", "likelihood", "consequence"}
    assert not assessment.risks.exists()
    with pytest.raises(ValidationError) as caught:
        services.start_assessment(world.user("marte"), world.units["HJ"], title="", method="guess",
                                  started_on=today() + timedelta(days=1))
    assert set(caught.value.message_dict) == {"title", "method", "started_on"}
    assert Assessment.objects.count() == 1


def test_a_measure_needs_an_owner_who_works_here_and_a_date_after_the_start(world):
    assessment = started(world)
    with pytest.raises(ValidationError) as caught:
        services.add_action(world.user("marte"), assessment, what="", owner=None, due=today() - timedelta(days=1))
    assert set(caught.value.message_dict) == {"what", "owner", "due"}


def test_the_owner_updates_the_status_of_her_measure_but_not_its_text(world):
    assessment = started(world)
    action = services.add_action(world.user("marte"), assessment, what="Ny turnus", owner=world.ella,
                                 due=today() + timedelta(days=10))
    # Ella hears of it.
    assert Notification.objects.filter(user=world.user("ella"), kind="risk_action").count() == 1
    done = services.update_action(world.user("ella"), action, action.version, status=MeasureStatus.DONE)
    assert done.status == MeasureStatus.DONE and done.done_on == today()
    with pytest.raises(AccessDenied):
        services.update_action(world.user("ella"), done, done.version, what="Ingenting")
    with pytest.raises(AccessDenied):
        services.update_action(world.user("emil"), done, done.version, status=MeasureStatus.PLANNED)


def test_cancelling_a_measure_needs_a_reason(world):
    assessment = started(world)
    action = services.add_action(world.user("marte"), assessment, what="Ny turnus", owner=world.ella,
                                 due=today() + timedelta(days=10))
    with pytest.raises(ValidationError) as caught:
        services.update_action(world.user("marte"), action, action.version, status=MeasureStatus.CANCELLED)
    assert "cancel_reason" in caught.value.message_dict
    cancelled = services.update_action(world.user("marte"), action, action.version, status=MeasureStatus.CANCELLED,
                                       cancel_reason="Erstattet av ny bemanningsplan")
    assert cancelled.status == MeasureStatus.CANCELLED


def test_two_people_changing_one_measure_do_not_overwrite_each_other(world):
    assessment = started(world)
    action = services.add_action(world.user("marte"), assessment, what="Ny turnus", owner=world.ella,
                                 due=today() + timedelta(days=10))
    services.update_action(world.user("marte"), action, action.version, what="Ny turnus fra januar")
    with pytest.raises(StaleVersion):
        services.update_action(world.user("dina"), action, action.version, what="Ny turnus fra mars")
    action.refresh_from_db()
    assert action.what == "Ny turnus fra januar"


def test_the_same_person_is_recorded_once_per_capacity(world):
    assessment = started(world)
    services.add_participant(world.user("marte"), assessment, person=world.emil, role="employee", took_part_on=today())
    with pytest.raises(ValidationError) as caught:
        services.add_participant(world.user("marte"), assessment, person=world.emil, role="employee",
                                 took_part_on=today())
    assert "Emil Ansatt" in caught.value.message_dict["person"][0]
    assert assessment.participants.count() == 1


def test_employees_and_the_safety_rep_comment_in_their_capacity(world):
    assessment = started(world)
    by_emil = services.add_comment(world.user("emil"), assessment, "Vi trenger bedre overlapp mellom vaktene.")
    by_siri = services.add_comment(world.user("siri"), assessment, "Verneombudet støtter forslaget.")
    by_ask = services.add_comment(world.user("ask"), assessment, "AMU følger opp i årsrapporten.")
    assert (by_emil.role, by_siri.role, by_ask.role) == ("employee", "safety_rep", "amu")
    with pytest.raises(AccessDenied):
        services.add_comment(world.user("kari"), assessment, "Jeg er ikke med her.")


# --- completing ----------------------------------------------------------------------------------


def test_completion_needs_a_conclusion_measures_for_real_risks_and_participation(world):
    marte = world.user("marte")
    assessment = started(world)
    services.add_risk(marte, assessment, factor_code="conflict", description="Uenighet om vaktbytter",
                      likelihood=2, consequence=3)
    assessment.refresh_from_db()
    with translation.override("nb"), pytest.raises(ValidationError) as caught:
        services.complete(marte, assessment, assessment.version, summary="")
    problems = " ".join(caught.value.message_dict["__all__"])
    # In the user's language (bokmål by default).
    assert "konklusjonen" in problems and "ikke noe tiltak" in problems and "deltok" in problems
    assessment.refresh_from_db()
    assert assessment.status == Status.DRAFT


def test_a_completed_assessment_is_due_for_review_a_year_later_and_is_then_read_only(world):
    marte = world.user("marte")
    assessment = ready_to_complete(world, started(world))
    done = services.complete(marte, assessment, assessment.version, summary="Bemanningen på kveld er hovedrisikoen.")
    assert done.status == Status.COMPLETED
    assert done.review_due == rules.default_review_due(today())
    with pytest.raises(ValidationError):
        services.add_risk(marte, done, factor_code="", description="Sent funn", likelihood=1, consequence=1)
    # A measure found while following up still goes into the plan.
    services.add_action(marte, done, what="Evaluer kveldsvaktene", owner=world.marte, due=today() + timedelta(days=60))
    assert verify_chain().ok


def test_the_review_can_be_earlier_but_not_later_than_a_year(world):
    marte = world.user("marte")
    assessment = ready_to_complete(world, started(world))
    with pytest.raises(ValidationError) as caught:
        services.complete(marte, assessment, assessment.version, summary="Ok",
                          review_due=today() + timedelta(days=400))
    assert "review_due" in caught.value.message_dict
    done = services.complete(marte, assessment, assessment.version, summary="Ok",
                             review_due=today() + timedelta(days=180))
    assert done.review_due == today() + timedelta(days=180)


def test_completing_from_an_old_page_is_refused(world):
    marte = world.user("marte")
    assessment = ready_to_complete(world, started(world))
    seen = assessment.version
    services.add_risk(world.user("dina"), assessment, factor_code="", description="Ny risiko", likelihood=1,
                      consequence=1)
    with pytest.raises(StaleVersion):
        services.complete(marte, assessment, seen, summary="Ferdig")


# --- reminders -----------------------------------------------------------------------------------


def test_the_owner_is_reminded_before_and_after_the_due_date_once_each(world, time_machine):
    assessment = started(world)
    action = services.add_action(world.user("marte"), assessment, what="Ny turnus", owner=world.ella,
                                 due=today() + timedelta(days=14))
    ella = world.user("ella")
    assert services.remind_due() == 0
    time_machine.move_to(timezone.now() + timedelta(days=13))
    assert services.remind_due() == 1
    assert services.remind_due() == 0
    time_machine.move_to(timezone.now() + timedelta(days=2))
    assert services.remind_due() == 1
    assert services.remind_due() == 0
    stages = sorted(n.data["stage"] for n in Notification.objects.filter(user=ella, kind="risk_action_due"))
    assert stages == ["before", "overdue"]
    Action.objects.filter(pk=action.pk).update(status=MeasureStatus.DONE)
    time_machine.move_to(timezone.now() + timedelta(days=10))
    assert services.remind_due() == 0


def test_the_units_managers_are_reminded_of_the_review(world, time_machine):
    marte = world.user("marte")
    assessment = ready_to_complete(world, started(world))
    Action.objects.filter(assessment=assessment).update(status=MeasureStatus.DONE)
    services.complete(marte, assessment, assessment.version, summary="Ok", review_due=today() + timedelta(days=60))
    assert services.remind_due() == 0
    time_machine.move_to(timezone.now() + timedelta(days=31))
    assert services.remind_due() == 2  # Marte and her deputy Dina
    assert services.remind_due() == 0
    told = set(Notification.objects.filter(kind="risk_review").values_list("user__email", flat=True))
    assert told == {"marte@test.no", "dina@test.no"}


def test_a_new_round_for_the_unit_silences_the_old_review(world, time_machine):
    marte = world.user("marte")
    assessment = ready_to_complete(world, started(world))
    Action.objects.filter(assessment=assessment).update(status=MeasureStatus.DONE)
    services.complete(marte, assessment, assessment.version, summary="Ok", review_due=today() + timedelta(days=60))
    time_machine.move_to(timezone.now() + timedelta(days=40))
    started(world)
    assert services.remind_due() == 0
    assert not Notification.objects.filter(kind="risk_review").exists()


def test_someone_she_may_not_see_and_without_a_role_here_cannot_be_named(world):
    assessment = started(world)
    marte = world.user("marte")
    # Kari works at the school: Marte does not see her, and she has no role in Marte's unit.
    with pytest.raises(ValidationError) as caught:
        services.add_action(marte, assessment, what="Kurs", owner=world.kari, due=today() + timedelta(days=5))
    assert "owner" in caught.value.message_dict
    with pytest.raises(ValidationError):
        services.add_participant(marte, assessment, person=world.kari, role="other", took_part_on=today())
    # The safety representative, HR for the whole organisation and AMU take part by their roles.
    for person in (world.siri, world.hanne, world.ask):
        services.add_participant(marte, assessment, person=person, role="other", took_part_on=today())


def test_the_sweep_sends_the_reminders_of_action_plans(world, time_machine):
    from tidsnok.notify import sweep

    assessment = started(world)
    services.add_action(world.user("marte"), assessment, what="Ny turnus", owner=world.ella,
                        due=today() + timedelta(days=3))
    time_machine.move_to(timezone.now() + timedelta(days=5))
    sweep.run_round("test-worker")
    sweep.run_round("test-worker")  # a second round sends nothing again
    assert Notification.objects.filter(user=world.user("ella"), kind="risk_action_due").count() == 1
