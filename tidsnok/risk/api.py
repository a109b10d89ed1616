"""A unit's mapping and risk assessment through the JSON API: the assessments, their risk
register, action plan, participation ledger and comments.

Every change goes through tidsnok.risk.services (which checks access, audits and sets what the
sweep reminds of); every read goes through the access policy (tidsnok.risk.policy). An assessment
the caller may not read answers 404, exactly like one that does not exist; one she may read but
not change answers 404 to a change too, as a case does.
"""

from datetime import date, datetime
from typing import Annotated, Literal

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from ninja import Field, Path, Query, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import BeforeValidator

from tidsnok.access.api import AUTH_ERRORS, MAX_ID
from tidsnok.access.policy import AccessDenied, can, get_visible_or_404, visible
from tidsnok.api_common import ErrorOut, Page
from tidsnok.cases.api import Id, IsoDate
from tidsnok.cases.models import MeasureStatus
from tidsnok.org.models import Person
from tidsnok.risk import rules, services
from tidsnok.risk.models import Action, Assessment, Comment, Method, Participant, ParticipantRole, Risk
from tidsnok.risk.models import Status as AssessmentStatus

router = Router(tags=["risk assessment"])

NOT_FOUND = {404: ErrorOut}
# 400: a refusal by the services (a message per field); 422: the body or query does not match the
# schema; both carry `message` and `errors`.
INPUT_ERRORS = {400: ErrorOut, 422: ErrorOut}
CONFLICT = {409: ErrorOut}

MethodValue = Literal[tuple(Method.values)]
StatusValue = Literal[tuple(AssessmentStatus.values)]
RoleValue = Literal[tuple(ParticipantRole.values)]
MeasureStatusValue = Literal[tuple(MeasureStatus.values)]
LevelValue = Literal[rules.LOW, rules.MEDIUM, rules.HIGH]


def _number(value):
    if isinstance(value, (str, bool)):
        raise ValueError("Send a number, not a string or a boolean.")
    return value


Scale = Annotated[int, BeforeValidator(_number), Field(ge=1, le=4)]
Title = Annotated[str, Field(max_length=services.TITLE_MAX, pattern=r"^[^\x00]*$")]
# The services' own limit: a longer text would be refused by them anyway (400).
LongText = Annotated[str, Field(max_length=services.TEXT_MAX, pattern=r"^[^\x00]*$")]
FactorCode = Annotated[str, Field(max_length=40, pattern=r"^[-a-zA-Z0-9_]*$")]


# --- output schemas -------------------------------------------------------------------------------


class AssessmentOut(Schema):
    id: int
    unit: int
    unit_code: str
    unit_name: str
    title: str
    method: MethodValue
    status: StatusValue
    started_on: date
    completed_on: date | None
    review_due: date | None = Field(description="When the unit must assess again; set when it is completed.")
    risk_count: int = Field(description="Risks in the register.")
    open_actions: int = Field(description="Measures of the action plan planned or in progress.")
    version: int = Field(description="Send it back with complete: a stale version is refused with 409.")

    @staticmethod
    def resolve_unit(obj):
        return obj.unit_id

    @staticmethod
    def resolve_unit_code(obj):
        return obj.unit.code

    @staticmethod
    def resolve_unit_name(obj):
        return obj.unit.name


class RiskOut(Schema):
    id: int
    factor: str | None = Field(description="The factor's code in the organisation's catalogue; empty: another risk.")
    description: str = Field(description="What may happen.")
    likelihood: int = Field(description="1 unlikely, 2 possible, 3 likely, 4 very likely.")
    consequence: int = Field(description="1 minor, 2 moderate, 3 serious, 4 critical.")
    level: LevelValue = Field(description="The product on the 4 x 4 matrix: 1-3 low, 4-8 medium, 9-16 high "
                                          "(a policy default). A medium or high risk needs a measure.")
    current_measures: str = Field(description="What is already done.")
    version: int

    @staticmethod
    def resolve_factor(obj):
        return obj.factor.code if obj.factor_id else None

    @staticmethod
    def resolve_level(obj):
        return rules.level(obj.likelihood, obj.consequence)


