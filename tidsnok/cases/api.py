"""JSON API of the case spine: cases, entries, measures, deadlines and the rule catalogue.

Every state change goes through tidsnok.cases.services (which checks access,
audits and recomputes deadlines); every read goes through the access policy.
What the caller may not see answers 404, exactly like what does not exist.

Two audiences, two resources:
- handlers (the responsible manager, managers above, HR in scope, added
  handlers) use /cases, /measures and /deadlines;
- the concerned employee uses /participation/...: her own cases with only what
  was shared with her, where she may comment and agree or disagree with
  measures (participation, aml § 4-2). /cases/{id} answers 404 to her unless
  she also handles the case: a separate resource with its own, smaller shape
  keeps a handler-only field from ever reaching her by a forgotten branch.
"""

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal

from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Prefetch, Q, Subquery
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from ninja import Field, Path, Query, Router, Schema, Status
from pydantic import BeforeValidator, Strict
from ninja.pagination import paginate

from tidsnok.access.api import AUTH_ERRORS, MAX_ID
from tidsnok.access.policy import AccessDenied, get_visible_or_404, visible
from tidsnok.api_common import ErrorOut, Page
from tidsnok.audit.services import record_access
from tidsnok.cases import hooks, services
from tidsnok.cases.models import (
    ACCESS_LOGGED_KINDS,
    MANAGER_KINDS,
    Case,
    Deadline,
    DeadlineStatus,
    Entry,
    Handler,
    HandlerRole,
    JobSideArea,
    Kind,
    Measure,
    MeasureKind,
    MeasureStatus,
    Party,
    PartyRole,
    Source,
    Status as CaseStatus,
    Visibility,
)
from tidsnok.cases.policy import case_condition
from tidsnok.deadlines.calendar import normalise_lang
from tidsnok.deadlines.queries import overrides_map
from tidsnok.deadlines.rules import CATALOGUE, apply_override, explain_text
from tidsnok.org import scope
from tidsnok.org.models import Person

router = Router(tags=["cases"])

NOT_FOUND = {404: ErrorOut}
# 400: a refusal by the services (a message per field); 422: the body or query
# does not match the schema; both carry `message` and `errors`.
INPUT_ERRORS = {400: ErrorOut, 422: ErrorOut}
CONFLICT = {409: ErrorOut}

# --- input types ----------------------------------------------------------------------------------

# Body fields refuse what pydantic would otherwise coerce: "1" or true is not
# an id, 0 is not a date, "yes" is not a boolean. What the OpenAPI document
# calls invalid is refused (422), so clients cannot come to depend on the
# coercion. (2.0 stays an id: JSON Schema counts it as an integer.)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _number(value):
    if isinstance(value, (str, bool)):
        raise ValueError("Send a number, not a string or a boolean.")
    return value


def _iso_date(value):
    if isinstance(value, date) or (isinstance(value, str) and _ISO_DATE.fullmatch(value)):
        return value
    raise ValueError("Write the date as YYYY-MM-DD.")


IsoDate = Annotated[date, BeforeValidator(_iso_date)]
Id = Annotated[int, BeforeValidator(_number), Field(ge=1, le=MAX_ID)]
Flag = Annotated[bool, Strict()]
# NUL cannot be stored in PostgreSQL text, so it is refused up front; the
# lengths bound a request, they are far above anything a person writes.
_NO_NUL = r"^[^\x00]*$"
Text = Annotated[str, Field(max_length=20_000, pattern=_NO_NUL)]
FactorCode = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[-a-zA-Z0-9_]+$")]
# Deadlines are counted forward from a measure's due date; a limit keeps that
# arithmetic far from the end of Python's date type. Checked in code (400), not
# in the schema: JSON Schema cannot bound a date, and a request that matches
# the published schema must never meet a 422.
LAST_DUE = date(2199, 12, 31)

