from django.urls import path

from tidsnok.risk import coverage_views, views

app_name = "risk"

urlpatterns = [
    path("", views.index, name="index"),
    path("ny/", views.start, name="start"),
    path("dekning/", coverage_views.coverage, name="coverage"),
    path("<int:pk>/", views.assessment, name="assessment"),
    path("<int:pk>/endre/", views.edit, name="edit"),
    path("<int:pk>/risiko/ny/", views.risk_add, name="risk_add"),
    path("<int:pk>/tiltak/ny/", views.action_add, name="action_add"),
    path("<int:pk>/deltaker/ny/", views.participant_add, name="participant_add"),
    path("<int:pk>/kommentar/", views.comment, name="comment"),
    path("<int:pk>/fullfor/", views.complete, name="complete"),
    path("<int:pk>/gjennomgang/", views.review, name="review"),
    path("risiko/<int:risk_id>/", views.risk_edit, name="risk_edit"),
    path("risiko/<int:risk_id>/fjern/", views.risk_remove, name="risk_remove"),
    path("tiltak/<int:action_id>/", views.action_edit, name="action_edit"),
    path("deltaker/<int:participant_id>/fjern/", views.participant_remove, name="participant_remove"),
]