class ActionOut(Schema):
    id: int
    assessment: int
    risk: int | None = Field(description="The risk of the register the measure answers, if any.")
    what: str
    owner: int
    owner_name: str
    due: date
    status: MeasureStatusValue
    cancel_reason: str
    done_on: date | None
    version: int = Field(description="Send it back with PATCH: a stale version is refused with 409.")

    @staticmethod
    def resolve_assessment(obj):
        return obj.assessment_id

    @staticmethod
    def resolve_risk(obj):
        return obj.risk_id

    @staticmethod
    def resolve_owner(obj):
        return obj.owner_id

    @staticmethod
    def resolve_owner_name(obj):
        return obj.owner.name


class ParticipantOut(Schema):
    id: int
    person: int
    name: str
    role: RoleValue
    took_part_on: date

    @staticmethod
    def resolve_person(obj):
        return obj.person_id

    @staticmethod
    def resolve_name(obj):
        return obj.person.name


class CommentOut(Schema):
    id: int
    author: int
    author_name: str
    role: RoleValue = Field(description="The capacity she wrote in.")
    text: str
    created_at: datetime

    @staticmethod
    def resolve_author(obj):
        return obj.author_id

    @staticmethod
    def resolve_author_name(obj):
        return obj.author.name


class AssessmentDetailOut(AssessmentOut):
    summary: str = Field(description="The conclusion, written when it is completed.")
    may_edit: bool = Field(description="Whether the caller may change the assessment (register, plan, ledger).")
    risks: list[RiskOut]
    actions: list[ActionOut] = Field(description="The action plan, earliest due first.")
    participants: list[ParticipantOut] = Field(description="The participation ledger.")
    comments: list[CommentOut]

    @staticmethod
    def resolve_risks(obj):
        return obj.risk_rows

    @staticmethod
    def resolve_actions(obj):
        return obj.action_rows

    @staticmethod
    def resolve_participants(obj):
        return obj.participant_rows

    @staticmethod
    def resolve_comments(obj):
        return obj.comment_rows


# --- input schemas --------------------------------------------------------------------------------


class AssessmentIn(Schema):
    unit: Id = Field(description="A unit the caller manages (or is above), or one in her HR scope.")
    title: Title
    method: MethodValue = Field(description="How the work environment was mapped.")
    started_on: IsoDate = Field(description="Not in the future.")


class RiskIn(Schema):
    factor: FactorCode | None = Field(None, description="A code of the organisation's factor catalogue; empty: "
                                                        "a risk outside it.")
    description: LongText = Field(description="What may happen (about the work, never a person).")
    likelihood: Scale
    consequence: Scale
    current_measures: LongText = ""


class ActionIn(Schema):
    what: LongText
    owner: Id = Field(description="Who owns the measure: someone who works here (see the operation).")
    due: IsoDate = Field(description="Not before the assessment started.")
    risk: Id | None = Field(None, description="The risk of this assessment the measure answers.")


class ActionPatch(Schema):
    """Only the fields sent are changed. `null` is a value only for `risk` (no risk)."""

    version: Id
    status: MeasureStatusValue = None
    cancel_reason: LongText = None
    what: LongText = None
    owner: Id = None
    due: IsoDate = None
    risk: Id | None = None


class ParticipantIn(Schema):
    person: Id
    role: RoleValue = Field(description="The capacity she took part in.")
    took_part_on: IsoDate = Field(description="Not in the future.")


class CommentIn(Schema):
    text: LongText


class CompleteIn(Schema):
    version: Id
    summary: LongText = Field(description="The conclusion of the assessment.")
    completed_on: IsoDate | None = Field(None, description="Default: today.")
    review_due: IsoDate | None = Field(None, description="Default, and the latest allowed: a year after completion.")


# --- queries --------------------------------------------------------------------------------------


def _assessment_or_404(user, assessment_id: int, action: str = "view") -> Assessment:
    return get_visible_or_404(user, Assessment, action, pk=assessment_id)


def _detail(user, assessment_id: int) -> Assessment:
    assessment = services.latest_by_unit(user).filter(pk=assessment_id).first()
    if assessment is None:
        raise AccessDenied("view")
    assessment.may_edit = can(user, "edit", assessment)
    assessment.risk_rows = list(assessment.risks.select_related("factor").order_by("id"))
    assessment.action_rows = list(assessment.actions.select_related("owner").order_by("due", "id"))
    assessment.participant_rows = list(assessment.participants.select_related("person").order_by("took_part_on", "id"))
    assessment.comment_rows = list(assessment.comments.select_related("author").order_by("created_at", "id"))
    return assessment


