from django.urls import path

from tidsnok.reports import access_copy_views, inspection_views, views, yearly_views

urlpatterns = [
    path("saker/<int:case_id>/pdf", views.case_pdf, name="case_pdf"),
    path("sykefravaer/<int:case_id>/plan/<int:number>/pdf", views.plan_pdf, name="plan_pdf"),
    path("tilsyn/", inspection_views.inspection_pack, name="inspection_pack"),
    path("arsrapport/", yearly_views.yearly_report, name="yearly_report"),
    path("innsyn/", access_copy_views.find, name="access_copy_find"),
    path("innsyn/be-om/", access_copy_views.ask, name="access_copy_ask"),
    path("innsyn/<int:person_id>/", access_copy_views.person, name="access_copy_person"),
    path("innsyn/<int:person_id>/pdf", access_copy_views.pdf, name="access_copy_pdf"),
]
