"""Sick-leave follow-up in Chromium: the manager registers a doctor-certified
absence and writes the follow-up plan with the employee; the employee disagrees,
then approves a new version; the manager records that the plan was sent to the
doctor. axe checks the register form, the follow-up page as the manager and as
the employee, the statistics page and the import page."""

import re
from datetime import timedelta

from django.utils import timezone

from tidsnok.absence import services
from tidsnok.absence.models import Episode, PlanSending, PlanVersion
from tidsnok.cases.models import DeadlineStatus
from tests.browser.conftest import assert_accessible, sign_in
from tests.conftest import enrol_totp


DUPLICATE_IDS = """() => {
    const ids = [...document.querySelectorAll("[id]")].map(element => element.id);
    return ids.filter((id, index) => ids.indexOf(id) !== index);
}"""


def main_text(page) -> str:
    return page.locator("main").inner_text()


def open_box(page, title):
    """Open a form's <details> by its summary (the forms work without scripts)."""
    page.locator("summary", has_text=title).first.click()


def form(page, action):
    return page.locator(f"form[action$='/{action}/']")


def submit(box, button):
    box.get_by_role("button", name=button).click()
    box.page.wait_for_load_state()


def test_a_doctor_certified_absence_from_registration_to_a_plan_sent_to_the_doctor(world, new_page):
    today = timezone.localdate()
    first_day = today - timedelta(days=10)

    # --- the manager registers the absence ----------------------------------------------------
    manager = sign_in(new_page(), world.user("marte"))
    manager.get_by_role("navigation", name="Hovedmeny").get_by_role("link", name="Sykefravær", exact=True).click()
    manager.wait_for_url("**/sykefravaer/")
    assert_accessible(manager)
    manager.get_by_role("link", name="Registrer fravær").click()
    manager.wait_for_url("**/sykefravaer/ny/")
    assert_accessible(manager)

    # First without the kind of certificate: the form comes back, announced and accessible.
    manager.get_by_label("Ansatt:", exact=True).select_option(label="Emil Ansatt")
    manager.get_by_label("Første fraværsdag").fill(first_day.isoformat())
    manager.get_by_role("button", name="Registrer", exact=True).click()
    manager.wait_for_load_state()
    assert not Episode.objects.exists()
    assert manager.get_by_label("Første fraværsdag").input_value() == first_day.isoformat()
    assert_accessible(manager)

    manager.get_by_label("Sykmelding", exact=True).check()
    assert manager.get_by_label("Sykmeldingsgrad (%)").input_value() == "100"
    manager.get_by_role("button", name="Registrer", exact=True).click()
    manager.wait_for_url(re.compile(r".*/sykefravaer/sak/\d+/$"))
    episode = Episode.objects.get()
    case = episode.case
    assert "Fraværet er registrert." in main_text(manager)
    assert "Ingen oppfølgingsplan ennå." in main_text(manager)
    assert (first_day + timedelta(days=27)).strftime("%d.%m.%Y") in main_text(manager)  # the plan by day 28
    assert_accessible(manager)

    # --- the manager writes the follow-up plan ------------------------------------------------
    open_box(manager, "Lag oppfølgingsplanen")
    plan = form(manager, "plan")
    plan.get_by_label("Arbeidsoppgaver og arbeidsevne").fill("Kan ta telefonoppfølging og dokumentasjon, ikke tunge stell.")
    plan.get_by_label("Tilrettelegging og tiltak fra arbeidsgiver").fill("Fritak fra kveldsvakter i fire uker.")
    plan.get_by_label("Plan for videre oppfølging").fill("Samtale hver fredag.")
    submit(plan, "Lagre planen")
    assert "En ny versjon av oppfølgingsplanen er lagret." in main_text(manager)
    assert "Den ansatte har ikke svart ennå." in main_text(manager)
    assert_accessible(manager)

    # --- the employee reads it, comments and disagrees ----------------------------------------
    employee = sign_in(new_page(), world.user("emil"))
    employee.get_by_role("navigation", name="Hovedmeny").get_by_role("link", name="Sykefravær", exact=True).click()
    employee.wait_for_url("**/sykefravaer/")
    employee.get_by_role("link", name="Oppfølging", exact=True).click()
    employee.wait_for_url(f"**/sykefravaer/sak/{case.pk}/")
    text = main_text(employee)
    assert "Fritak fra kveldsvakter i fire uker." in text and "Samtale hver fredag." in text
    assert "Lag en ny versjon av planen" not in text  # she answers the plan; the manager writes it
    assert_accessible(employee)

    answer = form(employee, "respond")
    answer.get_by_label("Nei, jeg er uenig").check()
    submit(answer, "Send svaret mitt")
    assert "Skriv hva du er uenig i." in main_text(employee)
    assert PlanVersion.objects.get().employee_response == ""
    assert_accessible(employee)

    answer = form(employee, "respond")
    answer.get_by_label("Nei, jeg er uenig").check()
    answer.get_by_label("Din kommentar").fill("Fredager passer dårlig; torsdager går fint.")
    submit(answer, "Send svaret mitt")
    assert "Svaret ditt er registrert." in main_text(employee)
    assert "Den ansatte er uenig." in main_text(employee)
    assert PlanVersion.objects.get().employee_response == "disagreed"
    assert_accessible(employee)

    # --- a new version, which the employee approves -------------------------------------------
    manager.reload()
    assert "Fredager passer dårlig; torsdager går fint." in main_text(manager)
    open_box(manager, "Lag en ny versjon av planen")
    plan = form(manager, "plan")
    assert plan.get_by_label("Tilrettelegging og tiltak fra arbeidsgiver").input_value() == "Fritak fra kveldsvakter i fire uker."
    plan.get_by_label("Plan for videre oppfølging").fill("Samtale hver torsdag.")
    submit(plan, "Lagre planen")
    assert "Versjon 2" in main_text(manager)
    open_box(manager, "Tidligere versjoner")
    assert "Den ansatte er uenig. Fredager passer dårlig; torsdager går fint." in main_text(manager)

    employee.reload()
    assert "Samtale hver torsdag." in main_text(employee)
    answer = form(employee, "respond")
    answer.get_by_label("Ja, jeg er enig").check()
    submit(answer, "Send svaret mitt")
    assert "Den ansatte er enig." in main_text(employee)
    assert [v.employee_response for v in PlanVersion.objects.order_by("number")] == ["disagreed", "approved"]
    # Her own plan, as the PDF for the doctor.
    link = employee.get_by_role("link", name="Versjon 2 som PDF til sykmelder og NAV")
    pdf = employee.request.get(link.get_attribute("href"))
    assert pdf.ok and pdf.headers["content-type"] == "application/pdf"

    # --- the manager records that it was sent to the doctor -----------------------------------
    manager.reload()
    open_box(manager, "Registrer at planen er sendt")
    sent = form(manager, "sent")
    sent.get_by_label("Sykmelder").check()
    sent.get_by_label("Sendt dato").fill(today.isoformat())
    submit(sent, "Registrer")
    text = main_text(manager)
    assert "Registrert når og til hvem planen ble sendt." in text
    assert f"Sykmelder: {today:%d.%m.%Y}" in text
    sending = PlanSending.objects.get()
    assert (sending.version.number, sending.recipient) == (2, "doctor")
    assert case.deadlines.get(rule_id="sick_leave.plan_to_doctor").status == DeadlineStatus.MET
    assert_accessible(manager)

    # Dialogue meeting 1 invited through the page, and one with NAV: each gets its own "held" form.
    open_box(manager, "Kall inn til dialogmøte")
    meeting = form(manager, "meeting")
    meeting.get_by_label("Møte").select_option(label="Dialogmøte 1")
    meeting.get_by_label("Dato").fill((today + timedelta(days=14)).isoformat())
    meeting.get_by_label("Sykmelder", exact=True).check()
    submit(meeting, "Registrer møtet")
    assert "Møtet er registrert." in main_text(manager)
    services.invite_meeting(world.user("marte"), case, kind="dialogue_2", planned_on=today + timedelta(days=150),
                            participants=["employee", "manager", "nav"])
    manager.reload()
    # Every form on the page, with all the boxes open (axe skips what is hidden), and no id twice.
    manager.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")
    assert_accessible(manager)
    assert manager.evaluate(DUPLICATE_IDS) == []


