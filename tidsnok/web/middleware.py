import logging
import re
import time

from django.utils import translation

log = logging.getLogger("tidsnok.request")

# Browsers asking for Norwegian in any form get bokmål: nynorsk ("nn") users are
# better served by bokmål than by the English fallback.
_NORWEGIAN = re.compile(r"(?<![A-Za-z])(?:no|nn|nb)(?:-[A-Za-z]{2})?(?![A-Za-z-])", re.IGNORECASE)


class NorwegianAcceptLanguageMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        header = request.META.get("HTTP_ACCEPT_LANGUAGE")
        if header:
            request.META["HTTP_ACCEPT_LANGUAGE"] = _NORWEGIAN.sub("nb", header)
        return self.get_response(request)


class UserLanguageMiddleware:
    """A logged-in user's saved language wins over the browser's."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.language:
            translation.activate(user.language)
            request.LANGUAGE_CODE = user.language
        return self.get_response(request)


# Paths whose requests must leave no trace of who made them, and what is logged instead of
# the path: the anonymous whistleblowing channel, and the anonymous surveys of the risk
# assessments (a line with who answered when would sit beside the audit log's answers).
_UNLOGGED_PREFIXES = {"/varsling": "[reporting channel]", "/api/v1/reports": "[reporting channel]",
                      "/risiko/undersokelse/": "[survey]"}


class RequestLogMiddleware:
    """One line per request: method, route, status, duration and user id.

    No IP address, user agent, query string or personal data is written."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed_ms = (time.perf_counter() - started) * 1000
        user = getattr(request, "user", None)
        user_id = user.pk if user is not None and user.is_authenticated else "-"
        path = request.path
        label = next((label for prefix, label in _UNLOGGED_PREFIXES.items() if path.startswith(prefix)), None)
        if label is not None:
            path = label
            user_id = "-"
        else:
            match = getattr(request, "resolver_match", None)
            path = match.route if match is not None and match.route else path
        log.info("%s %s %s %.1fms user=%s", request.method, path, response.status_code, elapsed_ms, user_id)
        return response