def _person(user, assessment: Assessment, person_id: int, field: str) -> Person:
    """Someone the caller may name in the assessment (services.nameable); anyone else reads as
    unknown, existing or not: the API is no directory of who works where."""
    found = services.nameable(user, assessment).filter(pk=person_id).first()
    if found is None:
        raise ValidationError({field: [_("Unknown person.")]})
    return found


def _risk(assessment: Assessment, risk_id: int | None) -> Risk | None:
    if risk_id is None:
        return None
    risk = Risk.objects.filter(assessment=assessment, pk=risk_id).first()
    if risk is None:
        raise ValidationError({"risk": [_("Choose a risk of this assessment.")]})
    return risk


def _action(pk: int) -> Action:
    return Action.objects.select_related("owner").get(pk=pk)


# --- assessments ----------------------------------------------------------------------------------


@router.get(
    "/risk-assessments",
    response={200: list[AssessmentOut], **AUTH_ERRORS, 422: ErrorOut},
    summary="Risk assessments the caller may read, newest first",
    description="Managers and deputies of the unit and above, HR in scope, the unit's safety representatives and "
                "employees, AMU members, and owners of a measure in the plan.",
)
@paginate(Page)
def list_assessments(
    request,
    unit: int | None = Query(None, ge=1, le=MAX_ID, description="Only this unit's (not its sub-units')."),
    status: StatusValue | None = Query(None, description="draft (in progress) or completed"),
):
    # The services' list: the access policy, with the counts as subqueries (a fixed number of
    # queries whatever the page size).
    rows = services.latest_by_unit(request.auth).order_by("-started_on", "-id")
    if unit is not None:
        rows = rows.filter(unit_id=unit)
    if status:
        rows = rows.filter(status=status)
    return rows


@router.post(
    "/risk-assessments",
    response={201: AssessmentDetailOut, **AUTH_ERRORS, **INPUT_ERRORS},
    summary="Start a mapping and risk assessment of a unit (its managers and HR in scope)",
    description="403 for someone who may start none; a unit she may not assess is refused (400).",
)
def start_assessment(request, payload: AssessmentIn):
    user = request.auth
    if not services.may_start(user):
        return Status(403, {"message": _("Only managers and HR can start a risk assessment.")})
    unit = services.startable_units(user).filter(pk=payload.unit).first()
    if unit is None:
        raise ValidationError({"unit": [_("Choose a unit you may assess.")]})
    assessment = services.start_assessment(user, unit, title=payload.title, method=payload.method,
                                           started_on=payload.started_on)
    return Status(201, _detail(user, assessment.pk))


@router.get(
    "/risk-assessments/{assessment_id}",
    response={200: AssessmentDetailOut, **NOT_FOUND, **AUTH_ERRORS, 422: ErrorOut},
    summary="One risk assessment with its register, action plan, participants and comments (404 if not readable)",
)
def get_assessment(request, assessment_id: int = Path(..., ge=1, le=MAX_ID)):
    return _detail(request.auth, assessment_id)


@router.post(
    "/risk-assessments/{assessment_id}/complete",
    response={200: AssessmentDetailOut, **NOT_FOUND, **AUTH_ERRORS, **INPUT_ERRORS, **CONFLICT},
    summary="Complete the assessment with its conclusion; the next review is due a year later unless earlier",
    description=(
        "Send the `version` you saw: if the assessment changed since (a risk, a measure, a participant), nothing "
        "is saved: 409. Refused (400, the reasons in `errors.__all__`) without a conclusion, without any risk, "
        "while a medium or high risk has no measure, or when neither employees nor their representatives took part."
    ),
)
def complete(request, payload: CompleteIn, assessment_id: int = Path(..., ge=1, le=MAX_ID)):
    user = request.auth
    assessment = _assessment_or_404(user, assessment_id, "edit")
    services.complete(user, assessment, payload.version, summary=payload.summary, completed_on=payload.completed_on,
                      review_due=payload.review_due)
    return _detail(user, assessment.pk)


# --- the register, the plan, the ledger and comments ----------------------------------------------


