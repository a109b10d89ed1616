"""JSON API of the whistleblowing room.

The reporting channel, open without authentication:
- POST /reports: send a report. Anonymous reports answer with the receipt, once.
  Named and confidential reports need the reporter's own bearer token.
- GET /reports/receipt, POST /reports/receipt: the anonymous reporter's view of
  her report and its messages, and her answers. The receipt travels in the
  `X-Receipt` header, never in the URL (URLs end up in logs and histories).
  An unknown receipt and a wrong one get the same answer after the same work.

For handlers and HR (authenticated):
- GET /cases/{id}/report: the decrypted report and its conversation (the case's
  handlers only; every read is an ACCESS event). GET /cases/{id} is the spine's,
  without any of the content.
- POST /people/{id}/changes: an HR system tells tidsnok of a change for a person.
  The answer is 202 whether or not the change raises a retaliation check: the
  caller learns nothing about who is protected.
- GET /retaliation-checks: the checks on the cases the caller may see; the
  protected person is named only to the handlers of that case.
"""

from datetime import date, datetime
from typing import Annotated, Literal

from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef
from django.utils.translation import gettext as _
from ninja import Field, Header, Path, Router, Schema, Status
from ninja.pagination import paginate

from tidsnok.access.api import AUTH_ERRORS, MAX_ID
from tidsnok.access.api_auth import BearerToken
from tidsnok.access.policy import AccessDenied, get_visible_or_404, visible
from tidsnok.api_common import ErrorOut, Page
from tidsnok.audit.services import record_access
from tidsnok.cases.models import Case, Handler, Kind
from tidsnok.org import scope
from tidsnok.org.models import Organisation, Person
from tidsnok.whistleblowing import retaliation, services
from tidsnok.whistleblowing.models import (
    Anonymity,
    Attachment,
    Category,
    ChangeType,
    Direction,
    Message,
    Report,
)

router = Router(tags=["whistleblowing"])

_NO_NUL = r"^[^\x00]*$"
Text = Annotated[str, Field(max_length=20_000, pattern=_NO_NUL)]
Short = Annotated[str, Field(max_length=2_000, pattern=_NO_NUL)]
RECEIPT_HEADER = Header(
    ..., alias="X-Receipt", max_length=80,
    description="The receipt shown when the report was sent (24 characters, dashes and spaces allowed).",
)
REFUSED = {403: ErrorOut, 429: ErrorOut}


# --- schemas ----------------------------------------------------------------------------------------


class ReportIn(Schema):
    organisation: str | None = Field(
        None, max_length=20, pattern=r"^[0-9 ]*$",
        description="The employer's organisation number. Not needed with a token, or when tidsnok serves one organisation.",
    )
    category: Literal[tuple(Category.values)]
    anonymity: Literal[tuple(Anonymity.values)] = Field(
        description="named | confidential (identity known to the handlers only) | anonymous. "
                    "named and confidential need the reporter's own bearer token."
    )
    description: Text = Field(description="What happened.")
    when: Short = Field("", description="When it happened.")
    involved: Short = Field("", description="Who is involved.")


class ReportSentOut(Schema):
    received_on: date
    receipt: str | None = Field(
        description="Anonymous reports only: the receipt, shown this once and never stored. Keep it."
    )
    message: str


class ReporterMessageOut(Schema):
    direction: str = Field(description="to_reporter | from_reporter")
    sent_on: date = Field(description="The date only.")
    body: str
    feedback: bool
    attachments: list[str] = Field(description="Names of the files attached.")


class ReporterViewOut(Schema):
    category: str
    received_on: date
    status: str = Field(description="open | closed")
    consent_requested: bool = Field(
        description="The handlers consider it a personal grievance and ask whether it may go to the ordinary "
                    "follow-up (answer with POST and `consent`)."
    )
    messages: list[ReporterMessageOut]


class ReporterPostIn(Schema):
    message: Text = Field("", description="A message to those handling the report.")
    consent: bool | None = Field(None, description="The answer when `consent_requested` is true.")


class HandlerMessageOut(ReporterMessageOut):
    author: str | None


class AttachmentOut(Schema):
    id: int
    name: str
    content_type: str
    size: int


class ReportOut(Schema):
    case: int
    number: str
    category: str
    anonymity: str
    reporter: int | None = Field(description="Empty for anonymous reports.")
    reporter_name: str | None
    received_on: date
    assessment: str
    redirect_consent: bool | None
    description: str
    when: str
    involved: str
    attachments: list[AttachmentOut]
    messages: list[HandlerMessageOut]
    version: int


