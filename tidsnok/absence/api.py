"""JSON API for sick-leave follow-up: episodes, the import and the statistics.

The same services and access policy as the HTML views. There is no field for a
diagnosis anywhere, and unknown fields are refused rather than ignored.
"""

from datetime import date

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils import timezone
from ninja import Field, File, Query, Router, Schema
from ninja.files import UploadedFile
from ninja.pagination import paginate
from pydantic import ConfigDict

from tidsnok.absence import services, statistics
from tidsnok.absence.importing import import_episodes
from tidsnok.absence.models import Certification, Episode, WorkRelated
from tidsnok.access.policy import AccessDenied, get_visible_or_404, visible
from tidsnok.api_common import ErrorOut, Page
from tidsnok.org import scope
from tidsnok.org.models import Person, Unit

router = Router(tags=["sick leave"])
ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}
MAX_ID = 2**63 - 1


class Strict(Schema):
    # A field we do not know is refused: it might be a diagnosis a client tries to send.
    model_config = ConfigDict(extra="forbid")


class AbsenceIn(Strict):
    person: int = Field(..., ge=1, le=MAX_ID)
    start: date
    end: date | None = None
    grade: int = Field(100, ge=1, le=100)
    certified: Certification
    work_related: WorkRelated = WorkRelated.NO
    factors: list[str] = []
    open_case: bool = False


class AbsencePatch(Strict):
    version: int = Field(..., ge=1)
    end: date | None = None
    certified: Certification | None = None
    work_related: WorkRelated | None = None
    grade: int | None = Field(None, ge=1, le=100)
    grade_from: date | None = None


class GradeOut(Schema):
    from_date: date
    grade: int


class AbsenceOut(Schema):
    id: int
    person: int = Field(..., alias="person_id")
    start: date
    end: date | None
    certified: str
    work_related: str
    period_start: date
    grades: list[GradeOut]
    case: int | None = Field(None, alias="case_id")
    version: int

    @staticmethod
    def resolve_grades(obj):
        return list(obj.grades.all())


@router.post("/absences", response={201: AbsenceOut, **ERRORS}, summary="Register an absence episode")
def create_absence(request, payload: AbsenceIn):
    person = get_visible_or_404(request.auth, Person, pk=payload.person)
    episode = services.register_episode(
        request.auth, person=person, start=payload.start, end=payload.end, grade=payload.grade,
        certified=payload.certified, work_related=payload.work_related, factors=payload.factors,
        open_case=payload.open_case,
    )
    return 201, episode


@router.get("/absences", response={200: list[AbsenceOut], **ERRORS}, summary="Absence episodes the caller may see")
@paginate(Page)
def list_absences(request, person: int | None = Query(None, ge=1, le=MAX_ID)):
    rows = visible(request.auth, Episode).prefetch_related("grades").order_by("-start", "-id")
    if person is not None:
        rows = rows.filter(person_id=person)
    return rows


class RowErrorOut(Schema):
    line: int | None
    column: str
    reason: str


class ImportOut(Schema):
    ok: bool
    errors: list[RowErrorOut]
    summary: dict


@router.post("/absences/import", response={**ERRORS, 200: ImportOut, 400: ImportOut},
             summary="Import episodes from a CSV file (all or nothing)")
def import_absences(request, file: UploadedFile = File(...)):
    person = scope.person_of(request.auth)
    if person is None:
        raise AccessDenied("import")
    result = import_episodes(request.auth, person.organisation, file.read(), file.name or "")
    body = {
        "ok": result.ok,
        "errors": [{"line": e.line, "column": e.column, "reason": e.reason} for e in result.errors],
        "summary": result.summary,
    }
    return (200 if result.ok else 400), body


# Registered after /absences/import, so that the literal path wins over the id pattern.
@router.patch("/absences/{absence_id}", response={200: AbsenceOut, **ERRORS}, summary="Change an episode")
def patch_absence(request, absence_id: int, payload: AbsencePatch):
    episode = get_visible_or_404(request.auth, Episode, pk=absence_id)
    changes = payload.dict(exclude_unset=True)
    version = changes.pop("version")
    grade, grade_from = changes.pop("grade", None), changes.pop("grade_from", None)
    if changes:
        episode = services.update_episode(request.auth, episode, version, **changes)
        version = episode.version
    if grade is not None:
        episode = services.set_grade(request.auth, episode, version, from_date=grade_from or episode.start, grade=grade)
    return episode


def _twelve_months_before(last: date) -> date:
    """The first day of the month eleven months before `last`: a year of whole months."""
    month_index = last.year * 12 + last.month - 1 - 11
    return date(month_index // 12, month_index % 12 + 1, 1)


class StatisticsRowOut(Schema):
    unit: int
    unit_name: str
    month: str
    possible_days: float
    lost_days: float
    rate: float
    short_percent: float
    long_percent: float
    self_certified_percent: float
    doctor_certified_percent: float
    work_related_percent: float


class StatisticsOut(Schema):
    first: date
    last: date
    rate: float
    rows: list[StatisticsRowOut]


ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"


def _iso_date(value: str | None, field: str) -> date | None:
    # Taken as text and parsed here: pydantic would read a bare number as a Unix time.
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationError({field: [_("Give the date as yyyy-mm-dd.")]})


@router.get("/statistics/sick-leave", response={200: StatisticsOut, **ERRORS},
            summary="Sick-leave rate per unit and month (small units merged; the CSV is on the statistics page)")
def sick_leave_statistics(request, unit: int | None = Query(None, ge=1, le=MAX_ID),
                          from_: str | None = Query(None, alias="from", pattern=ISO_DATE),
                          to: str | None = Query(None, pattern=ISO_DATE)):
    person = scope.person_of(request.auth)
    if person is None:
        raise AccessDenied("statistics")
    last = _iso_date(to, "to") or timezone.localdate()
    first = _iso_date(from_, "from") or _twelve_months_before(last)
    if first > last:
        raise ValidationError({"from": [_("The period starts after it ends.")]})
    chosen = get_visible_or_404(request.auth, Unit, pk=unit) if unit else None
    stats = statistics.compute(request.auth, person.organisation, first, last, chosen)
    return {
        "first": first, "last": last, "rate": stats.total.rate,
        "rows": [
            {
                "unit": r.unit_id, "unit_name": r.unit_name, "month": r.month.strftime("%Y-%m"),
                "possible_days": round(r.cell.possible_days, 2), "lost_days": round(r.cell.lost_days, 2),
                "rate": round(r.rate, 2), "short_percent": round(r.share(r.cell.short_days), 2),
                "long_percent": round(r.share(r.cell.long_days), 2),
                "self_certified_percent": round(r.share(r.cell.self_days), 2),
                "doctor_certified_percent": round(r.share(r.cell.doctor_days), 2),
                "work_related_percent": round(r.share(r.cell.work_related_days), 2),
            }
            for r in stats.rows
        ],
    }
