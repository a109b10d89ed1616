"""Who may see which people and units.

- an employee sees herself;
- a manager (or deputy) sees the people in the units she manages and below;
- HR sees the people in its scope;
- an administrator sees everyone in the organisation;
- a safety representative or AMU member sees no individual data here (only herself).
Units are the organisation's structure, not personal data: everyone in the
organisation sees them. Only an administrator may manage (or import) either.
Any other action grants nothing: deny by default, so a new action name never
inherits the reach of "view" by accident.
"""

from django.db.models import Q

from tidsnok.org import scope
from tidsnok.access.policy import register
from tidsnok.org.models import Person, Unit


def people_visible(user, action="view"):
    person = scope.person_of(user)
    if person is None:
        return Person.objects.none()
    base = Person.objects.filter(organisation_id=person.organisation_id)
    if action in ("manage", "import"):
        return base if scope.is_admin(user) else Person.objects.none()
    if action != "view":
        return Person.objects.none()
    if scope.is_admin(user):
        return base
    condition = Q(pk=person.pk)
    hr = scope.hr_scope(user)
    if hr == scope.ALL:
        return base
    condition |= Q(unit_id__in=list(hr | scope.managed_unit_ids(user)))
    return base.filter(condition)


def units_visible(user, action="view"):
    person = scope.person_of(user)
    if person is None:
        return Unit.objects.none()
    base = Unit.objects.filter(organisation_id=person.organisation_id)
    if action in ("manage", "import"):
        return base if scope.is_admin(user) else Unit.objects.none()
    if action != "view":
        return Unit.objects.none()
    return base


register(Person, people_visible)
register(Unit, units_visible)
