from django.urls import path

from tidsnok.cases import rule_views, views

app_name = "cases"

urlpatterns = [
    path("", views.case_list, name="list"),
    path("ny/", views.case_new, name="new"),
    path("mine/", views.my_cases, name="mine"),
    path("regler/", rule_views.rule_list, name="rules"),
    path("regler/<str:rule_id>/", rule_views.rule_change, name="rule_change"),
    path("<int:case_id>/", views.case_detail, name="detail"),
    path("<int:case_id>/oppforing/<slug:slug>/", views.add_entry, name="entry"),
    path("<int:case_id>/tiltak/", views.add_measure, name="measure_add"),
    path("<int:case_id>/tiltak/<int:measure_id>/status/", views.measure_status, name="measure_status"),
    path("<int:case_id>/avslutt/", views.close_case, name="close"),
    path("<int:case_id>/gjenapne/", views.reopen_case, name="reopen"),
    path("<int:case_id>/usikker/", views.ask_hr, name="ask_hr"),
    path("<int:case_id>/frister/<int:deadline_id>/frafall/", views.waive_deadline, name="waive"),
    path("<int:case_id>/behandlere/", views.add_handler, name="add_handler"),
    path("<int:case_id>/kommentar/", views.comment, name="comment"),
    path("<int:case_id>/tiltak/<int:measure_id>/svar/", views.respond, name="respond"),
]
