"""The reports room through the JSON API: the case and plan PDFs, the access copy
(GDPR art. 15) with its requests, and the inspection pack.

The same exports, access rules and audit events as the HTML downloads. What the
caller may not export answers 404, exactly like something that does not exist.
"""

from datetime import date
from typing import Annotated, Literal

from django.utils import timezone
from ninja import Field, Path, Query, Router, Schema, Status
from ninja.pagination import paginate

from tidsnok.access.api import AUTH_ERRORS, INPUT_ERRORS, MAX_ID
from tidsnok.access.policy import AccessDenied, get_visible_or_404
from tidsnok.api_common import ErrorOut, Page
from tidsnok.cases.api import IsoDate
from tidsnok.cases.models import Case
from tidsnok.reports.access_copy import person_for_export
from tidsnok.reports.access_copy_requests import (
    export_answering_open_request,
    open_requests,
    request_access_copy,
    requests_of,
)
from tidsnok.reports.case_pdf import export_case_pdf, language_of
from tidsnok.reports.inspection import MAX_CASE_PDFS, export_inspection_pack, may_export
from tidsnok.reports.plan_pdf import export_plan_pdf, plan_version_for
from tidsnok.reports.views import download_response, pdf_response

router = Router(tags=["reports"])
# 400: a refusal by the service (a message per field); 422: the body does not match the schema.
REFUSALS = {400: ErrorOut, 422: ErrorOut}

PDF_RESPONSE = {
    "responses": {
        200: {
            "description": "Saksdokumentasjon as PDF (attachment named after the case number).",
            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
        }
    }
}


@router.get(
    "/cases/{case_id}/pdf",
    response={404: ErrorOut, **AUTH_ERRORS, **INPUT_ERRORS},
    summary="The case documentation as PDF (handlers only; the export is audited)",
    openapi_extra=PDF_RESPONSE,
)
def case_pdf(
    request,
    case_id: int = Path(..., ge=1, le=MAX_ID),
    lang: Literal["nb", "en"] | None = Query(None, description="Language of the document; by default the user's."),
):
    user = request.auth
    case = get_visible_or_404(user, Case, "export", pk=case_id)
    return pdf_response(export_case_pdf(user, case, language_of(user, lang)))


@router.get(
    "/cases/{case_id}/plan/{number}/pdf",
    response={404: ErrorOut, **AUTH_ERRORS, **INPUT_ERRORS},
    summary="One version of a sick-leave follow-up plan as PDF (handlers and the employee; the export is audited)",
    openapi_extra={"responses": {200: {
        "description": "Oppfølgingsplan as PDF, for the certifying doctor and NAV. Nothing medical in it.",
        "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
    }}},
)
def plan_pdf(
    request,
    case_id: int = Path(..., ge=1, le=MAX_ID),
    number: int = Path(..., ge=1, le=MAX_ID),
    lang: Literal["nb", "en"] | None = Query(None, description="Language of the document; by default the user's."),
):
    user = request.auth
    version = plan_version_for(user, case_id, number)  # AccessDenied answers 404
    return pdf_response(export_plan_pdf(user, version, language_of(user, lang)))


# --- the access copy (innsyn, GDPR art. 15) -------------------------------------------------------


class AccessRequestOut(Schema):
    id: int
    person: int = Field(description="The person who asked (GET /people/{id}).")
    received_on: date
    due_on: date = Field(description="One month after it was received (GDPR art. 12 (3)).")
    overdue: bool = Field(description="Still open after the due date.")

    @staticmethod
    def resolve_person(obj):
        return obj.person_id

    @staticmethod
    def resolve_overdue(obj):
        return obj.delivered_at is None and obj.due_on < timezone.localdate()


class MyAccessRequestOut(AccessRequestOut):
    delivered_on: date | None = Field(description="When HR gave the copy; empty while the request is open.")

    @staticmethod
    def resolve_delivered_on(obj):
        return timezone.localdate(obj.delivered_at) if obj.delivered_at else None


