"""Organisation pages: the CSV import (administrators only)."""

import csv
import io

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from tidsnok.org import importer, scope
from tidsnok.org.forms import ImportForm
from tidsnok.org.importing import import_organisation as run_import
from tidsnok.org.models import Organisation, OrgImport

# Enough to fix a file by; the rest would only make the page unusable.
MAX_ERRORS_SHOWN = 500
RECENT_IMPORTS = 20


def _admin_organisation(user) -> Organisation:
    """The organisation `user` administers; anyone else is told nothing exists here."""
    if not scope.is_admin(user):
        raise Http404
    person = scope.person_of(user)
    if person is not None:
        return person.organisation
    # A superuser without a person record: only unambiguous with one organisation.
    organisations = list(Organisation.objects.order_by("pk")[:2])
    if len(organisations) != 1:
        raise Http404
    return organisations[0]


@login_required
def import_organisation(request):
    organisation = _admin_organisation(request.user)
    errors = []
    if request.method == "POST":
        form = ImportForm(request.POST, request.FILES)
        if form.is_valid():
            units_upload = form.cleaned_data["units_file"]
            people_upload = form.cleaned_data["people_file"]
            result = run_import(
                request.user, organisation,
                units_file=units_upload.read() if units_upload else None,
                people_file=people_upload.read() if people_upload else None,
                filename=", ".join(upload.name for upload in (units_upload, people_upload) if upload),
            )
            if result.ok:
                # Redirect, so reloading the result page does not post the files again.
                return redirect(f"{reverse('org_import')}?import={result.org_import.pk}")
            errors = result.errors
            _mark_fields(form, errors)
    else:
        form = ImportForm()
    recent = (
        OrgImport.objects.filter(organisation=organisation).select_related("created_by").order_by("-created_at", "-pk")
    )[:RECENT_IMPORTS]
    shown = _shown_import(request, organisation)
    return render(request, "org/import.html", {
        "form": form,
        "errors": errors[:MAX_ERRORS_SHOWN],
        "error_count": len(errors),
        "errors_hidden": max(0, len(errors) - MAX_ERRORS_SHOWN),
        "recent": recent,
        "shown": shown,
        "shown_changes": _changes_for_display(shown.summary) if shown else None,
        "unit_columns": importer.UNIT_COLUMNS,
        "people_columns": importer.PEOPLE_COLUMNS,
    })


def _mark_fields(form, errors) -> None:
    """Tie the import errors to the file inputs, so screen readers announce the
    input as invalid and read out where the details are."""
    for file, field in ((importer.UNITS, "units_file"), (importer.PEOPLE, "people_file")):
        count = sum(1 for error in errors if error.file == file)
        if count:
            form.add_error(field, _("Errors in this file: %(count)d. See the table of errors.") % {"count": count})


def _shown_import(request, organisation):
    """The import named in ?import= (the one just made), if it belongs to this organisation."""
    value = request.GET.get("import", "")
    if not value.isdigit():
        return None
    return OrgImport.objects.filter(organisation=organisation, pk=int(value)).select_related("created_by").first()


def _field_labels() -> dict[str, str]:
    return {
        "name": _("name"), "parent": _("parent unit"), "email": _("e-mail"), "unit": _("unit"),
        "position": _("position"), "position_percent": _("position percentage"),
        "start_date": _("start date"), "end_date": _("end date"),
    }


def _changes_for_display(summary: dict) -> dict:
    """The summary's changed units and people with translated field names."""
    labels = _field_labels()

    def rows(changed: dict) -> list[tuple[str, str]]:
        return [(key, ", ".join(labels.get(name, name) for name in names)) for key, names in sorted(changed.items())]

    return {
        "units": rows(summary.get("units", {}).get("changed", {})),
        "people": rows(summary.get("people", {}).get("changed", {})),
    }


# Example rows: Norwegian headers and semicolons for Norwegian users (what
# Norwegian Excel reads and writes), English headers and commas otherwise.
_EXAMPLES = {
    importer.UNITS: [
        ["EK", "Eksempel kommune", "", "1001"],
        ["HO", "Helse og omsorg", "EK", "1002"],
        ["HJEM", "Hjemmetjenesten", "HO", ""],
    ],
    importer.PEOPLE: [
        ["1001", "Kari Nordmann", "kari.nordmann@example.no", "EK", "Kommunedirektør", "01.01.2020", "100", ""],
        ["1002", "Ola Hansen", "ola.hansen@example.no", "HO", "Kommunalsjef", "2021-08-15", "100", ""],
        ["1003", "Ingrid Berg", "", "HJEM", "Helsefagarbeider", "01.03.2022", "80", "31.12.2026"],
    ],
}


@login_required
def import_template(request, kind: str):
    _admin_organisation(request.user)
    norwegian = translation.get_language() == "nb"
    columns = importer.COLUMNS[kind]
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";" if norwegian else ",", lineterminator="\r\n")
    writer.writerow([column.norwegian if norwegian else column.name for column in columns])
    writer.writerows(_EXAMPLES[kind])
    # The byte-order mark makes Excel open the file as UTF-8 (æ, ø, å intact).
    response = HttpResponse("\ufeff" + buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{kind}.csv"'
    return response
