"""The import page: administrators only, upload, errors, summary, templates."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.conftest import enrol_totp
from tests.org.helpers import PEOPLE_CSV, UNITS_CSV, counts
from tidsnok.org.importing import import_organisation
from tidsnok.org.models import OrgImport, Person

URL = "/org/import/"


@pytest.fixture
def admin_client(world, client):
    enrol_totp(world.user("ada"))
    client.force_login(world.user("ada"))
    return client


def upload(name, data):
    return SimpleUploadedFile(name, data, content_type="text/csv")


@pytest.mark.parametrize("persona", ["marte", "emil", "siri", "ask"])
@pytest.mark.parametrize("path", [URL, URL + "template/units.csv", URL + "template/people.csv"])
def test_the_import_pages_do_not_exist_for_others(world, client, persona, path):
    client.force_login(world.user(persona))
    assert client.get(path).status_code == 404


def test_a_non_administrator_cannot_post_files(world, client):
    client.force_login(world.user("kim"))
    before = counts()
    response = client.post(URL, {"units_file": upload("units.csv", UNITS_CSV)})
    assert response.status_code == 404
    assert counts() == before


def test_an_anonymous_visitor_is_sent_to_log_in(db, client):
    response = client.get(URL)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_form_has_labelled_file_inputs_and_describes_the_columns(admin_client):
    response = admin_client.get(URL, HTTP_ACCEPT_LANGUAGE="en")
    body = response.content.decode()
    assert response.status_code == 200
    assert '<label for="id_units_file">' in body and '<label for="id_people_file">' in body
    assert 'aria-describedby="id_units_file_helptext"' in body
    assert 'id="id_units_file_helptext"' in body
    assert "ansattnummer" in body and "stillingsprosent" in body
    assert "never deletes" in body
    assert 'href="/org/import/template/units.csv"' in body
    assert "<style" not in body and "<script>" not in body


def test_an_administrator_uploads_files_and_sees_the_summary(world, admin_client):
    response = admin_client.post(URL, {
        "units_file": upload("enheter.csv", UNITS_CSV), "people_file": upload("ansatte.csv", PEOPLE_CSV),
    }, HTTP_ACCEPT_LANGUAGE="en")

    imported = OrgImport.objects.get()
    assert response.status_code == 302 and response["Location"] == f"{URL}?import={imported.pk}"
    assert imported.filename == "enheter.csv, ansatte.csv" and imported.created_by == world.user("ada")
    assert Person.objects.filter(employee_number__in=["P100", "P101", "P102"]).count() == 3
    body = admin_client.get(response["Location"], HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "The import is complete." in body
    assert "People created" in body and "P101" in body
    assert "Recent imports" in body and "enheter.csv, ansatte.csv" in body


def test_the_page_lists_an_unchanged_reimport_as_such(world, admin_client):
    import_organisation(world.user("ada"), world.org, units_file=UNITS_CSV, people_file=PEOPLE_CSV)
    response = admin_client.post(URL, {"units_file": upload("units.csv", UNITS_CSV),
                                       "people_file": upload("people.csv", PEOPLE_CSV)}, follow=True,
                                 HTTP_ACCEPT_LANGUAGE="en")
    assert "Nothing changed: the organisation already matched the files." in response.content.decode()


def test_errors_are_shown_as_a_table_linked_to_the_file_input_and_nothing_is_written(world, admin_client):
    people = PEOPLE_CSV.replace(b"per@test.no", b"per@").replace(b"2021-08-15", b"15/08/2021")
    before = counts()

    response = admin_client.post(URL, {"units_file": upload("units.csv", UNITS_CSV),
                                       "people_file": upload("people.csv", people)}, HTTP_ACCEPT_LANGUAGE="en")

    body = response.content.decode()
    assert response.status_code == 200
    assert counts() == before
    assert 'role="alert"' in body and "Nothing was imported" in body
    assert '<a href="#id_people_file">People file (CSV): Errors in this file: 2.' in body
    assert 'aria-invalid="true"' in body and "id_people_file_error" in body
    assert '<th scope="col">Line</th>' in body
    assert "<td>3</td>" in body and "<code>email</code>" in body
    assert "“per@” is not a valid e-mail address." in body
    assert "“15/08/2021” is not a date." in body


def test_errors_are_shown_in_norwegian_for_a_norwegian_user(world, admin_client):
    people = PEOPLE_CSV.replace(b"BHG1,Pedagogisk", b"NOPE,Pedagogisk")
    response = admin_client.post(URL, {"people_file": upload("people.csv", people)}, HTTP_ACCEPT_LANGUAGE="nb")
    body = response.content.decode()
    assert "Ukjent enhet «NOPE»" in body
    assert "Ingenting ble importert" in body


def test_the_users_saved_language_decides_the_messages(world, admin_client):
    ada = world.user("ada")
    ada.language = "en"
    ada.save(update_fields=["language"])
    people = PEOPLE_CSV.replace(b"BHG1,Pedagogisk", b"NOPE,Pedagogisk")
    body = admin_client.post(URL, {"people_file": upload("people.csv", people)},
                             HTTP_ACCEPT_LANGUAGE="nb").content.decode()
    assert "Unknown unit “NOPE”" in body


def test_posting_no_file_asks_for_one(admin_client):
    body = admin_client.post(URL, {}, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Choose a units file, a people file or both." in body


def test_a_latin1_upload_gets_one_clear_error(world, admin_client):
    data = "kode;navn;overordnet\nBJ;Bjørkelia;ROOT\n".encode("latin-1")
    body = admin_client.post(URL, {"units_file": upload("units.csv", data)}, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert body.count("is not UTF-8 encoded") == 1
    assert "whole file" in body


@pytest.mark.parametrize("language,header", [("nb", "kode;navn;overordnet;leder"), ("en", "code,name,parent,manager")])
def test_the_example_templates_download_and_import_cleanly(world, admin_client, language, header):
    units = admin_client.get(URL + "template/units.csv", HTTP_ACCEPT_LANGUAGE=language)
    people = admin_client.get(URL + "template/people.csv", HTTP_ACCEPT_LANGUAGE=language)
    assert units["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="units.csv"' in units["Content-Disposition"]
    assert units.content.decode("utf-8-sig").startswith(header)

    result = import_organisation(world.user("ada"), world.org, units_file=units.content, people_file=people.content)
    assert result.ok, result.errors
    assert result.summary["counts"]["people_created"] == 3


def test_an_import_of_another_organisation_is_not_shown(world, admin_client):
    from tidsnok.org import services

    other = services.create_organisation(None, "Annen kommune")
    foreign = OrgImport.objects.create(organisation=other, sha256="0" * 64, filename="secret-foreign.csv",
                                       summary={"counts": {}})
    body = admin_client.get(f"{URL}?import={foreign.pk}").content.decode()
    assert "secret-foreign.csv" not in body