ManagerKind = Literal[tuple(k.value for k in MANAGER_KINDS)]
SourceValue = Literal[tuple(Source.values)]
PartyRoleIn = Literal[PartyRole.ACCUSED.value, PartyRole.WITNESS.value, PartyRole.OTHER.value, PartyRole.REPORTER.value]
HandlerEntryKind = Literal[tuple(sorted(k.value for k in services.HANDLER_ENTRY_KINDS))]
VisibilityValue = Literal[tuple(Visibility.values)]
MeasureKindValue = Literal[tuple(MeasureKind.values)]
AreaValue = Literal[("",) + tuple(JobSideArea.values)]
MeasureStatusValue = Literal[tuple(MeasureStatus.values)]

# Keys of an entry's `data` as the services name them in their errors; the API
# answers with the path the client sent ("data.participants").
_DATA_KEYS = ("participants", "health_risk", "work_related", "affects_work_ability", "affects_several",
              "factors_confirmed")


def _lang() -> str:
    return normalise_lang(get_language())


def _refuse(field: str, message: str):
    raise ValidationError({field: [message]})


# --- output schemas -------------------------------------------------------------------------------


class CaseOut(Schema):
    id: int
    number: str
    kind: str
    status: str
    unit: int
    restricted: bool = Field(description="Harassment and whistleblowing cases: seen by their handlers only. Also "
                                         "closed cases the retention policy restricted: for HR only.")
    source: str
    known_at: date = Field(description="When the manager first knew: deadlines run from here.")
    owner: int | None = Field(description="The person responsible for the case.")
    concerns: list[int] = Field(description="The people the case concerns.")
    factors: list[str]
    hr_involved_at: datetime | None
    created_at: datetime
    closed_at: datetime | None
    next_due: date | None = Field(description="The earliest open deadline.")
    version: int = Field(description="Send it back with close/reopen: a stale version is refused with 409.")

    @staticmethod
    def resolve_unit(obj):
        return obj.unit_id

    @staticmethod
    def resolve_owner(obj):
        return obj.owner_id

    @staticmethod
    def resolve_concerns(obj):
        return [p.person_id for p in obj.concerned_parties]

    @staticmethod
    def resolve_factors(obj):
        return [f.code for f in obj.factors.all()]


class PartyOut(Schema):
    person: int
    name: str
    role: str

    @staticmethod
    def resolve_person(obj):
        return obj.person_id

    @staticmethod
    def resolve_name(obj):
        return obj.person.name


class HandlerOut(Schema):
    person: int
    name: str
    role: str
    added_at: datetime

    @staticmethod
    def resolve_person(obj):
        return obj.person_id

    @staticmethod
    def resolve_name(obj):
        return obj.person.name


class EntryOut(Schema):
    id: int
    kind: str
    occurred_on: date = Field(description="When it happened: deadlines are judged by this date.")
    recorded_at: datetime = Field(description="When it was written down.")
    author: int | None
    author_name: str | None
    visibility: str
    about: int | None = Field(description="A shared entry about one party is shown to that party only.")
    text: str
    data: dict[str, Any]
    measure: int | None

    @staticmethod
    def resolve_author(obj):
        return obj.author_id

    @staticmethod
    def resolve_author_name(obj):
        return obj.author.name if obj.author_id else None

    @staticmethod
    def resolve_about(obj):
        return obj.about_id

    @staticmethod
    def resolve_measure(obj):
        return obj.measure_id


class MeasureOut(Schema):
    id: int
    case: int
    what: str
    kind: str
    area: str
    owner: int
    owner_name: str
    due: date
    status: str
    cancel_reason: str
    done_on: date | None
    visibility: str
    created_at: datetime
    version: int = Field(description="Send it back with PATCH: a stale version is refused with 409.")

    @staticmethod
    def resolve_case(obj):
        return obj.case_id

    @staticmethod
    def resolve_owner(obj):
        return obj.owner_id

    @staticmethod
    def resolve_owner_name(obj):
        return obj.owner.name


