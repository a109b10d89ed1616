from django.urls import path

from tidsnok.notify import views

app_name = "notify"

urlpatterns = [
    path("meldinger/", views.notifications, name="notifications"),
    path("meldinger/frister/", views.my_deadlines, name="deadlines"),
    path("meldinger/innstillinger/", views.preferences, name="preferences"),
    path("meldinger/paminnelsesregler/", views.org_settings, name="org_settings"),
    path("meldinger/utsending/", views.deliveries, name="deliveries"),
    path("kalender/<str:token>.ics", views.calendar, name="calendar"),
    path("etterlevelse/", views.compliance_overview, name="compliance"),
    path("etterlevelse/enhet/<int:unit_id>/", views.compliance_unit, name="compliance_unit"),
    path("etterlevelse/etterlevelse.csv", views.compliance_csv, name="compliance_csv"),
]
