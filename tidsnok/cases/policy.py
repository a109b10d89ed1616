"""Who may see and act on cases.

Handler-level access ("view", and every action that changes the case):
- an active handler of the case (HR and added handlers always; a manager handler
  only while she still manages the case's unit, so a manager who leaves loses it);
- for cases that are not restricted: managers of the case's unit (and above),
  and HR whose scope covers it.
Restricted cases (harassment, whistleblowing) are seen by their handlers only.
A closed case the retention policy restricted (`restricted_at`: a record a public
employer keeps but no longer uses) is for its HR handlers, and HR whose scope covers
it may read and export it; managers lose it; kinds restricted from the start stay
with their handlers.
An excluded person (a party, for impartiality) sees nothing, whatever else
she is: exclusion wins over every other route.

Participation ("participate"): the concerned employee sees her own case with the
entries shared with her, and may comment and respond to measures.
"""

from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet

from tidsnok.access.policy import register, visible
from tidsnok.cases.models import (
    RESTRICTED_KINDS,
    Case,
    Entry,
    Exclusion,
    Handler,
    HandlerRole,
    Measure,
    Party,
    PartyRole,
    Visibility,
)
from tidsnok.org import scope
from tidsnok.org.models import Unit

HANDLER_ACTIONS = {"view", "edit", "close", "export", "manage_handlers", "waive"}
# What HR in scope may do with a case the retention policy restricted (see the module's docstring).
ARCHIVE_ACTIONS = {"view", "export"}


NOTHING = Q(pk__in=[])


def _handled(person, roles) -> QuerySet:
    """Ids of the cases the person is an active handler of in one of these roles."""
    return Handler.objects.filter(person=person, role__in=roles, removed_at__isnull=True).values("case_id")


def _case_q(user, action, to_case=""):
    """The rule as a condition on a case: on Case itself (`to_case` ""), or on the
    case of a row that points to one (`to_case` "case__": entries, measures),
    where it becomes a join by the row's own case_id.

    Written for the two ways it is read. One case (a page, its entries, its
    measures) is tested on its own row, found by key, with her handler rows read
    once (small uncorrelated subqueries): never the set of every case she may
    see. A list sorted newest first walks the (organisation, created_at) index
    and tests each case the same way, stopping after a page, instead of reading
    and sorting every case of the organisation.
    """
    person = scope.person_of(user)
    if person is None:
        return NOTHING
    # Built once per user object, like the scopes it is made of: a page asks
    # several times (the case, its entries, its measures).
    cache = user.__dict__.setdefault("_tidsnok_scope_cache", {})
    key = ("cases.policy", action, to_case)
    if key not in cache:
        cache[key] = _build_case_q(user, person, action, to_case)
    return cache[key]


def _build_case_q(user, person, action, to_case):
    org = Q(**{f"{to_case}organisation_id": person.organisation_id})
    if action == "participate":
        # The few cases about her, by the (person, role) index.
        mine = Party.objects.filter(person=person, role=PartyRole.CONCERNED).values("case_id")
        return org & Q(**{f"{to_case}pk__in": mine})
    if action not in HANDLER_ACTIONS or (action == "waive" and not scope.is_hr(user)):
        return NOTHING
    managed = scope.managed_unit_ids(user)
    hr = scope.hr_scope(user)
    explicit_roles = [HandlerRole.ADDED] + ([HandlerRole.HR] if scope.is_hr(user) else [])
    # Added (and HR) handlers always; a manager handler only while she manages the case's unit.
    handler = Q(**{f"{to_case}pk__in": _handled(person, explicit_roles)})
    if managed:
        handler |= Q(**{f"{to_case}pk__in": _handled(person, [HandlerRole.MANAGER, HandlerRole.NEXT_MANAGER]),
                        f"{to_case}unit_id__in": sorted(managed)})
    # Kept by the retention policy under restricted access: HR in scope may still read and export
    # the record (each reading logged), not change it.
    archived = None
    if hr and action in ARCHIVE_ACTIONS:
        archived = Q(**{f"{to_case}restricted_at__isnull": False}) & ~Q(**{f"{to_case}kind__in": RESTRICTED_KINDS})
    # Scope first: the cheap test, and for most cases the one that decides.
    if hr == scope.ALL:
        q = Q(**{f"{to_case}restricted": False}) | handler
        if archived is not None:
            q |= archived
    else:
        units = set(managed) | set(hr)
        q = (Q(**{f"{to_case}restricted": False, f"{to_case}unit_id__in": sorted(units)}) | handler) if units else handler
        if archived is not None:
            # Within her HR units, which the bound below already lets through.
            q |= archived & Q(**{f"{to_case}unit_id__in": sorted(hr)})
        bound = _index_bound(user, person, explicit_roles, units, to_case)
        if bound is not None:
            q &= bound
    excluded = Exclusion.objects.filter(case=OuterRef(f"{to_case}pk"), person=person)
    return org & q & ~Q(Exists(excluded))