def test_the_statistics_and_import_pages_are_accessible(world, new_page):
    manager = sign_in(new_page(), world.user("marte"))
    manager.goto("/sykefravaer/")
    manager.get_by_role("link", name="Statistikk").click()
    manager.wait_for_url("**/sykefravaer/statistikk/")
    assert "Sykefraværsstatistikk" in main_text(manager)
    assert_accessible(manager)

    enrol_totp(world.user("hanne"))  # HR pages need a second factor enrolled
    hr = sign_in(new_page(), world.user("hanne"))
    hr.goto("/sykefravaer/")
    hr.get_by_role("link", name="Importer fra lønnssystemet").click()
    hr.wait_for_url("**/sykefravaer/import/")
    assert_accessible(hr)

    # A file with a diagnosis column: refused whole, every problem listed, still accessible.
    hr.get_by_label("CSV-fil fra lønns- eller personalsystemet").set_input_files(files=[{
        "name": "fravaer.csv", "mimeType": "text/csv",
        "buffer": "ansattnummer;fra;til;type;diagnose\nT004;02.11.2026;04.11.2026;egenmelding;J06\n".encode(),
    }])
    hr.get_by_role("button", name="Importer", exact=True).click()
    hr.wait_for_load_state()
    assert "Ingenting ble importert" in hr.get_by_role("alert").inner_text()
    assert not Episode.objects.exists()
    assert_accessible(hr)


def test_hr_for_a_large_organisation_finds_the_employee_by_unit_and_name(world, new_page, monkeypatch):
    monkeypatch.setattr("tidsnok.absence.views.PEOPLE_LIMIT", 3)
    enrol_totp(world.user("hanne"))  # HR pages need a second factor enrolled
    hr = sign_in(new_page(), world.user("hanne"))
    hr.goto("/sykefravaer/ny/")
    assert "for mange personer til å liste dem" in main_text(hr)
    assert_accessible(hr)

    hr.get_by_label("Enhet", exact=True).select_option(label="Hjemmetjenesten")
    hr.get_by_label("Navn eller ansattnummer").fill("emil")
    hr.get_by_role("button", name="Vis personer").click()
    hr.wait_for_url("**/sykefravaer/ny/?*")
    assert_accessible(hr)
    hr.get_by_label("Ansatt:", exact=True).select_option(label="Emil Ansatt, Hjemmetjenesten")
    hr.get_by_label("Første fraværsdag").fill((timezone.localdate() - timedelta(days=2)).isoformat())
    hr.get_by_label("Egenmelding", exact=True).check()
    hr.get_by_role("button", name="Registrer", exact=True).click()
    hr.wait_for_url("**/sykefravaer/")
    assert Episode.objects.get().person == world.emil
