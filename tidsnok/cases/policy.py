"""Who may see and act on cases.

Handler-level access ("view", and every action that changes the case):
- an active handler of the case (HR and added handlers always; a manager handler
  only while she still manages the case's unit, so a manager who leaves loses it);
- for cases that are not restricted: managers of the case's unit (and above),
  and HR whose scope covers it.
Restricted cases (harassment, whistleblowing) are seen by their handlers only.
An excluded person (a party, for impartiality) sees nothing, whatever else
she is: exclusion wins over every other route.

Participation ("participate"): the concerned employee sees her own case with the
entries shared with her, and may comment and respond to measures.
"""

from django.db.models import Exists, OuterRef, Q

from tidsnok.access.policy import register
from tidsnok.cases.models import Case, Entry, Exclusion, Handler, HandlerRole, Measure, Party, PartyRole, Visibility
from tidsnok.org import scope

HANDLER_ACTIONS = {"view", "edit", "close", "export", "manage_handlers", "waive"}


def _handler_q(user) -> Q:
    person = scope.person_of(user)
    managed = scope.managed_unit_ids(user)
    explicit_roles = [HandlerRole.ADDED]
    if scope.is_hr(user):
        explicit_roles.append(HandlerRole.HR)
    handler = Handler.objects.filter(case=OuterRef("pk"), person=person, removed_at__isnull=True)
    q = Q(Exists(handler.filter(role__in=explicit_roles)))
    if managed:
        q |= Q(Exists(handler.filter(role__in=[HandlerRole.MANAGER, HandlerRole.NEXT_MANAGER])), unit_id__in=list(managed))
    return q


def cases_visible(user, action="view"):
    person = scope.person_of(user)
    if person is None:
        return Case.objects.none()
    base = Case.objects.filter(organisation_id=person.organisation_id)
    if action == "participate":
        return base.filter(
            Exists(Party.objects.filter(case=OuterRef("pk"), person=person, role=PartyRole.CONCERNED))
        )
    if action not in HANDLER_ACTIONS:
        return Case.objects.none()
    q = _handler_q(user)
    scope_units = set(scope.managed_unit_ids(user))
    hr = scope.hr_scope(user)
    if hr == scope.ALL:
        q |= Q(restricted=False)
    else:
        scope_units |= set(hr)
    if scope_units:
        q |= Q(restricted=False, unit_id__in=list(scope_units))
    if action == "waive" and not scope.is_hr(user):
        return Case.objects.none()
    excluded = Exclusion.objects.filter(case=OuterRef("pk"), person=person)
    return base.filter(q).exclude(Exists(excluded))


def entries_visible(user, action="view"):
    """Entries of the cases the user handles, and the concerned employee's shared entries."""
    person = scope.person_of(user)
    if person is None:
        return Entry.objects.none()
    handled = Entry.objects.filter(case__in=cases_visible(user, "view"))
    if action != "view":
        return handled
    shared = Entry.objects.filter(
        case__in=cases_visible(user, "participate"), visibility=Visibility.SHARED
    ).filter(Q(about__isnull=True) | Q(about=person))
    return handled | shared


def measures_visible(user, action="view"):
    person = scope.person_of(user)
    if person is None:
        return Measure.objects.none()
    handled = Measure.objects.filter(case__in=cases_visible(user, "view"))
    if action == "participate":
        return Measure.objects.filter(case__in=cases_visible(user, "participate"), visibility=Visibility.SHARED)
    if action != "view":
        return handled
    shared = Measure.objects.filter(case__in=cases_visible(user, "participate"), visibility=Visibility.SHARED)
    return handled | shared


register(Case, cases_visible)
register(Entry, entries_visible)
register(Measure, measures_visible)