@router.post(
    "/risk-assessments/{assessment_id}/risks",
    response={201: RiskOut, **NOT_FOUND, **AUTH_ERRORS, **INPUT_ERRORS},
    summary="Add a risk to the register of an assessment in progress",
)
def add_risk(request, payload: RiskIn, assessment_id: int = Path(..., ge=1, le=MAX_ID)):
    user = request.auth
    assessment = _assessment_or_404(user, assessment_id, "edit")
    risk = services.add_risk(user, assessment, factor_code=payload.factor or None, description=payload.description,
                             likelihood=payload.likelihood, consequence=payload.consequence,
                             current_measures=payload.current_measures)
    return Status(201, Risk.objects.select_related("factor").get(pk=risk.pk))


@router.post(
    "/risk-assessments/{assessment_id}/actions",
    response={201: ActionOut, **NOT_FOUND, **AUTH_ERRORS, **INPUT_ERRORS},
    summary="Add a measure to the action plan (also after completion); its owner is told",
    description="The owner is someone the caller sees, someone holding a role in the organisation, or someone "
                "already in this assessment; anyone else is refused as unknown (400).",
)
def add_action(request, payload: ActionIn, assessment_id: int = Path(..., ge=1, le=MAX_ID)):
    user = request.auth
    assessment = _assessment_or_404(user, assessment_id, "edit")
    owner = _person(user, assessment, payload.owner, "owner")
    risk = _risk(assessment, payload.risk)
    action = services.add_action(user, assessment, what=payload.what, owner=owner, due=payload.due, risk=risk)
    return Status(201, _action(action.pk))


@router.patch(
    "/risk-actions/{action_id}",
    response={200: ActionOut, **NOT_FOUND, **AUTH_ERRORS, **INPUT_ERRORS, **CONFLICT},
    summary="Change a measure of an action plan: status (cancelling needs cancel_reason), text, owner, due date, risk",
    description=(
        "Those who change the assessment change anything; the measure's owner changes its status only (403 for "
        "more). Send the `version` you saw: if someone changed the measure since, nothing is saved: 409."
    ),
)
def update_action(request, payload: ActionPatch, action_id: int = Path(..., ge=1, le=MAX_ID)):
    user = request.auth
    action = get_visible_or_404(user, Action, "status", pk=action_id)
    changes = payload.model_dump(exclude_unset=True)
    version = changes.pop("version")
    if set(changes) - {"status", "cancel_reason"} and not visible(user, Action, "edit").filter(pk=action.pk).exists():
        return Status(403, {"message": _("As the owner of the measure you may change its status only.")})
    assessment = action.assessment
    if "owner" in changes:
        changes["owner"] = _person(user, assessment, changes["owner"], "owner")
    if "risk" in changes:
        changes["risk"] = _risk(assessment, changes["risk"])
    services.update_action(user, action, version, **changes)
    return _action(action.pk)


@router.post(
    "/risk-assessments/{assessment_id}/participants",
    response={201: ParticipantOut, **NOT_FOUND, **AUTH_ERRORS, **INPUT_ERRORS},
    summary="Record in the participation ledger that someone took part, in what capacity and when",
    description="The person is someone the caller sees, someone holding a role in the organisation (a safety "
                "representative, HR, AMU), or someone already in this assessment; anyone else is refused as "
                "unknown (400). The same person once per capacity.",
)
def add_participant(request, payload: ParticipantIn, assessment_id: int = Path(..., ge=1, le=MAX_ID)):
    user = request.auth
    assessment = _assessment_or_404(user, assessment_id, "edit")
    person = _person(user, assessment, payload.person, "person")
    participant = services.add_participant(user, assessment, person=person, role=payload.role,
                                           took_part_on=payload.took_part_on)
    return Status(201, Participant.objects.select_related("person").get(pk=participant.pk))


@router.post(
    "/risk-assessments/{assessment_id}/comments",
    response={201: CommentOut, **NOT_FOUND, **AUTH_ERRORS, **INPUT_ERRORS},
    summary="Comment on an assessment (everyone who reads it; also after completion)",
    description="The comment is recorded with the capacity the caller writes in (safety representative, manager, "
                "HR, AMU member, employee).",
)
def add_comment(request, payload: CommentIn, assessment_id: int = Path(..., ge=1, le=MAX_ID)):
    user = request.auth
    assessment = _assessment_or_404(user, assessment_id, "view")
    comment = services.add_comment(user, assessment, payload.text)
    return Status(201, Comment.objects.select_related("author").get(pk=comment.pk))
