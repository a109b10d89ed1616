from django.urls import path

from tidsnok.reports import views

urlpatterns = [
    path("saker/<int:case_id>/pdf", views.case_pdf, name="case_pdf"),
]