class DeadlineOut(Schema):
    id: int
    rule: str
    title: str = Field(description="In the request language (Accept-Language, or the user's saved language).")
    basis: str = Field(description="Where the number comes from: a law reference, or policy default.")
    duty_basis: str
    responsible: str
    expected_event: bool = Field(description="An event done by someone else (NAV), not a duty of the employer.")
    start: date
    due: date
    status: str
    met_at: date | None = Field(description="The date the fulfilling entry happened.")
    status_reason: str = Field(description="Why it is waived or no longer required, in the request language "
                                           "when the rules decided it, else in the words of whoever decided.")
    measure: int | None
    explanation: str = Field(description="Why this date, in the request language.")

    @staticmethod
    def resolve_rule(obj):
        return obj.rule_id

    @staticmethod
    def resolve_status_reason(obj):
        return obj.reason()

    @staticmethod
    def resolve_title(obj):
        return obj.title(_lang())

    @staticmethod
    def resolve_met_at(obj):
        return obj.met_on

    @staticmethod
    def resolve_measure(obj):
        return obj.measure_id

    @staticmethod
    def resolve_explanation(obj):
        return explain_text(obj.explanation, _lang()) if obj.explanation else ""


class CaseDetailOut(CaseOut):
    description: str
    known_at_reason: str
    parties: list[PartyOut]
    handlers: list[HandlerOut] = Field(description="Active handlers.")
    entries: list[EntryOut] = Field(description="The timeline, in the order things happened.")
    measures: list[MeasureOut]
    deadlines: list[DeadlineOut]
    details: dict = Field(description="The kind's own data: for sick leave the episodes with grade history, "
                                      "plan versions and dialogue meetings.")

    @staticmethod
    def resolve_details(obj):
        return getattr(obj, "detail_rows", {})

    @staticmethod
    def resolve_parties(obj):
        return obj.party_rows

    @staticmethod
    def resolve_handlers(obj):
        return obj.handler_rows

    @staticmethod
    def resolve_entries(obj):
        return obj.entry_rows

    @staticmethod
    def resolve_measures(obj):
        return obj.measure_rows

    @staticmethod
    def resolve_deadlines(obj):
        return obj.deadline_rows


class CaseRefOut(Schema):
    id: int
    number: str
    kind: str


class MyDeadlineOut(DeadlineOut):
    case: CaseRefOut


class AskHrOut(Schema):
    entry: EntryOut
    hr_handler: HandlerOut | None = Field(description="Empty when no HR adviser's scope covers the case.")


class RuleOut(Schema):
    id: str
    version: int
    kinds: list[str]
    trigger: str
    offset: int
    unit: str
    basis: str = Field(description="Where the number comes from: a law, policy default, or organisation policy.")
    duty_basis: str
    policy: bool = Field(description="True if the organisation may change the offset within `bounds`.")
    bounds: list[int] | None
    responsible: str
    expected_event: bool
    repeat: bool
    condition: str
    effective_from: date
    effective_to: date | None
    overridden_from: date | None = Field(description="Set when the organisation's own offset applies, from that date.")
    title: str
    note: str


class ParticipationCaseOut(Schema):
    id: int
    number: str
    kind: str
    status: str
    known_at: date
    created_at: datetime
    closed_at: datetime | None
    owner: int | None
    owner_name: str | None = Field(description="Who is responsible for following up.")

    @staticmethod
    def resolve_owner(obj):
        return obj.owner_id

    @staticmethod
    def resolve_owner_name(obj):
        return obj.owner.name if obj.owner_id else None


class ParticipationCaseDetailOut(ParticipationCaseOut):
    entries: list[EntryOut] = Field(description="Entries shared with the employee (and not about another party).")
    measures: list[MeasureOut] = Field(description="Measures shared with the employee.")

    @staticmethod
    def resolve_entries(obj):
        return obj.entry_rows

    @staticmethod
    def resolve_measures(obj):
        return obj.measure_rows


# --- input schemas --------------------------------------------------------------------------------


class PartyIn(Schema):
    person: Id
    role: PartyRoleIn


