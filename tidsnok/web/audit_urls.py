from django.urls import path

from tidsnok.web import audit_views

urlpatterns = [
    path("", audit_views.audit_log, name="audit_log"),
]
