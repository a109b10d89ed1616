"""Read API for the organisation (org sits below access, so it is served here)."""

from datetime import date

from django.db.models import F
from ninja import Router, Schema
from ninja.pagination import paginate

from tidsnok.org import scope
from tidsnok.access.policy import get_visible_or_404, visible
from tidsnok.api_common import Page
from tidsnok.org.models import Person, RoleAssignment, Unit

router = Router(tags=["organisation"])


class RoleOut(Schema):
    role: str
    unit: int | None
    starts_on: date
    ends_on: date | None


class MeOut(Schema):
    id: int
    email: str
    language: str
    person: int | None
    name: str | None
    unit: int | None
    roles: list[RoleOut]
    second_factor_required: bool


class UnitOut(Schema):
    id: int
    code: str
    name: str
    parent: int | None
    depth: int


class PersonOut(Schema):
    id: int
    employee_number: str
    name: str
    email: str
    unit: int
    position: str
    start_date: date | None


def _person_out(p: Person) -> dict:
    return {
        "id": p.pk, "employee_number": p.employee_number, "name": p.name, "email": p.email,
        "unit": p.unit_id, "position": p.position, "start_date": p.start_date,
    }


@router.get("/me", response=MeOut, summary="The logged-in user, her person and roles")
def me(request):
    user = request.auth
    person = scope.person_of(user)
    roles = (
        [
            {"role": r.role, "unit": r.unit_id, "starts_on": r.starts_on, "ends_on": r.ends_on}
            for r in RoleAssignment.objects.active().filter(person=person).order_by("role", "unit_id")
        ]
        if person
        else []
    )
    return {
        "id": user.pk, "email": user.email, "language": user.language or "nb",
        "person": person.pk if person else None, "name": person.name if person else None,
        "unit": person.unit_id if person else None, "roles": roles,
        "second_factor_required": scope.needs_second_factor(user),
    }


@router.get("/units", response=list[UnitOut], summary="Units of the organisation")
@paginate(Page)
def units(request):
    return visible(request.auth, Unit).order_by("path", "id").values(
        "id", "code", "name", "depth", parent=F("parent_id")
    )


@router.get("/people", response=list[PersonOut], summary="People the user may see")
@paginate(Page)
def people(request, unit: int | None = None, q: str | None = None):
    rows = visible(request.auth, Person).order_by("name", "id")
    if unit is not None:
        rows = rows.filter(unit_id=unit)
    if q:
        rows = rows.filter(name__icontains=q)
    return rows.values("id", "employee_number", "name", "email", "position", "start_date", unit=F("unit_id"))


@router.get("/people/{person_id}", response=PersonOut, summary="One person (404 when not visible)")
def person(request, person_id: int):
    return _person_out(get_visible_or_404(request.auth, Person, pk=person_id))