class CaseIn(Schema):
    kind: ManagerKind
    concerns: list[Id] = Field(min_length=1, max_length=50, description="Ids of the people the case concerns.")
    parties: list[PartyIn] = Field([], max_length=50, description="Other parties: accused, witnesses, ...")
    factors: list[FactorCode] = Field([], max_length=50, description="Codes from the factor catalogue.")
    description: Text = ""
    known_at: IsoDate = Field(description="When you first knew (not in the future).")
    source: SourceValue = Source.OTHER.value
    known_at_reason: Text = Field("", description="Required when you first knew long ago.")


class EntryDataIn(Schema):
    participants: list[Id] = Field([], max_length=100, description="Conversations: who took part.")
    health_risk: Literal["low", "medium", "high"] | None = Field(None, description="Assessments.")
    work_related: Literal["yes", "no", "uncertain"] | None = Field(None, description="Assessments.")
    affects_work_ability: Flag = False
    affects_several: Flag = False
    factors_confirmed: list[FactorCode] = Field([], max_length=50)


class EntryIn(Schema):
    kind: HandlerEntryKind
    occurred_on: IsoDate = Field(description="When it happened (not in the future).")
    text: Text = ""
    data: EntryDataIn = Field(default_factory=EntryDataIn)
    visibility: VisibilityValue | None = Field(
        None, description="Default: conversations, follow-ups and decisions are shared; the rest internal."
    )
    measure: Id | None = Field(None, description="The measure a follow-up is about.")
    about: Id | None = Field(None, description="Show a shared entry only to this party.")


class MeasureIn(Schema):
    what: Text
    kind: MeasureKindValue
    area: AreaValue = ""
    owner: Id
    due: IsoDate
    visibility: VisibilityValue = Visibility.SHARED.value


class MeasurePatch(Schema):
    """Only the fields sent are changed. `null` is not a value for any of them."""

    version: Id
    status: MeasureStatusValue = None
    cancel_reason: Text = None
    what: Text = None
    kind: MeasureKindValue = None
    area: AreaValue = None
    owner: Id = None
    due: IsoDate = None
    visibility: VisibilityValue = None


class CloseIn(Schema):
    evaluation: Text = ""
    version: Id


class ReopenIn(Schema):
    reason: Text = ""
    version: Id


class AskHrIn(Schema):
    note: Text = ""


class CommentIn(Schema):
    text: Text
    occurred_on: IsoDate | None = Field(None, description="Default: today.")


class ResponseIn(Schema):
    agrees: Flag
    comment: Text = ""


# --- queries --------------------------------------------------------------------------------------


def _with_list_fields(cases):
    """What a case summary needs, in a fixed number of queries whatever the page size."""
    next_due = (
        Deadline.objects.filter(case=OuterRef("pk"), status=DeadlineStatus.OPEN).order_by("due", "id").values("due")[:1]
    )
    return cases.annotate(next_due=Subquery(next_due)).prefetch_related(
        "factors",
        Prefetch("parties", queryset=Party.objects.filter(role=PartyRole.CONCERNED).order_by("id"),
                 to_attr="concerned_parties"),
    )


def _cases(user, action: str = "view"):
    return _with_list_fields(visible(user, Case, action))


def _case_or_404(user, case_id: int, action: str = "view") -> Case:
    return get_visible_or_404(user, Case, action, pk=case_id)


def _detail(user, case_id: int) -> Case:
    case = _cases(user).filter(pk=case_id).first()
    if case is None:
        raise AccessDenied("view")
    case.party_rows = list(case.parties.select_related("person").order_by("id"))
    case.handler_rows = list(
        Handler.objects.filter(case=case, removed_at__isnull=True).select_related("person").order_by("added_at", "id")
    )
    case.entry_rows = list(visible(user, Entry).filter(case=case).select_related("author"))
    case.measure_rows = list(visible(user, Measure).filter(case=case).select_related("owner"))
    case.deadline_rows = list(case.deadlines.all())
    if case.restricted or case.kind in ACCESS_LOGGED_KINDS:
        # Harassment, whistleblowing and sick leave: every read is on the record.
        record_access(user, case, role=scope.role_label(user), reason="api")
    provider = hooks.case_details.get(case.kind)
    case.detail_rows = provider(case, user) if provider else {}
    return case


