"""Sick-leave pages through the Django test client."""

from datetime import date

import pytest
import time_machine

from tidsnok.absence import services
from tidsnok.absence.models import Episode, PlanVersion
from tidsnok.audit.models import AuditEvent
from tests.conftest import enrol_totp


@pytest.fixture(autouse=True)
def december():
    with time_machine.travel(date(2026, 12, 1), tick=False):
        yield


def test_the_manager_registers_an_absence_and_lands_on_the_follow_up(world, client):
    client.force_login(world.user("marte"))
    response = client.post("/sykefravaer/ny/", {
        "person": world.emil.pk, "start": "2026-12-01", "grade": 100, "certified": "doctor", "work_related": "no",
    })
    episode = Episode.objects.get(person=world.emil)
    assert response.status_code == 302
    assert response["Location"] == f"/sykefravaer/sak/{episode.case_id}/"
    page = client.get(response["Location"]).content.decode()
    assert "28.12.2026" in page and "aml § 4-6 (3)" in page
    assert AuditEvent.objects.filter(action="ACCESS", object_id=str(episode.case_id)).exists()


def test_the_form_has_no_place_for_a_diagnosis_and_bad_input_keeps_what_was_written(world, client):
    client.force_login(world.user("marte"))
    page = client.get("/sykefravaer/ny/").content.decode()
    # The only mention is the warning never to write one (the page is in Norwegian, the default).
    assert "skriv aldri en diagnose" in page.lower()
    assert "diagnos" not in page.lower().replace("skriv aldri en diagnose", "")
    response = client.post("/sykefravaer/ny/", {"person": world.emil.pk, "start": "2026-12-05", "end": "2026-12-01",
                                                 "grade": 100, "certified": "doctor", "work_related": "no"})
    assert response.status_code == 200
    assert not Episode.objects.exists()


def test_the_employee_approves_the_plan_on_her_page(world, client):
    episode = services.register_episode(world.user("marte"), person=world.emil, start=date(2026, 12, 1), certified="doctor")
    services.save_plan(world.user("marte"), episode.case, work_tasks_and_capacity="Lette oppgaver",
                       employer_measures="Kortere vakter", further_follow_up="Samtale hver uke")
    client.force_login(world.user("emil"))
    page = client.get(f"/sykefravaer/sak/{episode.case_id}/").content.decode()
    assert "Kortere vakter" in page
    response = client.post(f"/sykefravaer/sak/{episode.case_id}/respond/", {"approves": "no", "comment": ""})
    assert response.status_code == 400
    response = client.post(f"/sykefravaer/sak/{episode.case_id}/respond/", {"approves": "no", "comment": "For tidlig."})
    assert response.status_code == 302
    assert PlanVersion.objects.get().employee_response == "disagreed"
    # The employee cannot write the plan herself.
    response = client.post(f"/sykefravaer/sak/{episode.case_id}/plan/", {
        "work_tasks_and_capacity": "x", "employer_measures": "y", "further_follow_up": "z", "made_on": "2026-12-01"})
    assert response.status_code == 404


def test_a_colleague_gets_404_on_the_follow_up_page(world, client):
    episode = services.register_episode(world.user("marte"), person=world.emil, start=date(2026, 12, 1), certified="doctor")
    client.force_login(world.user("ella"))
    assert client.get(f"/sykefravaer/sak/{episode.case_id}/").status_code == 404
    client.force_login(world.user("sander"))
    assert client.get(f"/sykefravaer/sak/{episode.case_id}/").status_code == 404


def test_statistics_page_and_csv(world, client):
    services.register_episode(world.user("marte"), person=world.emil, start=date(2026, 11, 2), end=date(2026, 11, 6),
                              certified="self")
    client.force_login(world.user("helga"))
    page = client.get("/sykefravaer/statistikk/?start=2026-11-01&end=2026-11-30")
    assert page.status_code == 200
    assert "Hjemmetjenesten" in page.content.decode()
    csv = client.get("/sykefravaer/statistikk/?start=2026-11-01&end=2026-11-30&format=csv")
    assert csv["Content-Type"].startswith("text/csv")
    client.force_login(world.user("emil"))
    assert client.get("/sykefravaer/statistikk/").status_code == 404


