"""Who is reminded, and where an overdue deadline climbs."""

from datetime import date

import time_machine

from tidsnok.cases import services as case_services
from tidsnok.cases.models import Deadline, EntryKind, Kind
from tidsnok.notify.models import Notification, Reminder

from .conftest import open_case, sweep_at
from .sql_rule import deadlines_of


def people(rows):
    return sorted({r.recipient.user.email.split("@")[0] for r in rows.select_related("recipient__user")})


def test_the_case_owner_is_reminded_and_the_employee_concerned_never(world):
    case = open_case(world, known_at=date(2027, 3, 22))
    sweep_at(date(2027, 3, 30))
    assert people(Reminder.objects.filter(case=case)) == ["marte"]
    assert not Notification.objects.filter(user=world.user("emil")).exists()


def test_when_hr_is_on_the_case_an_overdue_manager_deadline_climbs_to_hr(world):
    case = open_case(world, known_at=date(2027, 3, 22))
    with time_machine.travel(date(2027, 3, 23), tick=False):
        case_services.ask_hr(world.user("marte"), case, "Usikker på prosessen.")
    hr = case.handlers.get(role="hr").person
    sweep_at(date(2027, 4, 5))
    deadline = case.deadlines.get(rule_id="psychosocial.first_conversation")
    escalated = Reminder.objects.filter(deadline=deadline, kind="escalation")
    assert [r.recipient for r in escalated] == [hr]


def test_an_overdue_hr_deadline_climbs_to_organisation_wide_hr(world):
    case = open_case(world, known_at=date(2027, 3, 22))
    with time_machine.travel(date(2027, 3, 23), tick=False):
        case_services.ask_hr(world.user("marte"), case, "Usikker på prosessen.")
    # Hugo covers Helse, the case's unit lies in it: he is the HR handler.
    assert case.handlers.get(role="hr").person == world.hugo
    hr_deadline = case.deadlines.get(rule_id="hr.first_response")
    sweep_at(hr_deadline.due)
    assert people(Reminder.objects.filter(deadline=hr_deadline, kind="due")) == ["hugo"]
    sweep_at(date(2027, 4, 5))
    assert people(Reminder.objects.filter(deadline=hr_deadline, kind="escalation")) == ["hanne"]


def test_a_restricted_case_never_reaches_the_accused_manager(world):
    with time_machine.travel(date(2027, 3, 22), tick=False):
        case = case_services.open_case(
            world.user("helga"), kind=Kind.HARASSMENT, concerns=[world.emil], parties=[(world.marte, "accused")],
            factors=["harassment"], description="Nedsettende kommentarer.", source="employee_told",
            known_at=date(2027, 3, 22),
        )
    for day in (date(2027, 3, 24), date(2027, 3, 30), date(2027, 4, 6), date(2027, 5, 20)):
        sweep_at(day)
    reached = people(Reminder.objects.filter(case=case))
    assert reached and "marte" not in reached and "dina" not in reached
    assert not Notification.objects.filter(user=world.user("marte"), case=case).exists()
    # Only people who may see the case are told about it.
    from tidsnok.access.policy import visible
    from tidsnok.cases.models import Case

    for person in {r.recipient for r in Reminder.objects.filter(case=case).select_related("recipient__user")}:
        assert visible(person.user, Case).filter(pk=case.pk).exists(), person


def test_expected_events_remind_nobody(world):
    case = open_case(world, known_at=date(2027, 3, 22))
    Deadline.objects.filter(case=case).update(expected_event=True)
    for day in (date(2027, 3, 30), date(2027, 4, 1), date(2027, 4, 5)):
        sweep_at(day)
    assert not Reminder.objects.filter(case=case).exists()


def test_a_closed_case_reminds_nobody(world):
    case = open_case(world, known_at=date(2027, 3, 22))
    from tidsnok.cases.models import Case, Status

    Case.objects.filter(pk=case.pk).update(status=Status.CLOSED)
    sweep_at(date(2027, 4, 5))
    assert not Reminder.objects.filter(case=case).exists()


def test_the_responsibility_filter_agrees_with_the_sweep(world):
    case = open_case(world, known_at=date(2027, 3, 22))
    with time_machine.travel(date(2027, 3, 23), tick=False):
        case_services.ask_hr(world.user("marte"), case, "Usikker på prosessen.")
    sweep_at(date(2027, 3, 30))
    for key in ("marte", "hugo", "helga", "emil"):
        person = world.people[key]
        listed = set(deadlines_of(person).filter(case=case).values_list("pk", flat=True))
        reminded = set(Reminder.objects.filter(case=case, recipient=person).exclude(kind="escalation")
                       .values_list("deadline_id", flat=True))
        assert reminded <= listed, key


def test_a_handler_added_by_someone_else_is_told_and_the_one_who_opened_it_is_not(world):
    # HR registers a case where the manager is accused: the sector manager takes it over.
    with time_machine.travel(date(2027, 3, 24), tick=False):
        case = case_services.open_case(
            world.user("hanne"), kind=Kind.CONFLICT, concerns=[world.emil], parties=[(world.marte, "accused")],
            description="Konflikt.", source="employee_told", known_at=date(2027, 3, 24),
        )
    assert Notification.objects.filter(user=world.user("helga"), case=case, kind="handler_added").count() == 1
    assert not Notification.objects.filter(user=world.user("hanne"), case=case).exists()
    assert not case.entries.filter(kind=EntryKind.ESCALATION, data__to_person=world.marte.pk).exists()
