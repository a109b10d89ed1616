from django.urls import path

from tidsnok.org import importer, views

urlpatterns = [
    path("import/", views.import_organisation, name="org_import"),
    path("import/template/units.csv", views.import_template, {"kind": importer.UNITS}, name="org_import_template_units"),
    path("import/template/people.csv", views.import_template, {"kind": importer.PEOPLE},
         name="org_import_template_people"),
]