@router.get(
    "/people/{person_id}/access-copy",
    response={404: ErrorOut, **AUTH_ERRORS, **INPUT_ERRORS},
    summary="The person's access copy (GDPR art. 15) as PDF (HR in scope and administrators; audited)",
    description=(
        "Everything tidsnok holds about the person, as the page /rapporter/innsyn/ makes it. If she has an "
        "open request for her copy, the export marks it delivered. A person the caller may not export "
        "answers 404, like one that does not exist."
    ),
    tags=["access copy"],
    openapi_extra={"responses": {200: {
        "description": "Innsynskopi as PDF (attachment).",
        "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
    }}},
)
def access_copy(
    request,
    person_id: int = Path(..., ge=1, le=MAX_ID),
    lang: Literal["nb", "en"] | None = Query(None, description="Language of the copy; by default the user's."),
):
    user = request.auth
    person = person_for_export(user, person_id)  # AccessDenied answers 404
    return pdf_response(export_answering_open_request(user, person, language_of(user, lang)))


@router.get(
    "/access-requests",
    response={200: list[AccessRequestOut], **AUTH_ERRORS, **INPUT_ERRORS},
    summary="Open requests for an access copy the caller may answer, the most urgent first",
    description="HR sees the requests of the people in its scope, administrators all; anyone else an empty list.",
    tags=["access copy"],
)
@paginate(Page)
def access_requests(request):
    return open_requests(request.auth)


@router.get(
    "/me/access-requests",
    response={200: list[MyAccessRequestOut], **AUTH_ERRORS, **INPUT_ERRORS},
    summary="My requests for my access copy, newest first",
    tags=["access copy"],
)
@paginate(Page)
def my_access_requests(request):
    return requests_of(request.auth)


@router.post(
    "/me/access-requests",
    response={200: MyAccessRequestOut, 201: MyAccessRequestOut, 404: ErrorOut, **AUTH_ERRORS},
    summary="Ask for my access copy (201); while a request of mine is open, that one is returned (200)",
    description="HR whose scope reaches me is notified and has one month to answer. 404 for a login without a "
                "person in the organisation.",
    tags=["access copy"],
)
def ask_for_access_copy(request):
    asked, created = request_access_copy(request.auth)  # AccessDenied (no person) answers 404
    return Status(201 if created else 200, asked)


# --- the inspection pack (tilsynspakke) -----------------------------------------------------------

CaseNumber = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[^\x00]*$")]


class InspectionPackIn(Schema):
    start: IsoDate = Field(description="First day of the period.")
    end: IsoDate = Field(description="Last day of the period: not after today, at most five years after `start`.")
    case_numbers: list[CaseNumber] = Field(
        [], max_length=MAX_CASE_PDFS,
        description=f"Case numbers whose documentation PDF goes into saker/ (at most {MAX_CASE_PDFS}); each "
                    "must be a case the caller may export.",
    )


@router.post(
    "/inspection-packs",
    response={404: ErrorOut, **AUTH_ERRORS, **REFUSALS},
    summary="The inspection pack for a period as ZIP (HR for its scope and administrators; audited)",
    description=(
        "The same pack as the page /rapporter/tilsyn/, in the user's language. A period that does not hold or "
        "a case the caller may not export is refused with 400 and a message per field, and nothing is written. "
        "Anyone but HR and administrators gets 404, as the page."
    ),
    tags=["inspection"],
    openapi_extra={"responses": {200: {
        "description": "Tilsynspakke as ZIP (attachment): innhold.txt, etterlevelse.csv, sykefravaer.csv, "
                       "saker.csv, frister.csv, risikovurderinger.csv, handlingsplaner.csv, varslingsrutiner.txt "
                       "and saker/*.pdf.",
        "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
    }}},
)
def inspection_pack(request, payload: InspectionPackIn):
    user = request.auth
    if not may_export(user):
        raise AccessDenied("inspection")
    # Built outside any transaction (the service writes its event in one of its own).
    exported = export_inspection_pack(user, start=payload.start, end=payload.end,
                                      case_numbers=payload.case_numbers)
    return download_response(exported, "application/zip")
