"""The spine's rules through its services: escalation, closure, reopening,
stale edits, reviews and honest time."""

from datetime import date, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError

from tidsnok.access.policy import visible
from tidsnok.audit.models import AuditEvent
from tidsnok.cases import services
from tidsnok.cases.models import (
    Case,
    DeadlineStatus,
    EntryKind,
    HandlerRole,
    Kind,
    MeasureKind,
    MeasureStatus,
    Source,
    Status,
    Visibility,
)
from tidsnok.versioning import StaleVersion

TODAY = date(2027, 2, 1)  # a Monday


@pytest.fixture(autouse=True)
def frozen_monday():
    with time_machine.travel(TODAY, tick=False):
        yield


def open_case(world, kind=Kind.PSYCHOSOCIAL, actor="marte", **kw):
    fields = dict(kind=kind, concerns=[world.emil], description="Bekymring.", source=Source.OBSERVED, known_at=TODAY)
    fields.update(kw)
    return services.open_case(world.user(actor), **fields)


def assess(world, case, **data):
    values = dict(health_risk="medium", work_related="yes", affects_work_ability=False, affects_several=False)
    values.update(data)
    return services.add_entry(world.user("marte"), case, kind=EntryKind.ASSESSMENT, occurred_on=TODAY, data=values)


def hr_handlers(case):
    return case.handlers.filter(role=HandlerRole.HR, removed_at__isnull=True)


def test_a_plain_concern_does_not_involve_hr(world):
    case = open_case(world)
    assess(world, case)
    assert not hr_handlers(case).exists()


def test_a_conflict_that_affects_work_ability_involves_hr(world):
    case = open_case(world, kind=Kind.CONFLICT)
    assert not hr_handlers(case).exists()
    assess(world, case, affects_work_ability=True)
    case.refresh_from_db()
    assert hr_handlers(case).exists()
    assert case.entries.filter(kind=EntryKind.HR_INVOLVED).exists()
    # HR gets a deadline of its own from the day it was involved.
    assert case.deadlines.get(rule_id="hr.first_response").start == TODAY


def test_a_conflict_that_affects_several_in_the_team_involves_hr(world):
    case = open_case(world, kind=Kind.CONFLICT)
    assess(world, case, affects_several=True)
    assert hr_handlers(case).exists()


def test_the_unsure_button_involves_hr_with_the_managers_note(world):
    case = open_case(world)
    services.ask_hr(world.user("marte"), case, "Jeg er usikker på om jeg er inhabil.")
    handler = hr_handlers(case).get()
    # The most specific HR scope wins: Hugo covers Helse, Hanne the whole organisation.
    assert handler.person == world.hugo
    assert case.entries.filter(kind=EntryKind.UNCERTAIN).exists()
    assert AuditEvent.objects.filter(action="case.hr_involved", object_id=str(case.pk)).exists()


def test_the_unsure_button_needs_a_note(world):
    case = open_case(world)
    with pytest.raises(ValidationError):
        services.ask_hr(world.user("marte"), case, "  ")
    assert not hr_handlers(case).exists()


def test_a_harassment_claim_involves_hr_at_once(world):
    case = open_case(world, kind=Kind.HARASSMENT, parties=[(world.ella, "accused")])
    assert hr_handlers(case).exists()
    assert case.restricted


def test_a_case_cannot_close_with_an_open_measure(world):
    case = open_case(world)
    services.add_measure(world.user("marte"), case, what="Omfordele oppgaver", kind=MeasureKind.ORGANISATIONAL,
                         owner=world.marte, due=TODAY + timedelta(days=14))
    with pytest.raises(ValidationError) as error:
        services.close_case(world.user("marte"), case, "Bedre nå.", case.version)
    assert "open" in str(error.value).lower() or "åpne" in str(error.value).lower()
    case.refresh_from_db()
    assert case.status == Status.OPEN


def test_a_case_cannot_close_without_an_evaluation(world):
    case = open_case(world)
    with pytest.raises(ValidationError):
        services.close_case(world.user("marte"), case, "", case.version)


def test_a_cancelled_measure_needs_a_reason_and_then_lets_the_case_close(world):
    case = open_case(world)
    measure = services.add_measure(world.user("marte"), case, what="Kurs", kind=MeasureKind.INDIVIDUAL,
                                   owner=world.marte, due=TODAY + timedelta(days=7))
    with pytest.raises(ValidationError):
        services.update_measure(world.user("marte"), measure, measure.version, status=MeasureStatus.CANCELLED)
    measure = services.update_measure(world.user("marte"), measure, measure.version,
                                      status=MeasureStatus.CANCELLED, cancel_reason="Ikke lenger aktuelt")
    follow_up = case.deadlines.get(rule_id="psychosocial.measure_follow_up", measure=measure)
    assert follow_up.status == DeadlineStatus.NOT_REQUIRED
    case.refresh_from_db()
    services.close_case(world.user("marte"), case, "Situasjonen er løst.", case.version)
    case.refresh_from_db()
    assert case.status == Status.CLOSED
    assert case.entries.filter(kind=EntryKind.EVALUATION, visibility=Visibility.SHARED).exists()


