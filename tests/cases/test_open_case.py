from datetime import date

import pytest
import time_machine
from django.core.exceptions import ValidationError

from tidsnok.access.policy import AccessDenied, visible
from tidsnok.audit.services import verify_chain
from tidsnok.cases import services
from tidsnok.cases.models import Case, DeadlineStatus, EntryKind, HandlerRole, Kind, Source
from tests.conftest import enrol_totp


@pytest.fixture
def wednesday_before_easter():
    with time_machine.travel(date(2027, 3, 24), tick=False):
        yield


def open_psychosocial(world, **kw):
    fields = dict(kind=Kind.PSYCHOSOCIAL, concerns=[world.emil], factors=["workload"],
                  description="Emil sier han ikke rekker arbeidsoppgavene.", source=Source.EMPLOYEE_TOLD,
                  known_at=date(2027, 3, 22))
    fields.update(kw)
    return services.open_case(world.user("marte"), **fields)


def test_manager_registers_a_workload_case_and_deadlines_run_from_when_she_knew(world, wednesday_before_easter):
    case = open_psychosocial(world)
    assert case.owner is None or case.owner == world.marte
    assert case.handlers.get(role=HandlerRole.MANAGER).person == world.marte
    due = {d.rule_id: d.due for d in case.deadlines.all()}
    # Known Monday 22 March 2027; 5 working days skip Easter (25, 26, 29 March).
    assert due["psychosocial.first_conversation"] == date(2027, 4, 1)
    assert case.parties.filter(person=world.emil, role="reporter").exists()
    assert verify_chain().ok


def test_a_conversation_meets_the_first_conversation_deadline_by_when_it_happened(world, wednesday_before_easter):
    case = open_psychosocial(world)
    services.add_entry(world.user("marte"), case, kind=EntryKind.CONVERSATION, occurred_on=date(2027, 3, 23),
                       text="Samtale om arbeidsmengde.", data={"participants": [world.emil.pk, world.marte.pk]})
    deadline = case.deadlines.get(rule_id="psychosocial.first_conversation")
    assert deadline.status == DeadlineStatus.MET
    assert deadline.met_on == date(2027, 3, 23)


def test_known_at_in_the_future_is_refused_and_nothing_is_written(world, wednesday_before_easter):
    before = Case.objects.count()
    with pytest.raises(ValidationError) as error:
        open_psychosocial(world, known_at=date(2027, 3, 25))
    assert "known_at" in error.value.message_dict
    assert Case.objects.count() == before


def test_harassment_by_the_manager_shuts_her_out_and_brings_in_hr(world, wednesday_before_easter):
    enrol_totp(world.user("hanne"))
    case = services.open_case(
        world.user("helga"), kind=Kind.HARASSMENT, concerns=[world.emil], parties=[(world.marte, "accused")],
        factors=["harassment"], description="Emil forteller om nedsettende kommentarer.",
        source=Source.EMPLOYEE_TOLD, known_at=date(2027, 3, 24),
    )
    assert not visible(world.user("marte"), Case).filter(pk=case.pk).exists()
    assert case.exclusions.filter(person=world.marte).exists()
    assert case.handlers.filter(role=HandlerRole.HR, removed_at__isnull=True).exists()
    hr_deadline = case.deadlines.get(rule_id="harassment.hr_involved")
    assert hr_deadline.due == date(2027, 3, 30)
    assert hr_deadline.status == DeadlineStatus.MET
    # Restricted: the sibling unit's manager and limited HR outside the handlers do not see it.
    assert not visible(world.user("sander"), Case).filter(pk=case.pk).exists()
    with pytest.raises(AccessDenied):
        services.add_entry(world.user("marte"), case, kind=EntryKind.NOTE, occurred_on=date(2027, 3, 24), text="x")


def test_when_the_manager_is_accused_the_next_manager_up_owns_the_case(world, wednesday_before_easter):
    case = services.open_case(
        world.user("hanne"), kind=Kind.CONFLICT, concerns=[world.emil], parties=[(world.marte, "accused")],
        description="Konflikt mellom Emil og lederen.", source=Source.EMPLOYEE_TOLD, known_at=date(2027, 3, 24),
    )
    case.refresh_from_db()
    # Not the deputy who reports to the accused manager: the sector manager.
    assert case.owner == world.helga
    assert case.handlers.get(person=world.helga).role == HandlerRole.NEXT_MANAGER