def test_hr_imports_through_the_page(world, client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    enrol_totp(world.user("hanne"))
    client.force_login(world.user("hanne"))
    data = b"ansattnummer;fra;til;type\nT004;02.11.2026;03.11.2026;egenmelding\n"
    response = client.post("/sykefravaer/import/", {"file": SimpleUploadedFile("a.csv", data)})
    assert response.status_code == 302
    assert Episode.objects.filter(person=world.emil).exists()


def test_the_manager_records_an_invited_meeting_as_held_on_the_follow_up_page(world, client):
    episode = services.register_episode(world.user("marte"), person=world.emil, start=date(2026, 11, 2), certified="doctor")
    meeting = services.invite_meeting(world.user("marte"), episode.case, kind="dialogue_1", planned_on=date(2026, 12, 1),
                                      participants=["employee", "manager"])
    client.force_login(world.user("marte"))
    page = client.get(f"/sykefravaer/sak/{episode.case_id}/")
    assert page.status_code == 200
    action = f"/sykefravaer/sak/{episode.case_id}/held-{meeting.pk}/"
    assert action in page.content.decode()
    response = client.post(action, {"version": meeting.version, "held_on": "2026-12-01", "minutes": "Gikk gjennom planen."})
    assert response.status_code == 302
    meeting.refresh_from_db()
    assert meeting.held_on == date(2026, 12, 1)


# --- a large scope: a unit at a time, prompts a page at a time --------------------------------------


def _options(page: str) -> str:
    """The text of the employee list."""
    start = page.index('name="person"')
    return page[start:page.index("</select>", start)]


def test_hr_for_a_large_organisation_chooses_a_unit_before_the_employee(world, client, monkeypatch):
    monkeypatch.setattr("tidsnok.absence.views.PEOPLE_LIMIT", 5)
    enrol_totp(world.user("hanne"))
    client.force_login(world.user("hanne"))

    page = client.get("/sykefravaer/ny/").content.decode()
    assert 'id="unit-choice"' in page
    assert "for mange personer til å liste dem" in page
    assert "Emil Ansatt" not in _options(page)

    page = client.get(f"/sykefravaer/ny/?enhet={world.units['HJ'].pk}").content.decode()
    options = _options(page)
    assert "Emil Ansatt, Hjemmetjenesten" in options and "Ella Ansatt" in options
    assert "Kari Ansatt" not in options and "Stine Ansatt" not in options
    assert f'name="enhet" value="{world.units["HJ"].pk}"' in page

    response = client.post("/sykefravaer/ny/", {
        "enhet": world.units["HJ"].pk, "person": world.emil.pk, "start": "2026-12-01", "grade": 100,
        "certified": "self", "work_related": "no",
    })
    assert response.status_code == 302
    assert Episode.objects.get().person == world.emil


def test_a_sector_manager_chooses_among_her_own_units_only(world, client, monkeypatch):
    monkeypatch.setattr("tidsnok.absence.views.PEOPLE_LIMIT", 5)
    client.force_login(world.user("helga"))
    page = client.get("/sykefravaer/ny/").content.decode()
    chooser = page[page.index('id="unit-choice"'):page.index("</select>", page.index('id="unit-choice"'))]
    assert "Hjemmetjenesten" in chooser and "Sykehjemmet" in chooser
    assert "Skole" not in chooser
    # A unit outside her scope in the address gives her own first unit, never Kim's people.
    page = client.get(f"/sykefravaer/ny/?enhet={world.units['SK'].pk}").content.decode()
    assert "Kari Ansatt" not in page
    response = client.post("/sykefravaer/ny/", {
        "enhet": world.units["SK"].pk, "person": world.kari.pk, "start": "2026-12-01", "grade": 100,
        "certified": "self", "work_related": "no",
    })
    assert response.status_code == 200
    assert not Episode.objects.exists()


def test_a_manager_with_few_people_sees_them_all_at_once(world, client):
    client.force_login(world.user("marte"))
    page = client.get("/sykefravaer/ny/").content.decode()
    assert 'id="unit-choice"' not in page
    options = _options(page)
    assert "Emil Ansatt" in options and "Ella Ansatt" in options and "Marte Leder" not in options


def test_frequent_absence_prompts_come_a_page_at_a_time_the_longest_waiting_first(world, client, monkeypatch):
    from tidsnok.absence.models import RecurrenceFlag

    monkeypatch.setattr("tidsnok.absence.views.FLAGS_PER_PAGE", 2)
    for person, raised_on in ((world.ella, date(2026, 11, 20)), (world.emil, date(2026, 10, 1)),
                              (world.dina, date(2026, 11, 1))):
        RecurrenceFlag.objects.create(organisation=world.org, person=person, raised_on=raised_on, episodes=3,
                                      window_start=date(2026, 1, 1))
    client.force_login(world.user("marte"))

    page = client.get("/sykefravaer/").content.decode()
    assert "en oppfordring til en samtale (3)" in page
    assert "Emil Ansatt" in page and "Dina Nestleder" in page and "Ella Ansatt" not in page
    assert "1–2 av 3" in page and "flagg=2" in page

    page = client.get("/sykefravaer/?flagg=2").content.decode()
    assert "Ella Ansatt" in page and "Emil Ansatt" not in page


def test_a_manager_of_a_large_unit_finds_the_employee_by_name_or_number(world, client, monkeypatch):
    monkeypatch.setattr("tidsnok.absence.views.PEOPLE_LIMIT", 1)
    client.force_login(world.user("marte"))
    page = client.get("/sykefravaer/ny/").content.decode()
    assert 'id="unit-choice"' not in page and 'id="person-search"' in page
    assert "for mange personer til å liste dem" in page

    options = _options(client.get("/sykefravaer/ny/?sok=emil").content.decode())
    assert "Emil Ansatt" in options and "Ella Ansatt" not in options
    options = _options(client.get(f"/sykefravaer/ny/?sok={world.ella.employee_number}").content.decode())
    assert "Ella Ansatt" in options and "Emil Ansatt" not in options


@pytest.mark.parametrize("persona", ["marte", "hanne"])
def test_the_absence_list_pages_newest_first_and_shows_only_her_people(world, client, monkeypatch, persona):
    monkeypatch.setattr("tidsnok.absence.views.PAGE_SIZE", 2)
    registered = []
    for person, day in ((world.emil, 2), (world.kari, 3), (world.ella, 9), (world.emil, 16)):
        registered.append(services.register_episode(
            world.user("hanne"), person=person, start=date(2026, 11, day), end=date(2026, 11, day + 1),
            certified="self"))
    user = world.user(persona)
    if persona == "hanne":
        enrol_totp(user)
    client.force_login(user)
    expected = [e for e in reversed(registered) if persona == "hanne" or e.person != world.kari]

    def shown(page):
        return [e.pk for e in page.context["episodes"]]

    first = client.get("/sykefravaer/")
    assert shown(first) == [e.pk for e in expected[:2]]
    second = client.get(f"/sykefravaer/?before={first.context['older']}")
    assert shown(second) == [e.pk for e in expected[2:4]]
    assert ("Kari Ansatt" in second.content.decode()) == (persona == "hanne")


def test_the_absence_list_costs_the_same_queries_for_few_rows_as_for_many(world, client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tidsnok.absence.models import RecurrenceFlag

    def add(person, day):
        services.register_episode(world.user("marte"), person=person, start=date(2026, 10, day),
                                  end=date(2026, 10, day), certified="self")
        RecurrenceFlag.objects.create(organisation=world.org, person=person, raised_on=date(2026, 10, day),
                                      episodes=3, window_start=date(2026, 1, 1))

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/sykefravaer/").status_code == 200
        return len(captured)

    client.force_login(world.user("marte"))
    add(world.emil, 1)
    few = queries()
    for day in range(2, 30, 3):
        add(world.ella if day % 2 else world.dina, day)
    assert Episode.objects.count() == 11
    assert queries() == few


def test_a_large_scope_lists_units_one_level_of_the_tree_at_a_time(world, client, monkeypatch):
    """HR for a municipality would get thousands of options; above UNIT_OPTIONS_FLAT the list is
    the top of the tree, and with a unit chosen its ancestors and the units right below it."""
    import re

    from tidsnok.absence import views

    def options(page):
        select = re.search(r'<select name="unit"[^>]*>(.*?)</select>', page.content.decode(), re.S)
        return [re.sub(r"<[^>]+>", "", option).replace("\u2003", "·") for option in re.findall(r"<option[^>]*>.*?</option>", select.group(1))]

    enrol_totp(world.user("hanne"))
    client.force_login(world.user("hanne"))
    monkeypatch.setattr(views, "UNIT_OPTIONS_FLAT", 100)
    assert options(client.get("/sykefravaer/statistikk/")) == [
        "Alt jeg har tilgang til", "Test-kommune", "Helse", "Hjemmetjenesten", "Sykehjemmet", "Skole"]

    monkeypatch.setattr(views, "UNIT_OPTIONS_FLAT", 3)
    page = client.get("/sykefravaer/statistikk/")
    assert options(page) == ["Alt jeg har tilgang til", "Test-kommune", "·Helse", "·Skole"]
    assert "også enhetene rett under" in page.content.decode()
    helse = world.units["HEL"].pk
    assert options(client.get(f"/sykefravaer/statistikk/?unit={helse}")) == [
        "Alt jeg har tilgang til", "Test-kommune", "·Helse", "··Hjemmetjenesten", "··Sykehjemmet", "·Skole"]
    # A unit that is not listed yet is still accepted, and then listed with its line of ancestors.
    hj = world.units["HJ"].pk
    page = client.get(f"/sykefravaer/statistikk/?unit={hj}")
    assert f'<option value="{hj}" selected>' in page.content.decode()
    assert "··Hjemmetjenesten" in options(page)
