"""The handlers' pages: /varsler/."""

from django.urls import path

from tidsnok.whistleblowing import views

app_name = "whistleblowing"

urlpatterns = [
    path("", views.report_list, name="list"),
    path("gjengjeldelse/", views.checks, name="checks"),
    path("innstillinger/", views.settings_view, name="settings"),
    path("innstillinger/mottakere/", views.handlers_view, name="handlers"),
    path("rutiner/", views.routine_list, name="routines"),
    path("rutiner/<int:routine_id>/", views.routine_view, name="routine"),
    path("rutiner/<int:routine_id>/medvirkning/", views.routine_participation, name="routine_participation"),
    path("rutiner/<int:routine_id>/publiser/", views.routine_publish, name="routine_publish"),
    path("<int:case_id>/", views.report_page, name="report"),
    path("<int:case_id>/vedlegg/<int:attachment_id>/", views.attachment, name="attachment"),
    path("<int:case_id>/kontroll/<int:check_id>/", views.document_check, name="check"),
    path("<int:case_id>/<slug:action>/", views.report_action, name="action"),
]