def _reachable_people(user, case: Case, ids) -> dict[int, Person]:
    """People a handler may name in a case: those she sees, and the case's own
    parties and handlers (an HR adviser in a conversation, an accused colleague
    from another unit). Anything else reads as unknown, existing or not."""
    ids = set(ids)
    if not ids:
        return {}
    rows = Person.objects.filter(pk__in=ids).filter(
        Q(pk__in=visible(user, Person).values("pk"))
        | Exists(Party.objects.filter(case=case, person=OuterRef("pk")))
        | Exists(Handler.objects.filter(case=case, person=OuterRef("pk"), removed_at__isnull=True))
    )
    return {p.pk: p for p in rows}


def _check_due(due: date | None) -> None:
    if due is not None and due > LAST_DUE:
        _refuse("due", _("Set a due date before %(year)d.") % {"year": LAST_DUE.year + 1})


def _owner(user, case: Case, owner_id: int) -> Person:
    person = _reachable_people(user, case, [owner_id]).get(owner_id)
    if person is None:
        _refuse("owner", _("Choose who owns the measure."))
    return person


def _with_data_paths(error: ValidationError) -> ValidationError:
    if not hasattr(error, "error_dict"):
        return error
    return ValidationError(
        {(f"data.{k}" if k in _DATA_KEYS else k): v for k, v in error.message_dict.items()}
    )


# --- cases ----------------------------------------------------------------------------------------


@router.post(
    "/cases",
    response={201: CaseOut, **AUTH_ERRORS, **INPUT_ERRORS},
    summary="Register a case (managers and HR)",
    description="Person ids the caller may not see are refused as unknown. Deadlines run from `known_at`.",
)
def create_case(request, payload: CaseIn):
    user = request.auth
    concern_ids = list(dict.fromkeys(payload.concerns))
    party_ids = [p.person for p in payload.parties]
    people = {p.pk: p for p in visible(user, Person).filter(pk__in=set(concern_ids) | set(party_ids))}
    errors: dict[str, list[str]] = {}
    # The same message for a person who does not exist and one the caller may
    # not see: the API is no oracle for who works where.
    missing = [i for i in concern_ids if i not in people]
    if missing:
        errors["concerns"] = [_("Unknown person: %(ids)s") % {"ids": ", ".join(map(str, missing))}]
    missing = [i for i in dict.fromkeys(party_ids) if i not in people]
    if missing:
        errors["parties"] = [_("Unknown person: %(ids)s") % {"ids": ", ".join(map(str, missing))}]
    if errors:
        raise ValidationError(errors)
    try:
        case = services.open_case(
            user, kind=payload.kind, concerns=[people[i] for i in concern_ids],
            parties=[(people[p.person], p.role) for p in payload.parties], factors=list(dict.fromkeys(payload.factors)),
            description=payload.description, source=payload.source, known_at=payload.known_at,
            known_at_reason=payload.known_at_reason,
        )
    except AccessDenied:
        # Not about an id: the caller is neither a manager nor HR.
        return Status(403, {"message": _("Only managers and HR can register cases.")})
    # The answer to the write describes what was just created, so it is not
    # read through the policy: an opener who named herself as a party is shut
    # out of the case (habilitet) yet must learn its number. The summary holds
    # nothing she did not send, bar the owner's id and the next due date.
    return Status(201, _with_list_fields(Case.objects.filter(pk=case.pk)).get())


@router.get(
    "/cases",
    response={200: list[CaseOut], **AUTH_ERRORS, 422: ErrorOut},
    summary="Cases the caller handles or oversees",
)
@paginate(Page)
def list_cases(
    request,
    status: Literal[tuple(CaseStatus.values)] | None = Query(None, description="open or closed"),
    kind: Literal[tuple(Kind.values)] | None = Query(None),
):
    rows = _cases(request.auth).order_by("-created_at", "-id")
    if status:
        rows = rows.filter(status=status)
    if kind:
        rows = rows.filter(kind=kind)
    return rows


