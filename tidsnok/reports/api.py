"""The case PDF through the JSON API: GET /api/v1/cases/{id}/pdf.

The same export, access rule and audit event as the HTML download. A case the
caller may not export answers 404, exactly like one that does not exist.
"""

from typing import Literal

from ninja import Path, Query, Router

from tidsnok.access.api import AUTH_ERRORS, INPUT_ERRORS, MAX_ID
from tidsnok.access.policy import get_visible_or_404
from tidsnok.api_common import ErrorOut
from tidsnok.cases.models import Case
from tidsnok.reports.case_pdf import export_case_pdf, language_of
from tidsnok.reports.plan_pdf import export_plan_pdf, plan_version_for
from tidsnok.reports.views import pdf_response

router = Router(tags=["reports"])

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
