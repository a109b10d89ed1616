"""Who sees absence episodes: the person's managers, HR in its scope, and the
employee herself. Safety representatives and AMU see only anonymised statistics."""

from django.db.models import Q

from tidsnok.absence.models import Episode, RecurrenceFlag
from tidsnok.access.policy import register
from tidsnok.org import scope


def _people_scope_q(user, field="person"):
    person = scope.person_of(user)
    units = set(scope.managed_unit_ids(user))
    hr = scope.hr_scope(user)
    q = Q(**{field: person})
    if hr == scope.ALL:
        return Q(**{f"{field}__organisation_id": person.organisation_id})
    units |= set(hr)
    if units:
        q |= Q(**{f"{field}__unit_id__in": list(units)})
    return q


def episodes_visible(user, action="view"):
    person = scope.person_of(user)
    if person is None:
        return Episode.objects.none()
    rows = Episode.objects.filter(organisation_id=person.organisation_id)
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
        _people_scope_q(user)
    ).exclude(person=person)


register(Episode, episodes_visible)
register(RecurrenceFlag, flags_visible)
