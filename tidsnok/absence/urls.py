from django.urls import path

from tidsnok.absence import views

app_name = "absence"

urlpatterns = [
    path("", views.episode_list, name="list"),
    path("ny/", views.episode_new, name="new"),
    path("fravaer/<int:episode_id>/", views.episode_detail, name="episode"),
    path("flagg/<int:flag_id>/", views.flag_handled, name="flag_handled"),
    path("sak/<int:case_id>/", views.follow_up, name="follow_up"),
    path("sak/<int:case_id>/<slug:action>/", views.follow_up_action, name="follow_up_action"),
    path("statistikk/", views.statistics_page, name="statistics"),
    path("import/", views.import_page, name="import"),
]
