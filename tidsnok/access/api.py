"""Read API for the organisation (org sits below access, so it is served here).

Every list and lookup goes through the access policy: a person the caller may
not see answers 404, exactly like one that does not exist.
"""

from datetime import date

from ninja import Field, Path, Query, Router, Schema
from ninja.pagination import paginate

from tidsnok.access.policy import get_visible_or_404, visible
from tidsnok.api_common import ErrorOut, Page
from tidsnok.org import scope
from tidsnok.org.models import Person, RoleAssignment, Unit
from tidsnok.org.search import name_contains

router = Router(tags=["organisation"])

# Every operation may answer these; documenting them lets clients (and
# schemathesis) tell a refusal from a server error.
AUTH_ERRORS = {
    401: ErrorOut,  # no valid token or session
    403: ErrorOut,  # an HR or admin session without a second factor
}
INPUT_ERRORS = {422: ErrorOut}

# Ids are 64-bit in the database, but a JSON client (JavaScript's numbers) holds integers
# exactly only up to 2**53 - 1, and a query string may carry a larger integral number in
# exponent form ("1e+16"), which is not an integer to parse. No id comes near either limit;
# anything above is refused as invalid input (a larger one would overflow the driver).
MAX_ID = 2**53 - 1


class RoleOut(Schema):
    role: str
    unit: int | None = Field(description="The unit the role reaches (with its sub-units); empty for the whole organisation.")
    starts_on: date
    ends_on: date | None


class MeOut(Schema):
    id: int
    email: str
    language: str
    person: int | None
    name: str | None
    unit: int | None
    roles: list[RoleOut] = Field(description="Roles in force today.")
    second_factor_required: bool


class UnitOut(Schema):
    id: int
    code: str
    name: str
    parent: int | None = Field(alias="parent_id")
    depth: int


class PersonOut(Schema):
    id: int
    employee_number: str
    name: str
    email: str
    unit: int = Field(alias="unit_id")
    position: str
    start_date: date | None


PERSON_FIELDS = ("id", "employee_number", "name", "email", "unit_id", "position", "start_date")


@router.get("/me", response={200: MeOut, **AUTH_ERRORS}, summary="The logged-in user, her person and roles")
def me(request):
    user = request.auth
    person = scope.person_of(user)
    roles = (
        [
            {"role": r.role, "unit": r.unit_id, "starts_on": r.starts_on, "ends_on": r.ends_on}
            for r in RoleAssignment.objects.active().filter(person=person).order_by("role", "unit_id", "id")
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


@router.get(
    "/units", response={200: list[UnitOut], **AUTH_ERRORS, **INPUT_ERRORS}, summary="Units of the organisation"
)
@paginate(Page)
def units(request):
    return visible(request.auth, Unit).order_by("path", "id").values("id", "code", "name", "parent_id", "depth")


@router.get(
    "/people", response={200: list[PersonOut], **AUTH_ERRORS, **INPUT_ERRORS}, summary="People the user may see"
)
@paginate(Page)
def people(
    request,
    unit: int | None = Query(None, ge=1, le=MAX_ID, description="Only people in this unit (not its sub-units)."),
    # NUL cannot be stored in or compared with PostgreSQL text, so it is refused up front.
    q: str | None = Query(None, max_length=100, pattern=r"^[^\x00]*$", description="Part of the name."),
):
    rows = visible(request.auth, Person).order_by("sort_name", "id")
    if unit is not None:
        rows = rows.filter(unit_id=unit)
    if q:
        rows = rows.filter(name_contains(q))
    return rows.values(*PERSON_FIELDS)


@router.get(
    "/people/{person_id}",
    response={200: PersonOut, 404: ErrorOut, **AUTH_ERRORS, **INPUT_ERRORS},
    summary="One person (404 when not visible)",
)
def person(request, person_id: int = Path(..., ge=1, le=MAX_ID)):
    return get_visible_or_404(request.auth, Person, pk=person_id)