@router.get(
    "/cases/{case_id}",
    response={200: CaseDetailOut, **NOT_FOUND, **AUTH_ERRORS, 422: ErrorOut},
    summary="One case with its timeline, measures and deadlines (handlers; 404 otherwise)",
)
def get_case(request, case_id: int = Path(..., ge=1, le=MAX_ID)):
    return _detail(request.auth, case_id)


@router.post(
    "/cases/{case_id}/entries",
    response={201: EntryOut, **NOT_FOUND, **AUTH_ERRORS, **INPUT_ERRORS},
    summary="Document a conversation, assessment, follow-up, decision, conclusion or note",
)
def add_entry(request, payload: EntryIn, case_id: int = Path(..., ge=1, le=MAX_ID)):
    user = request.auth
    case = _case_or_404(user, case_id, "edit")
    errors: dict[str, list[str]] = {}
    measure = about = None
    if payload.measure is not None:
        measure = visible(user, Measure).filter(case=case, pk=payload.measure).first()
        if measure is None:
            errors["measure"] = [_("Unknown measure.")]
    if payload.about is not None:
        about = Person.objects.filter(pk=payload.about, case_parties__case=case).first()
        if about is None:
            errors["about"] = [_("The person is not a party to the case.")]
    participants = list(dict.fromkeys(payload.data.participants))
    if set(participants) - set(_reachable_people(user, case, participants)):
        # The services' own message for a participant outside the organisation.
        errors["data.participants"] = [_("Unknown participant.")]
    if errors:
        raise ValidationError(errors)
    try:
        entry = services.add_entry(
            user, case, kind=payload.kind, occurred_on=payload.occurred_on, text=payload.text,
            data=payload.data.model_dump(), visibility=payload.visibility, about=about, measure=measure,
        )
    except ValidationError as error:
        raise _with_data_paths(error) from error
    return Status(201, Entry.objects.select_related("author").get(pk=entry.pk))


@router.post(
    "/cases/{case_id}/measures",
    response={201: MeasureOut, **NOT_FOUND, **AUTH_ERRORS, **INPUT_ERRORS},
    summary="Decide a measure: what, organisational or individual, owner and due date",
)
def add_measure(request, payload: MeasureIn, case_id: int = Path(..., ge=1, le=MAX_ID)):
    user = request.auth
    case = _case_or_404(user, case_id, "edit")
    _check_due(payload.due)
    owner = _owner(user, case, payload.owner)
    measure = services.add_measure(
        user, case, what=payload.what, kind=payload.kind, owner=owner, due=payload.due, area=payload.area,
        visibility=payload.visibility,
    )
    return Status(201, Measure.objects.select_related("owner").get(pk=measure.pk))


@router.patch(
    "/measures/{measure_id}",
    response={200: MeasureOut, **NOT_FOUND, **AUTH_ERRORS, **INPUT_ERRORS, **CONFLICT},
    summary="Change a measure: status (cancelling needs cancel_reason), owner, due date, text",
    description="Send the `version` you saw. If someone changed the measure since, nothing is saved: 409.",
)
def update_measure(request, payload: MeasurePatch, measure_id: int = Path(..., ge=1, le=MAX_ID)):
    user = request.auth
    measure = get_visible_or_404(user, Measure, "edit", pk=measure_id)
    changes = payload.model_dump(exclude_unset=True)
    version = changes.pop("version")
    _check_due(changes.get("due"))
    if "owner" in changes:
        changes["owner"] = _owner(user, measure.case, changes["owner"])
    services.update_measure(user, measure, version, **changes)
    return Measure.objects.select_related("owner").get(pk=measure.pk)


@router.post(
    "/cases/{case_id}/close",
    response={200: CaseOut, **NOT_FOUND, **AUTH_ERRORS, **INPUT_ERRORS, **CONFLICT},
    summary="Close with a final evaluation",
    description=(
        "Refused (400, the reasons in `errors`) while measures are open, without an evaluation, "
        "for harassment without HR, and by each kind's own checks."
    ),
)
def close_case(request, payload: CloseIn, case_id: int = Path(..., ge=1, le=MAX_ID)):
    user = request.auth
    case = _case_or_404(user, case_id, "close")
    services.close_case(user, case, payload.evaluation, payload.version)
    return _cases(user).get(pk=case.pk)