# Above this many cases handled in an explicit role, the bound below is left out: the list would
# cost more to send than it saves.
BOUND_HANDLED_CASES = 1000
# The databases whose planner needs it.
BOUND_VENDORS = frozenset({"postgresql"})


def _index_bound(user, person, explicit_roles, units, to_case):
    """For PostgreSQL: a condition every case the rule above lets through meets anyway (in one of
    her units, or a case she handles in an explicit role; a manager handler's case is in a unit
    she manages), written so that it can be answered from indexes. Without it PostgreSQL guesses
    that the rule's OR of subqueries lets half the organisation's cases through, and walks a
    manager's list from the organisation's newest case: 21,382 cases read for her 26 at 50,000
    employees. SQLite plans without such guesses (tests/cases/test_query_plans.py)."""
    if connection.vendor not in BOUND_VENDORS:
        return None
    cache = user.__dict__.setdefault("_tidsnok_scope_cache", {})
    key = ("cases.policy.explicit", tuple(explicit_roles))
    if key not in cache:
        cache[key] = list(_handled(person, explicit_roles).values_list("case_id", flat=True)[:BOUND_HANDLED_CASES + 1])
    handled = cache[key]
    if len(handled) > BOUND_HANDLED_CASES:
        return None
    return Q(**{f"{to_case}unit_id__in": sorted(units)}) | Q(**{f"{to_case}pk__in": handled})


def registrable_units(user, *, every_visible: bool = False):
    """Units whose people the user may open cases or register absence about, in tree order (a
    query): those she manages and HR's scope; every unit she may see for HR with the whole
    organisation, or with `every_visible` (an administrator registering absence)."""
    units = visible(user, Unit)
    if not every_visible and scope.hr_scope(user) != scope.ALL:
        units = units.filter(pk__in=list(set(scope.managed_unit_ids(user)) | set(scope.hr_scope(user))))
    return units.order_by("path")


def cases_visible(user, action="view"):
    return Case.objects.filter(_case_q(user, action))


def case_condition(user, action="view", to_case="case__") -> Q:
    """The case rule as a condition on a row of another room that points to a case (`to_case`, its
    path there): joined by the row's own key, each row tested on its case. Where such a list is
    walked in its own order (newest report first), this tests the page's rows, where
    `case__in=visible(user, Case)` had the database find every case of the organisation first."""
    return _case_q(user, action, to_case)


def entries_visible(user, action="view"):
    """Entries of the cases the user handles, and the concerned employee's shared entries."""
    person = scope.person_of(user)
    if person is None:
        return Entry.objects.none()
    handled = _case_q(user, "view", "case__")
    if action != "view":
        return Entry.objects.filter(handled)
    shared = _case_q(user, "participate", "case__") & Q(visibility=Visibility.SHARED) & (
        Q(about__isnull=True) | Q(about=person)
    )
    return Entry.objects.filter(handled | shared)


def measures_visible(user, action="view"):
    person = scope.person_of(user)
    if person is None:
        return Measure.objects.none()
    shared = _case_q(user, "participate", "case__") & Q(visibility=Visibility.SHARED)
    if action == "participate":
        return Measure.objects.filter(shared)
    handled = _case_q(user, "view", "case__")
    if action != "view":
        return Measure.objects.filter(handled)
    return Measure.objects.filter(handled | shared)


register(Case, cases_visible)
register(Entry, entries_visible)
register(Measure, measures_visible)
