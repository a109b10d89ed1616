from django.urls import path

from tidsnok.retention import views

app_name = "retention"

urlpatterns = [
    path("", views.policy, name="policy"),
]