@router.post(
    "/cases/{case_id}/reopen",
    response={200: CaseOut, **NOT_FOUND, **AUTH_ERRORS, **INPUT_ERRORS, **CONFLICT},
    summary="Reopen a closed case, with a reason",
)
def reopen_case(request, payload: ReopenIn, case_id: int = Path(..., ge=1, le=MAX_ID)):
    user = request.auth
    case = _case_or_404(user, case_id, "edit")
    services.reopen_case(user, case, payload.reason, payload.version)
    return _cases(user).get(pk=case.pk)


@router.post(
    "/cases/{case_id}/ask-hr",
    response={201: AskHrOut, **NOT_FOUND, **AUTH_ERRORS, **INPUT_ERRORS},
    summary="Unsure about the process or your impartiality: involve HR with a note",
)
def ask_hr(request, payload: AskHrIn, case_id: int = Path(..., ge=1, le=MAX_ID)):
    user = request.auth
    case = _case_or_404(user, case_id, "edit")
    entry = services.ask_hr(user, case, payload.note)
    hr = (
        Handler.objects.filter(case=case, role=HandlerRole.HR, removed_at__isnull=True)
        .select_related("person").order_by("added_at", "id").first()
    )
    return Status(201, {"entry": Entry.objects.select_related("author").get(pk=entry.pk), "hr_handler": hr})


# --- deadlines and rules --------------------------------------------------------------------------


@router.get(
    "/deadlines",
    response={200: list[MyDeadlineOut], **AUTH_ERRORS, 422: ErrorOut},
    summary="The caller's deadlines: on the cases she is a handler of, earliest first",
    tags=["deadlines"],
)
@paginate(Page)
def my_deadlines(
    request,
    status: Literal[tuple(DeadlineStatus.values)] = Query(DeadlineStatus.OPEN.value, description="Default: open."),
    due_before: IsoDate | None = Query(None, description="Due on or before this date."),
    due_after: IsoDate | None = Query(None, description="Due on or after this date."),
):
    user = request.auth
    person = scope.person_of(user)
    # Handling, not overseeing: a sector manager or organisation-wide HR sees
    # many cases but is answerable for the ones she is a handler of.
    # From her handler rows, each deadline tested on its own case: "among every case she may see"
    # had SQLite read all of the organisation's cases for HR (finding 43).
    mine = Handler.objects.filter(person=person, removed_at__isnull=True).values("case_id")
    rows = (
        Deadline.objects.filter(case_condition(user, "view", "case__"), status=status, case_id__in=mine)
        .select_related("case")
        .order_by("due", "id")
    )
    if due_before:
        rows = rows.filter(due__lte=due_before)
    if due_after:
        rows = rows.filter(due__gte=due_after)
    return rows


@router.get(
    "/rules",
    response={200: list[RuleOut], **AUTH_ERRORS, 422: ErrorOut},
    summary="The deadline rules in force today, with the organisation's own offsets",
    tags=["deadlines"],
)
def rules(request, kind: Literal[tuple(Kind.values)] | None = Query(None)):
    today = timezone.localdate()
    org_id = scope.organisation_id_of(request.auth)
    overrides = overrides_map(org_id) if org_id else {}
    lang = _lang()
    out = []
    for rule in CATALOGUE:
        if not rule.in_force_on(today) or (kind and kind not in rule.kinds):
            continue
        rule = apply_override(rule, today, overrides)
        out.append({
            "id": rule.id, "version": rule.version, "kinds": list(rule.kinds), "trigger": rule.trigger,
            "offset": rule.offset, "unit": rule.unit, "basis": rule.basis, "duty_basis": rule.duty_basis,
            "policy": rule.policy, "bounds": list(rule.bounds) if rule.bounds else None,
            "responsible": rule.responsible, "expected_event": rule.expected_event, "repeat": rule.repeat,
            "condition": rule.condition, "effective_from": rule.effective_from, "effective_to": rule.effective_to,
            "overridden_from": rule.overridden_from, "title": rule.title(lang), "note": rule.note(lang),
        })
    return out


