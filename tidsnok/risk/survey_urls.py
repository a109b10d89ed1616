from django.urls import path

from tidsnok.risk import survey_views

app_name = "risk_survey"

urlpatterns = [
    path("ny/<int:assessment_pk>/", survey_views.open_survey, name="open"),
    path("<int:pk>/", survey_views.answer, name="answer"),
    path("<int:pk>/lukk/", survey_views.close, name="close"),
]