def test_a_harassment_case_cannot_close_without_hr(world):
    case = open_case(world, kind=Kind.HARASSMENT, parties=[(world.ella, "accused")])
    case.handlers.filter(role=HandlerRole.HR).delete()
    with pytest.raises(ValidationError) as error:
        services.close_case(world.user("marte"), case, "Konkludert.", case.version)
    assert "HR" in str(error.value)


def test_reopening_needs_a_reason_and_is_audited(world):
    case = open_case(world)
    services.close_case(world.user("marte"), case, "Løst.", case.version)
    case.refresh_from_db()
    with pytest.raises(ValidationError):
        services.reopen_case(world.user("marte"), case, "", case.version)
    services.reopen_case(world.user("marte"), case, "Problemet kom tilbake.", case.version)
    case.refresh_from_db()
    assert case.status == Status.OPEN
    assert AuditEvent.objects.filter(action="case.reopened", object_id=str(case.pk)).exists()


def test_an_edit_based_on_an_old_version_is_refused_and_nothing_is_lost(world):
    case = open_case(world)
    measure = services.add_measure(world.user("marte"), case, what="Ukentlig oppfølging", kind=MeasureKind.INDIVIDUAL,
                                   owner=world.marte, due=TODAY + timedelta(days=7))
    seen = measure.version
    services.update_measure(world.user("marte"), measure, seen, status=MeasureStatus.IN_PROGRESS)
    with pytest.raises(StaleVersion):
        services.update_measure(world.user("dina"), measure, seen, what="Overskrevet")
    measure.refresh_from_db()
    assert measure.what == "Ukentlig oppfølging"
    assert measure.status == MeasureStatus.IN_PROGRESS


def test_a_deadline_is_met_by_when_it_happened_and_late_is_marked(world):
    with time_machine.travel(TODAY + timedelta(days=20), tick=False):
        case = open_case(world, known_at=TODAY)
        # The conversation happened 9 days after she knew, and was written down later still.
        services.add_entry(world.user("marte"), case, kind=EntryKind.CONVERSATION, occurred_on=TODAY + timedelta(days=9),
                           text="Samtale.", data={"participants": [world.emil.pk]})
    deadline = case.deadlines.get(rule_id="psychosocial.first_conversation")
    assert deadline.due == date(2027, 2, 8)
    assert deadline.status == DeadlineStatus.LATE
    assert deadline.days_late == 2
    entry = case.entries.get(kind=EntryKind.CONVERSATION)
    assert entry.recording_delay_days == 11


def test_a_known_at_more_than_30_days_back_needs_a_reason(world):
    with pytest.raises(ValidationError) as error:
        open_case(world, known_at=TODAY - timedelta(days=31))
    assert "known_at_reason" in error.value.message_dict
    case = open_case(world, known_at=TODAY - timedelta(days=31), known_at_reason="Var ute i permisjon.")
    assert case.known_at == TODAY - timedelta(days=31)


def test_reviews_repeat_every_30_days_while_the_case_is_open(world):
    case = open_case(world)
    first = case.deadlines.get(rule_id="psychosocial.review", sequence=0)
    assert first.due == TODAY + timedelta(days=30)
    with time_machine.travel(TODAY + timedelta(days=25), tick=False):
        services.add_entry(world.user("marte"), case, kind=EntryKind.FOLLOW_UP, occurred_on=TODAY + timedelta(days=25),
                           text="Gjennomgang: bedre.")
    second = case.deadlines.get(rule_id="psychosocial.review", sequence=1)
    assert second.start == TODAY + timedelta(days=25)
    assert second.due == TODAY + timedelta(days=55)


