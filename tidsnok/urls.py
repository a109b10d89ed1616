from django.urls import include, path

from tidsnok.api import api

urlpatterns = [
    path("accounts/", include("allauth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", api.urls),
    path("org/", include("tidsnok.org.urls")),
    path("audit/", include("tidsnok.audit.urls")),
    path("", include("tidsnok.web.urls")),
]