class ChangeIn(Schema):
    type: Literal[tuple(ChangeType.values)]
    change_on: date
    justification: Text
    decided_by: int | None = Field(None, ge=1, le=MAX_ID, description="The person who decided the change.")


class AcceptedOut(Schema):
    message: str


class CaseRef(Schema):
    id: int
    number: str
    kind: str


class PersonRef(Schema):
    id: int
    name: str


class CheckOut(Schema):
    id: int
    case: CaseRef
    person: PersonRef | None = Field(description="Named only to the handlers of the case.")
    change_type: str
    change_on: date
    source: str
    outcome: str
    documented_on: date | None
    created_at: datetime

    @staticmethod
    def resolve_case(obj):
        case = obj.protection.case
        return {"id": case.pk, "number": case.number, "kind": case.kind}

    @staticmethod
    def resolve_person(obj):
        if not obj.handles:
            return None
        return {"id": obj.protection.person_id, "name": obj.protection.person.name}


# --- the reporting channel -----------------------------------------------------------------------


def _token_user(request):
    if request.headers.get("Authorization"):
        return BearerToken()(request)
    return None


def _organisation_for(user, number: str | None) -> Organisation | None:
    person = scope.person_of(user) if user is not None else None
    if person is not None:
        return person.organisation
    number = (number or "").replace(" ", "")
    if number:
        return Organisation.objects.filter(org_number=number).first()
    only = list(Organisation.objects.order_by("pk")[:2])
    return only[0] if len(only) == 1 else None


@router.post(
    "/reports", auth=None,
    response={201: ReportSentOut, 400: ErrorOut, 422: ErrorOut, 429: ErrorOut},
    summary="Send a report (no login; named and confidential reports with the reporter's token)",
)
def send_report(request, payload: ReportIn):
    user = _token_user(request)
    organisation = _organisation_for(user, payload.organisation)
    if organisation is None:
        raise ValidationError({"organisation": [_("We found no organisation with that number.")]})
    try:
        submitted = services.submit_report(
            user, organisation, category=payload.category, anonymity=payload.anonymity,
            description=payload.description, when=payload.when, involved=payload.involved,
        )
    except services.ChannelBusy:
        return Status(429, {"message": _("Too many reports are being sent just now. Try again in a minute.")})
    receipt = submitted.receipt.grouped if submitted.receipt else None
    return Status(201, {
        "received_on": submitted.report.received_on, "receipt": receipt,
        "message": _("Keep the receipt: it is shown only this once.") if receipt else _("The report is received."),
    })


def _refusal(error):
    if isinstance(error, services.ReceiptLimited):
        return Status(429, {"message": _("Too many attempts. Wait a while and try again.")})
    return Status(403, {"message": _("We did not recognise the receipt. Check that you wrote all 24 characters.")})


def _reporter_view(report: Report) -> dict:
    names = {}
    for a in Attachment.objects.filter(report=report, message__isnull=False):
        names.setdefault(a.message_id, []).append(services.filename_of(a))
    report.refresh_from_db()
    return {
        "category": report.category, "received_on": report.received_on, "status": report.case.status,
        "consent_requested": report.assessment == "personal_grievance" and report.redirect_consent is None,
        "messages": [
            {"direction": m.direction, "sent_on": m.sent_on, "body": services.body_of(m), "feedback": m.is_feedback,
             "attachments": names.get(m.pk, [])}
            for m in Message.objects.filter(report=report).order_by("sent_on", "pk")
        ],
    }


@router.get(
    "/reports/receipt", auth=None,
    response={200: ReporterViewOut, **REFUSED, 422: ErrorOut},
    summary="The anonymous reporter's view: status and messages (receipt in X-Receipt)",
)
def read_with_receipt(request, x_receipt: str = RECEIPT_HEADER):
    try:
        report = services.open_by_receipt(x_receipt)
    except (services.ReceiptRefused, services.ReceiptLimited) as error:
        return _refusal(error)
    services.mark_read_by_reporter(report)
    return _reporter_view(report)


@router.post(
    "/reports/receipt", auth=None,
    response={201: ReporterViewOut, 400: ErrorOut, **REFUSED, 422: ErrorOut},
    summary="The anonymous reporter answers or adds information (receipt in X-Receipt)",
)
def write_with_receipt(request, payload: ReporterPostIn, x_receipt: str = RECEIPT_HEADER):
    try:
        report = services.open_by_receipt(x_receipt)
    except (services.ReceiptRefused, services.ReceiptLimited) as error:
        return _refusal(error)
    if payload.consent is None and not payload.message.strip():
        raise ValidationError({"message": [_("Write your message.")]})
    if payload.consent is not None:
        services.set_redirect_consent(None, report, payload.consent)
    if payload.message.strip():
        services.add_reporter_message(None, report, payload.message)
    return Status(201, _reporter_view(report))


