"""Scope primitives: who manages whom, and how far a role reaches.

These live in org (not access) because org services need them too and org sits
below access: audit < org < access < deadlines < cases < ...

A role on a unit reaches that unit and every unit below it. A role with no
unit reaches the whole organisation. Role assignments count only between
their start and end dates.
"""

from datetime import date

from django.db.models import Q
from django.utils import timezone

from tidsnok.org.models import Person, Role, RoleAssignment, Unit

ALL = "all"


def person_of(user) -> Person | None:
    if user is None or not user.is_authenticated:
        return None
    cached = getattr(user, "_tidsnok_person", False)
    if cached is not False:
        return cached
    person = Person.objects.filter(user=user).select_related("organisation", "unit").first()
    user._tidsnok_person = person
    return person


def _assignments(user, roles, on: date | None):
    person = person_of(user)
    if person is None:
        return RoleAssignment.objects.none()
    return RoleAssignment.objects.active(on).filter(person=person, role__in=roles)


def _active_roles(user, on: date | None) -> list[tuple[str, int | None, str | None]]:
    """(role, unit id, unit path) of each of the user's active assignments: one query per
    request (cached on the user object, like the scopes), where every page asked three or
    four times (administrator? HR? manager?)."""
    cache = user.__dict__.setdefault("_tidsnok_scope_cache", {})
    key = ("roles", on)
    if key not in cache:
        cache[key] = list(_assignments(user, [r.value for r in Role], on).values_list("role", "unit_id", "unit__path"))
    return cache[key]


def roles_of(user, on: date | None = None) -> set[str]:
    if user is None or not user.is_authenticated:
        return set()
    return {role for role, _unit, _path in _active_roles(user, on)}


def role_label(user) -> str:
    """The roles an audit event records for its actor ("hr,manager"); "system" for no one (the
    sweep, a command) and for an anonymous caller."""
    if user is None or not user.is_authenticated:
        return "system"
    return ",".join(sorted(roles_of(user)))


def _unit_scope(user, roles, on: date | None):
    """ALL, or the ids of the units the roles reach (with their sub-units)."""
    key = ("_tidsnok_scope", tuple(sorted(roles)), on)
    cache = user.__dict__.setdefault("_tidsnok_scope_cache", {})
    if key in cache:
        return cache[key]
    wanted = set(roles)
    rows = [(unit_id, path) for role, unit_id, path in _active_roles(user, on) if role in wanted]
    if any(unit_id is None for unit_id, _ in rows):
        result = ALL
    elif not rows:
        result = frozenset()
    else:
        person = person_of(user)
        condition = Q()
        for _, path in rows:
            condition |= Q(path__startswith=path)
        result = frozenset(
            Unit.objects.filter(organisation_id=person.organisation_id).filter(condition).values_list("id", flat=True)
        )
    cache[key] = result
    return result


def managed_unit_ids(user, on: date | None = None):
    """Units where the user is manager or deputy, with everything below."""
    scope = _unit_scope(user, [Role.MANAGER, Role.DEPUTY], on)
    return frozenset() if scope == ALL else scope


def hr_scope(user, on: date | None = None):
    return _unit_scope(user, [Role.HR], on)


def safety_rep_unit_ids(user, on: date | None = None):
    scope = _unit_scope(user, [Role.SAFETY_REP], on)
    return scope


def is_admin(user, on: date | None = None) -> bool:
    if user is None or not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    # Cached on the user object for the request (or the import run), like the scopes.
    cache = user.__dict__.setdefault("_tidsnok_scope_cache", {})
    key = ("admin", on)
    if key not in cache:
        cache[key] = any(role == Role.ADMIN for role, _unit, _path in _active_roles(user, on))
    return cache[key]


def is_hr(user, on: date | None = None) -> bool:
    return hr_scope(user, on) != frozenset()


def needs_second_factor(user) -> bool:
    """HR advisers and administrators reach sensitive data: they must use 2FA."""
    return is_admin(user) or is_hr(user)


def units_filter(scope, field: str = "unit_id") -> Q:
    """A Q limiting `field` to a scope (ALL means no limit)."""
    if scope == ALL:
        return Q()
    return Q(**{f"{field}__in": list(scope)})


def organisation_id_of(user) -> int | None:
    person = person_of(user)
    return person.organisation_id if person else None


def managers_of_unit(unit: Unit, on: date | None = None, *, exclude: Person | None = None) -> list[Person]:
    """The nearest managers (and deputies) of a unit: its own, or, if it has none, those of the
    closest unit above it; the manager first. `exclude` is left out (a manager is not her own)."""
    on = on or timezone.localdate()
    ancestor_ids = unit.ancestor_ids
    rows = (
        RoleAssignment.objects.active(on)
        .filter(role__in=[Role.MANAGER, Role.DEPUTY], unit_id__in=ancestor_ids)
        .select_related("person", "unit")
    )
    if exclude is not None:
        rows = rows.exclude(person=exclude)
    by_unit: dict[int, list[RoleAssignment]] = {}
    for row in rows:
        by_unit.setdefault(row.unit_id, []).append(row)
    for unit_id in reversed(ancestor_ids):
        if unit_id in by_unit:
            ordered = sorted(by_unit[unit_id], key=lambda r: (r.role != Role.MANAGER, r.person_id))
            return [r.person for r in ordered]
    return []


def managers_of_person(person: Person, on: date | None = None) -> list[Person]:
    """The nearest managers (and deputies) responsible for `person`: those of
    her unit, or, if it has none, of the closest unit above it."""
    return managers_of_unit(person.unit, on, exclude=person)
