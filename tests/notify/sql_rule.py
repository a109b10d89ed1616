"""Who answers for a deadline, written a second way: as one SQL filter on Deadline.

The application decides it in Python (`responsibility.responsible_people`, for the sweep and for
`feed.open_deadline_rows`). This filter states the same rule in the database's terms, so the
tests can hold the two readings equal; the pages no longer use it, since the planners chose bad
plans for it at 50,000 employees (docs/performance.md, finding 34).
"""

from django.db.models import Exists, OuterRef, Q

from tidsnok.cases.models import Case, Handler, HandlerRole, Status
from tidsnok.notify.responsibility import MANAGER_HANDLER_ROLES, reminded_deadlines
from tidsnok.org.models import Person


def responsible_q(person: Person) -> Q:
    """Deadlines `person` is responsible for, as a filter on Deadline (same rule as responsible_people)."""
    active = Handler.objects.filter(case=OuterRef("case"), removed_at__isnull=True)
    any_hr = active.filter(role=HandlerRole.HR)
    me_hr = any_hr.filter(person=person)
    me_manager = active.filter(person=person, role__in=MANAGER_HANDLER_ROLES)
    as_hr = Q(responsible="hr") & Exists(me_hr)
    not_hr_route = ~Q(responsible="hr") | ~Exists(any_hr)
    as_owner = Q(case__owner=person) | (Q(case__owner__isnull=True) & Exists(me_manager))
    return as_hr | (not_hr_route & as_owner)


def deadlines_of(person: Person):
    """The open deadlines she answers for, in the open cases she owns or handles."""
    owned = Case.objects.filter(owner=person, status=Status.OPEN).values_list("pk", flat=True)
    handled = Handler.objects.filter(person=person, removed_at__isnull=True,
                                     case__status=Status.OPEN).values_list("case_id", flat=True)
    own_cases = sorted(set(owned) | set(handled))
    return reminded_deadlines().filter(case_id__in=own_cases).filter(responsible_q(person))