# --- handlers -------------------------------------------------------------------------------------


@router.get(
    "/cases/{case_id}/report",
    response={200: ReportOut, 404: ErrorOut, **AUTH_ERRORS, 422: ErrorOut},
    summary="The report of a whistleblowing case, decrypted (its handlers only; every read is logged)",
)
def read_report(request, case_id: int = Path(..., ge=1, le=MAX_ID)):
    user = request.auth
    case = get_visible_or_404(user, Case, pk=case_id, kind=Kind.WHISTLEBLOWING)
    report = Report.objects.select_related("reporter").filter(case=case).first()
    if report is None:
        raise AccessDenied("view")
    record_access(user, case, role=scope.role_label(user), reason="api_report")
    content = services.content_of(report)
    attachments = list(Attachment.objects.filter(report=report).order_by("pk"))
    by_message = {}
    for a in attachments:
        by_message.setdefault(a.message_id, []).append(services.filename_of(a))
    return {
        "case": case.pk, "number": case.number, "category": report.category, "anonymity": report.anonymity,
        "reporter": report.reporter_id, "reporter_name": report.reporter.name if report.reporter_id else None,
        "received_on": report.received_on, "assessment": report.assessment,
        "redirect_consent": report.redirect_consent, "description": content.description, "when": content.when,
        "involved": content.involved, "version": report.version,
        "attachments": [
            {"id": a.pk, "name": services.filename_of(a), "content_type": a.content_type, "size": a.size}
            for a in attachments
        ],
        "messages": [
            {"direction": m.direction, "sent_on": m.sent_on, "body": services.body_of(m), "feedback": m.is_feedback,
             "attachments": by_message.get(m.pk, []),
             "author": m.author.name if m.author_id and m.direction == Direction.TO_REPORTER else None}
            for m in Message.objects.filter(report=report).select_related("author").order_by("sent_on", "pk")
        ],
    }


@router.post(
    "/people/{person_id}/changes",
    response={202: AcceptedOut, 400: ErrorOut, 404: ErrorOut, **AUTH_ERRORS, 422: ErrorOut},
    summary="Tell tidsnok of a change for a person (HR); checked against the retaliation watch",
    description="Accepted (202) alike whether or not the person is protected: the answer reveals nothing.",
)
def report_change(request, payload: ChangeIn, person_id: int = Path(..., ge=1, le=MAX_ID)):
    user = request.auth
    person = get_visible_or_404(user, Person, pk=person_id)
    decided_by = None
    if payload.decided_by is not None:
        decided_by = visible(user, Person).filter(pk=payload.decided_by).first()
        if decided_by is None:
            raise ValidationError({"decided_by": [_("Unknown person: %(ids)s") % {"ids": payload.decided_by}]})
    retaliation.report_change(user, person, change_type=payload.type, change_on=payload.change_on,
                              justification=payload.justification, decided_by=decided_by)
    return Status(202, {"message": _("The change is recorded.")})


class ProtectionIn(Schema):
    note: Text


@router.post(
    "/people/{person_id}/protection",
    response={201: AcceptedOut, 400: ErrorOut, 404: ErrorOut, **AUTH_ERRORS, 422: ErrorOut},
    summary="Protect someone known to be about to report (HR for the whole organisation)",
)
def protect_person(request, payload: ProtectionIn, person_id: int = Path(..., ge=1, le=MAX_ID)):
    person = get_visible_or_404(request.auth, Person, pk=person_id)
    retaliation.protect_about_to_report(request.auth, person, payload.note)
    return Status(201, {"message": _("The person is protected by the retaliation watch.")})


@router.get(
    "/retaliation-checks",
    response={200: list[CheckOut], **AUTH_ERRORS, 422: ErrorOut},
    summary="Retaliation checks on the cases the caller may see, those not documented first",
)
@paginate(Page)
def list_checks(request):
    user = request.auth
    mine = Handler.objects.filter(case=OuterRef("protection__case"), person=scope.person_of(user),
                                  removed_at__isnull=True)
    return (
        retaliation.checks_visible(user)
        .select_related("protection__case", "protection__person")
        .annotate(handles=Exists(mine))
        .order_by("documented_on", "-change_on", "-pk")
    )
