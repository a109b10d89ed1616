"""Who sees absence episodes: the person's managers, HR in its scope, and the
employee herself; an episode the retention policy restricted, HR and the employee only (and a
frequent-absence prompt it restricted, HR only). Safety representatives and AMU see only
anonymised statistics."""

from django.db.models import Q

from tidsnok.absence.models import Episode, ImportJob, RecurrenceFlag
from tidsnok.access.policy import register
from tidsnok.org import scope
from tidsnok.org.models import Person


def _people_scope_q(user, field="person"):
    person = scope.person_of(user)
    units = set(scope.managed_unit_ids(user))
    hr = scope.hr_scope(user)
    if hr == scope.ALL:
        return Q()  # the callers' rows are the organisation's already
    units |= set(hr)
    if not units:
        return Q(**{field: person})
    # The people first, then their rows through the person index: a join on the person's unit let
    # the database walk every episode of the organisation newest first (291,000 at N = 50,000)
    # to find a manager's 51 (docs/performance.md, finding 21).
    people = Person.objects.filter(Q(pk=person.pk) | Q(unit_id__in=list(units))).values("pk")
    return Q(**{f"{field}_id__in": people})


def _restricted_q(user, person):
    """An episode restricted by the retention policy (restricted_at) is for HR in whose scope the
    employee is, and for the employee herself (her right of access): no longer for her managers."""
    hr = scope.hr_scope(user)
    if hr == scope.ALL or not scope.managed_unit_ids(user):
        return Q()  # HR for everyone, or someone who sees only her own episodes
    mine = Q(person=person)
    if hr:
        mine |= Q(person_id__in=Person.objects.filter(unit_id__in=list(hr)).values("pk"))
    return Q(restricted_at__isnull=True) | mine


def episodes_visible(user, action="view"):
    person = scope.person_of(user)
    if person is None:
        return Episode.objects.none()
    rows = Episode.objects.filter(organisation_id=person.organisation_id).filter(_restricted_q(user, person))
    if action == "view":
        return rows.filter(_people_scope_q(user))
    # Changing an episode is for managers and HR, not for the employee herself.
    return rows.filter(_people_scope_q(user)).exclude(person=person)


def flags_visible(user, action="view"):
    person = scope.person_of(user)
    if person is None:
        return RecurrenceFlag.objects.none()
    # A frequent-absence flag is a prompt for the manager, not shown to the employee as a verdict.
    return RecurrenceFlag.objects.filter(organisation_id=person.organisation_id).filter(
        _people_scope_q(user), _restricted_q(user, person)
    ).exclude(person=person)


def may_import(user) -> bool:
    """Importing absence from payroll: an administrator, or HR for the whole organisation."""
    return scope.is_admin(user) or scope.hr_scope(user) == scope.ALL


def import_jobs_visible(user, action="view"):
    """The organisation's queued imports: for whoever may import."""
    person = scope.person_of(user)
    if person is None or action != "view" or not may_import(user):
        return ImportJob.objects.none()
    return ImportJob.objects.filter(organisation_id=person.organisation_id)


register(Episode, episodes_visible)
register(ImportJob, import_jobs_visible)
register(RecurrenceFlag, flags_visible)
