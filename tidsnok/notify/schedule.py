"""When a deadline's reminders go out: pure functions of the due date, today,
the organisation's working-day calendar and its two numbers.

Stages of an open deadline due on D, with lead L and escalation E (working days):

    before      from the L-th working day before D (none when L is 0)
    due         from D itself (whatever day of the week D is)
    overdue     from the first working day after D
    escalation  from the E-th working day after D

A stage's reminders carry the day the stage began (`on_date`), so each is
created once. A worker that was down catches up with the latest stage only:
nobody gets "due in 2 days" about a deadline that is already overdue. Reaching
the escalation stage also sends the overdue reminder if it never went out.
"""

from dataclasses import dataclass
from datetime import date

from tidsnok.deadlines.calendar import WorkingCalendar

NEVER = date.max

BEFORE, DUE, OVERDUE, ESCALATION = "before", "due", "overdue", "escalation"
WAITING, ESCALATED = "waiting", "escalated"


@dataclass(frozen=True)
class Plan:
    """What is due for one deadline today."""

    stage: str  # waiting, before, due, overdue, escalated
    # (kind, on_date) reminders to the responsible people
    reminders: tuple[tuple[str, date], ...]
    # the day the escalation stage began, when it has
    escalate_on: date | None
    # the next day the deadline needs looking at
    next_on: date


@dataclass(frozen=True)
class Days:
    before: date | None
    due: date
    overdue: date
    escalate: date


def stage_days(due: date, calendar: WorkingCalendar, lead: int, escalate_after: int) -> Days:
    return Days(
        before=calendar.add_working_days(due, -lead) if lead > 0 else None,
        due=due,
        overdue=calendar.add_working_days(due, 1),
        escalate=calendar.add_working_days(due, max(escalate_after, 1)),
    )


def plan_for(due: date, today: date, calendar: WorkingCalendar, lead: int, escalate_after: int) -> Plan:
    days = stage_days(due, calendar, lead, escalate_after)
    if today >= days.escalate:
        return Plan(ESCALATED, ((OVERDUE, days.overdue),), days.escalate, NEVER)
    if today >= days.overdue:
        return Plan(OVERDUE, ((OVERDUE, days.overdue),), None, days.escalate)
    if today >= due:
        return Plan(DUE, ((DUE, due),), None, days.overdue)
    if days.before is not None and today >= days.before:
        return Plan(BEFORE, ((BEFORE, days.before),), None, due)
    return Plan(WAITING, (), None, days.before or due)


class Planner:
    """plan_for with a memory: many deadlines share a due date."""

    def __init__(self, today: date, calendar: WorkingCalendar, lead: int, escalate_after: int):
        self.today, self.calendar, self.lead, self.escalate_after = today, calendar, lead, escalate_after
        self._memo: dict[date, Plan] = {}

    def __call__(self, due: date) -> Plan:
        plan = self._memo.get(due)
        if plan is None:
            plan = self._memo[due] = plan_for(due, self.today, self.calendar, self.lead, self.escalate_after)
        return plan

    def horizon(self) -> date:
        """No deadline due after this day has anything due today."""
        return self.calendar.add_working_days(self.today, max(self.lead, 0)) if self.lead else self.today
