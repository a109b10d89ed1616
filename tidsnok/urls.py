from django.http import JsonResponse
from django.urls import include, path
from django.utils.translation import gettext as _
from django.views import defaults

from tidsnok.api import api
from tidsnok.web import views as web_views

urlpatterns = [
    path("accounts/", include("allauth.urls")),
    path("i18n/setlang/", web_views.set_language, name="set_language"),
    path("api/v1/", api.urls),
    path("org/", include("tidsnok.org.urls")),
    path("audit/", include("tidsnok.web.audit_urls")),
    path("rapporter/", include("tidsnok.reports.urls")),
    path("oppbevaring/", include("tidsnok.retention.urls")),
    path("risiko/undersokelse/", include("tidsnok.risk.survey_urls")),
    path("risiko/", include("tidsnok.risk.urls")),
    path("sykefravaer/", include("tidsnok.absence.urls")),
    path("saker/", include("tidsnok.cases.urls")),
    path("varsling/", include("tidsnok.whistleblowing.public_urls")),
    path("varsler/", include("tidsnok.whistleblowing.urls")),
    path("", include("tidsnok.notify.urls")),
    path("", include("tidsnok.web.urls")),
]


def not_found(request, exception):
    # An API client that mistypes a path should get the API's JSON error, not an HTML page.
    if request.path.startswith("/api/"):
        return JsonResponse({"message": _("Not found.")}, status=404)
    return defaults.page_not_found(request, exception)


handler404 = not_found