# --- participation: the concerned employee --------------------------------------------------------


def _participation_case(user, case_id: int) -> Case:
    case = visible(user, Case, "participate").select_related("owner").filter(pk=case_id).first()
    if case is None:
        raise AccessDenied("participate")
    person = scope.person_of(user)
    case.entry_rows = list(
        visible(user, Entry)
        .filter(case=case, visibility=Visibility.SHARED)
        .filter(Q(about__isnull=True) | Q(about=person))
        .select_related("author")
    )
    case.measure_rows = list(visible(user, Measure, "participate").filter(case=case).select_related("owner"))
    return case


@router.get(
    "/participation/cases",
    response={200: list[ParticipationCaseOut], **AUTH_ERRORS, 422: ErrorOut},
    summary="Cases about me (the concerned employee)",
    tags=["participation"],
)
@paginate(Page)
def participation_cases(request):
    return visible(request.auth, Case, "participate").select_related("owner").order_by("-created_at", "-id")


@router.get(
    "/participation/cases/{case_id}",
    response={200: ParticipationCaseDetailOut, **NOT_FOUND, **AUTH_ERRORS, 422: ErrorOut},
    summary="A case about me, with what was shared with me",
    tags=["participation"],
)
def participation_case(request, case_id: int = Path(..., ge=1, le=MAX_ID)):
    return _participation_case(request.auth, case_id)


@router.post(
    "/participation/cases/{case_id}/comments",
    response={201: EntryOut, **NOT_FOUND, **AUTH_ERRORS, **INPUT_ERRORS},
    summary="Add my comment to a case about me",
    tags=["participation"],
)
def participation_comment(request, payload: CommentIn, case_id: int = Path(..., ge=1, le=MAX_ID)):
    user = request.auth
    case = get_visible_or_404(user, Case, "participate", pk=case_id)
    entry = services.add_entry(
        user, case, kind="comment", occurred_on=payload.occurred_on or timezone.localdate(), text=payload.text,
    )
    return Status(201, Entry.objects.select_related("author").get(pk=entry.pk))


@router.post(
    "/participation/measures/{measure_id}/response",
    response={201: EntryOut, **NOT_FOUND, **AUTH_ERRORS, **INPUT_ERRORS},
    summary="Agree or disagree with a measure in a case about me",
    tags=["participation"],
)
def participation_response(request, payload: ResponseIn, measure_id: int = Path(..., ge=1, le=MAX_ID)):
    user = request.auth
    measure = get_visible_or_404(user, Measure, "participate", pk=measure_id)
    entry = services.respond_to_measure(user, measure, agrees=payload.agrees, comment=payload.comment)
    return Status(201, Entry.objects.select_related("author").get(pk=entry.pk))


class PolicyIn(Schema):
    offset: int = Field(..., ge=-365, le=365)
    effective_from: date | None = None


class PolicyOut(Schema):
    rule: str
    offset: int
    effective_from: date


@router.put(
    "/rules/{rule_id}/policy",
    response={200: PolicyOut, 400: ErrorOut, **NOT_FOUND, **AUTH_ERRORS, 422: ErrorOut},
    summary="Change the organisation's offset of a policy rule (HR for the whole organisation); "
            "applies to cases that start on or after `effective_from`",
    tags=["deadlines"],
)
def set_policy(request, rule_id: str, payload: PolicyIn):
    from tidsnok.deadlines import services as deadline_services

    person = scope.person_of(request.auth)
    if person is None:
        raise AccessDenied("policy")
    try:
        row = deadline_services.set_rule_offset(request.auth, person.organisation, rule_id, payload.offset,
                                                payload.effective_from)
    except deadline_services.NotAllowed:
        raise AccessDenied("policy")
    return {"rule": row.rule_id, "offset": row.offset, "effective_from": row.effective_from}