def test_each_measure_gets_a_follow_up_deadline_after_it_is_due(world):
    case = open_case(world)
    measure = services.add_measure(world.user("marte"), case, what="Ny turnus", kind=MeasureKind.ORGANISATIONAL,
                                   owner=world.marte, due=date(2027, 2, 15))
    deadline = case.deadlines.get(rule_id="psychosocial.measure_follow_up", measure=measure)
    assert deadline.start == date(2027, 2, 15)
    assert deadline.due == date(2027, 3, 15)  # 20 working days
    with time_machine.travel(date(2027, 2, 20), tick=False):
        services.add_entry(world.user("marte"), case, kind=EntryKind.FOLLOW_UP, occurred_on=date(2027, 2, 19),
                           text="Turnusen virker.", measure=measure)
    deadline.refresh_from_db()
    assert deadline.status == DeadlineStatus.MET


def test_the_employee_sees_shared_entries_but_not_internal_ones(world):
    case = open_case(world)
    marte = world.user("marte")
    services.add_entry(marte, case, kind=EntryKind.CONVERSATION, occurred_on=TODAY, text="Delt sammendrag",
                       data={"participants": [world.emil.pk]})
    services.add_entry(marte, case, kind=EntryKind.NOTE, occurred_on=TODAY, text="Intern notat")
    from tidsnok.cases.models import Entry

    texts = set(visible(world.user("emil"), Entry).filter(case=case).values_list("text", flat=True))
    assert "Delt sammendrag" in texts
    assert "Intern notat" not in texts
    # The employee has no handler access to the case itself.
    assert not visible(world.user("emil"), Case).filter(pk=case.pk).exists()
    assert visible(world.user("emil"), Case, "participate").filter(pk=case.pk).exists()


def test_the_employee_comments_and_disagrees_with_a_measure(world):
    case = open_case(world)
    measure = services.add_measure(world.user("marte"), case, what="Redusert stilling", kind=MeasureKind.INDIVIDUAL,
                                   owner=world.marte, due=TODAY + timedelta(days=10))
    services.add_entry(world.user("emil"), case, kind=EntryKind.COMMENT, occurred_on=TODAY, text="Jeg vil heller bytte vakter.")
    response = services.respond_to_measure(world.user("emil"), measure, agrees=False, comment="Ikke enig.")
    assert response.data == {"agrees": False}
    assert response.author == world.emil
    # A colleague in the same unit cannot respond to Emil's measures.
    from tidsnok.access.policy import AccessDenied

    with pytest.raises(AccessDenied):
        services.respond_to_measure(world.user("ella"), measure, agrees=True)


def test_a_former_manager_loses_access_from_her_end_date(world):
    case = open_case(world)
    assert not visible(world.user("frode"), Case).filter(pk=case.pk).exists()
    assert visible(world.user("helga"), Case).filter(pk=case.pk).exists()
    assert not visible(world.user("sander"), Case).filter(pk=case.pk).exists()
    assert visible(world.user("hugo"), Case).filter(pk=case.pk).exists()
    assert not visible(world.user("ada"), Case).filter(pk=case.pk).exists()
    assert not visible(world.user("siri"), Case).filter(pk=case.pk).exists()


def test_hr_can_waive_a_deadline_with_a_reason(world):
    case = open_case(world)
    deadline = case.deadlines.get(rule_id="psychosocial.assessment")
    from tidsnok.access.policy import AccessDenied

    with pytest.raises(AccessDenied):
        services.waive_deadline(world.user("marte"), deadline, "Ikke nødvendig")
    with pytest.raises(ValidationError):
        services.waive_deadline(world.user("hugo"), deadline, "")
    deadline = services.waive_deadline(world.user("hugo"), deadline, "Saken ble avklart i første samtale.")
    assert deadline.status == DeadlineStatus.WAIVED
    # A later change does not undo the waiver.
    services.add_entry(world.user("marte"), case, kind=EntryKind.NOTE, occurred_on=TODAY, text="Notat")
    deadline.refresh_from_db()
    assert deadline.status == DeadlineStatus.WAIVED


def test_a_deadline_that_is_no_longer_required_says_when_that_changed(world):
    """Its change time is what the calendar feed gives as the event's DTSTAMP."""
    case = open_case(world)
    measure = services.add_measure(world.user("marte"), case, what="Kurs", kind=MeasureKind.INDIVIDUAL,
                                   owner=world.marte, due=TODAY + timedelta(days=7))
    created = case.deadlines.get(rule_id="psychosocial.measure_follow_up", measure=measure).updated_at
    with time_machine.travel(created + timedelta(hours=3)):
        services.update_measure(world.user("marte"), measure, measure.version,
                                status=MeasureStatus.CANCELLED, cancel_reason="Ikke lenger aktuelt")
    follow_up = case.deadlines.get(rule_id="psychosocial.measure_follow_up", measure=measure)
    assert follow_up.status == DeadlineStatus.NOT_REQUIRED
    assert follow_up.updated_at >= created + timedelta(hours=3)
