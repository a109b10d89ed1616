"""The JSON API under /api/v1/: one NinjaAPI composing each room's router.

The same services and the same access policy serve the HTML views and the API.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from tidsnok.access.api import router as org_router
from tidsnok.access.api_auth import BearerToken, Session
from tidsnok.absence.api import router as absence_router
from tidsnok.access.policy import AccessDenied
from tidsnok.cases.api import router as cases_router
from tidsnok.reports.api import router as reports_router
from tidsnok.retention.api import router as retention_router
from tidsnok.risk.api import router as risk_router
from tidsnok.whistleblowing.api import router as whistleblowing_router
from tidsnok.versioning import StaleVersion

api = NinjaAPI(
    title="tidsnok API",
    version="1",
    description=(
        "Psychosocial work environment and sick-leave follow-up. Authenticate with "
        "`Authorization: Bearer <token>`; the operator issues tokens with `tidsnok token create --user EMAIL`, "
        "and they work without a second factor. The browser session works too, but HR advisers and "
        "administrators must have set up a second factor for it (403 otherwise). "
        "Errors are JSON with a `message`."
    ),
    auth=[BearerToken(), Session()],
    urls_namespace="api",
    docs_url="/docs",
    openapi_url="/openapi.json",
)

api.add_router("/", org_router)
api.add_router("/", cases_router)
api.add_router("/", absence_router)
api.add_router("/", reports_router)
api.add_router("/", whistleblowing_router)
api.add_router("/", retention_router)
api.add_router("/", risk_router)


@api.exception_handler(Http404)
def not_found(request, exc):
    return api.create_response(request, {"message": _("Not found.")}, status=404)


@api.exception_handler(AccessDenied)
def denied(request, exc):
    # Same answer as for something that does not exist: no oracle for ids.
    return api.create_response(request, {"message": _("Not found.")}, status=404)


@api.exception_handler(AuthenticationError)
def unauthenticated(request, exc):
    return api.create_response(request, {"message": _("Authentication required.")}, status=401)


@api.exception_handler(ValidationError)
def invalid(request, exc):
    errors: dict[str, list[str]] = {}
    for error in exc.errors:
        loc = [str(part) for part in error.get("loc", []) if part not in ("body", "query", "path", "payload")]
        errors.setdefault(".".join(loc) or "__all__", []).append(error.get("msg", ""))
    return api.create_response(request, {"message": _("The input is not valid."), "errors": errors}, status=422)


@api.exception_handler(DjangoValidationError)
def invalid_domain(request, exc):
    if hasattr(exc, "message_dict"):
        errors = {k: [str(m) for m in v] for k, v in exc.message_dict.items()}
    else:
        errors = {"__all__": [str(m) for m in exc.messages]}
    return api.create_response(request, {"message": _("The input is not valid."), "errors": errors}, status=400)


@api.exception_handler(HttpError)
def http_error(request, exc):
    return api.create_response(request, {"message": str(exc)}, status=exc.status_code)


@api.exception_handler(StaleVersion)
def stale(request, exc):
    return api.create_response(request, {"message": str(exc)}, status=409)
