"""Reminders and escalations come on the right days: working days, weekends
and Easter counted, each exactly once however often the sweep runs."""

from datetime import date, timedelta

from tidsnok.audit.models import AuditEvent
from tidsnok.audit.services import verify_chain
from tidsnok.cases.models import EntryKind
from tidsnok.notify.models import Notification, Reminder

from .conftest import open_case, sweep_at

RULE = "psychosocial.first_conversation"


def reminders_by_day(case, first: date, last: date, rule=RULE, hours=(6, 9, 15)):
    """Sweep several times a day from `first` to `last`; what each day brought for one deadline."""
    deadline = case.deadlines.get(rule_id=rule)
    seen, days = set(), {}
    day = first
    while day <= last:
        for hour in hours:
            sweep_at(day, hour)
        rows = Reminder.objects.filter(deadline=deadline).exclude(pk__in=seen).select_related("recipient")
        for r in rows:
            seen.add(r.pk)
            days.setdefault(day, []).append((r.kind, r.recipient.user.email.split("@")[0]))
        day += timedelta(days=1)
    return days


def test_reminders_skip_easter_and_escalation_skips_the_weekend(world):
    # Known Thursday 18 March 2027: five working days later is Tuesday 30 March, after Easter
    # (Maundy Thursday 25th, Good Friday 26th, Easter Monday 29th are holidays).
    case = open_case(world, known_at=date(2027, 3, 18))
    assert case.deadlines.get(rule_id=RULE).due == date(2027, 3, 30)
    days = reminders_by_day(case, date(2027, 3, 18), date(2027, 4, 9))
    assert days == {
        # two working days before the 30th: the 24th and the 23rd (the holidays do not count)
        date(2027, 3, 23): [("before", "marte")],
        date(2027, 3, 30): [("due", "marte")],
        date(2027, 3, 31): [("overdue", "marte")],
        # two working days overdue: to the manager's manager
        date(2027, 4, 1): [("escalation", "helga")],
    }


def test_an_overdue_deadline_on_a_friday_escalates_on_monday(world):
    # Known Monday 22 March 2027: due Thursday 1 April; overdue Friday 2 April;
    # two working days overdue is Monday 5 April, not the weekend.
    case = open_case(world, known_at=date(2027, 3, 22))
    days = reminders_by_day(case, date(2027, 3, 22), date(2027, 4, 9))
    assert days == {
        date(2027, 3, 30): [("before", "marte")],
        date(2027, 4, 1): [("due", "marte")],
        date(2027, 4, 2): [("overdue", "marte")],
        date(2027, 4, 5): [("escalation", "helga")],
    }


def test_escalation_is_on_the_case_timeline_and_in_the_audit_log_once(world):
    case = open_case(world, known_at=date(2027, 3, 22))
    for day in (date(2027, 4, 5), date(2027, 4, 5), date(2027, 4, 6)):
        sweep_at(day)
    deadline = case.deadlines.get(rule_id=RULE)
    entries = case.entries.filter(kind=EntryKind.ESCALATION, data__deadline=deadline.pk)
    assert entries.count() == 1
    assert entries.get().data["to_person"] == world.helga.pk
    events = AuditEvent.objects.filter(action="case.deadline_escalated", object_id=str(case.pk), data__deadline=deadline.pk)
    assert events.count() == 1
    assert verify_chain().ok
    assert Notification.objects.filter(user=world.user("helga"), kind="escalation", deadline=deadline).count() == 1


def test_a_sweep_that_was_down_sends_only_the_latest_stage(world):
    case = open_case(world, known_at=date(2027, 3, 22))
    # Nobody swept until two weeks later: no "due in 2 days" about an overdue deadline.
    sweep_at(date(2027, 4, 12))
    deadline = case.deadlines.get(rule_id=RULE)
    kinds = sorted(Reminder.objects.filter(deadline=deadline).values_list("kind", flat=True))
    assert kinds == ["escalation", "overdue"]


def test_a_met_deadline_reminds_nobody(world):
    from tidsnok.cases import services

    import time_machine

    case = open_case(world, known_at=date(2027, 3, 22))
    with time_machine.travel(date(2027, 3, 24), tick=False):
        services.add_entry(world.user("marte"), case, kind=EntryKind.CONVERSATION, occurred_on=date(2027, 3, 24),
                           text="Samtale.", data={"participants": [world.emil.pk, world.marte.pk]})
    for day in (date(2027, 3, 30), date(2027, 4, 1), date(2027, 4, 5)):
        sweep_at(day)
    assert not Reminder.objects.filter(deadline=case.deadlines.get(rule_id=RULE)).exists()
