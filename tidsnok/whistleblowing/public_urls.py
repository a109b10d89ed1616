"""The reporting channel, open without logging in: /varsling/."""

from django.urls import path

from tidsnok.whistleblowing import views

app_name = "reporting"

urlpatterns = [
    path("", views.channel, name="channel"),
    path("ny/", views.new_report, name="new"),
    path("kvittering/", views.receipt, name="receipt"),
    path("kvittering/svar/", views.receipt_reply, name="receipt_reply"),
    path("kvittering/samtykke/", views.receipt_consent, name="receipt_consent"),
    path("mine/", views.my_reports, name="mine"),
    path("mine/<int:report_id>/", views.my_report, name="mine_detail"),
    path("mine/<int:report_id>/samtykke/", views.my_report_consent, name="mine_consent"),
    path("mine/<int:report_id>/gjengjeldelse/", views.my_report_claim, name="mine_claim"),
    path("rutiner/", views.routines, name="routines"),
]
