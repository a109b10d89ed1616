from django.urls import path

from tidsnok.reports import views

urlpatterns = [
    path("saker/<int:case_id>/pdf", views.case_pdf, name="case_pdf"),
    path("sykefravaer/<int:case_id>/plan/<int:number>/pdf", views.plan_pdf, name="plan_pdf"),
]
