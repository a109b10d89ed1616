"""The case pages in Chromium: the manager's whole path, the concerned employee
answering a measure, and HR handling a case where the manager is accused. axe
checks every page on the way, the forms with errors too."""

import re
from datetime import timedelta

from django.utils import timezone

from tidsnok.cases import services
from tidsnok.cases.models import Case, Kind, MeasureKind, Source, Status
from tests.browser.conftest import PHONE, assert_accessible, has_horizontal_scroll, sign_in
from tests.conftest import enrol_totp


def heading(page) -> str:
    return page.locator("h1").first.inner_text().strip()


def open_details(page, title):
    """Open a <details> by its summary."""
    page.locator("summary", has_text=title).first.click()


def open_form(page, title):
    """Follow the case page's link to a form's own page (plain links: no scripts needed)."""
    page.locator("main").get_by_role("link", name=title, exact=True).click()
    page.wait_for_load_state()
    assert heading(page) == title


def submit(page, box_id, button):
    """Submit a form page's form; it goes back to the case page."""
    page.locator(f"#{box_id}").get_by_role("button", name=button).click()
    page.wait_for_load_state()
    assert re.search(r"/saker/\d+/(#.*)?$", page.url), page.url


def test_manager_registers_a_case_documents_it_and_closes_it(world, page):
    today = timezone.localdate()
    sign_in(page, world.user("marte"))
    page.get_by_role("navigation", name="Hovedmeny").get_by_role("link", name="Saker", exact=True).click()
    page.wait_for_url("**/saker/")
    assert heading(page) == "Saker"
    assert_accessible(page)

    page.get_by_role("link", name="Registrer ny sak").click()
    page.wait_for_url("**/saker/ny/")
    assert "Arbeidsmengde og tidspress er ditt ansvar å regulere" in page.locator("main").inner_text()
    assert_accessible(page)

    # First without saying whom it concerns: the form comes back, accessible, input kept.
    page.get_by_label("Psykososial bekymring").check()
    page.get_by_label("Arbeidsmengde og tidspress").check()
    page.get_by_label("Hva har skjedd?").fill("Emil sier han ikke rekker arbeidsoppgavene.")
    page.get_by_label("Hvordan fikk du vite om det?").select_option("employee_told")
    page.get_by_role("button", name="Registrer saken").click()
    page.wait_for_load_state()
    alert = page.get_by_role("alert")
    assert "Velg minst én person saken gjelder." in alert.inner_text()
    assert page.get_by_label("Hva har skjedd?").input_value() == "Emil sier han ikke rekker arbeidsoppgavene."
    assert_accessible(page)

    page.get_by_label("Emil Ansatt, Hjemmetjenesten").check()
    page.get_by_role("button", name="Registrer saken").click()
    page.wait_for_url(re.compile(r".*/saker/\d+/$"))
    case = Case.objects.get()
    assert heading(page).startswith(case.number)
    open_details(page, "Hvorfor denne datoen?")
    assert "arbeidsdager" in page.locator(".why").first.inner_text()
    assert_accessible(page)

    open_form(page, "Dokumenter en samtale")
    assert_accessible(page)
    box = page.locator("#samtale")
    box.get_by_label("Emil Ansatt (berørt ansatt)").check()
    box.get_by_label("Referat fra samtalen").fill("Gikk gjennom oppgavene hans; for mange brukere.")
    submit(page, "samtale", "Lagre")
    assert "Samtalen er dokumentert." in page.locator("main").inner_text()

    open_form(page, "Dokumenter en vurdering")
    box = page.locator("#vurdering")
    box.get_by_label("Middels").check()
    box.locator("fieldset", has_text="Er det arbeidsrelatert?").get_by_label("Ja").check()
    box.get_by_label("Arbeidsmengde og tidspress").check()
    submit(page, "vurdering", "Lagre")
    assert "Vurderingen er dokumentert." in page.locator("main").inner_text()

    open_form(page, "Legg til et tiltak")
    # First without a due date: the form's page comes back with the error, accessible, input kept.
    box = page.locator("#tiltak")
    box.get_by_label("Hva er tiltaket?").fill("Omfordele to brukere til Ella")
    box.get_by_role("button", name="Legg til tiltaket").click()
    page.wait_for_load_state()
    assert "Sett en frist." in page.get_by_role("alert").inner_text()
    assert page.locator("#tiltak").get_by_label("Hva er tiltaket?").input_value() == "Omfordele to brukere til Ella"
    assert_accessible(page)
    box = page.locator("#tiltak")
    box.get_by_label("Hva er tiltaket?").fill("Omfordele to brukere til Ella")
    box.get_by_label("Organisatorisk / i jobben").check()
    box.get_by_label("Område").select_option("workload")
    box.get_by_label("Hvem eier tiltaket?").select_option(label="Marte Leder (leder)")
    box.get_by_label("Frist").fill((today + timedelta(days=14)).isoformat())
    submit(page, "tiltak", "Legg til tiltaket")
    assert "Tiltaket er lagt til." in page.locator("main").inner_text()
    assert_accessible(page)

    open_form(page, "Dokumenter en oppfølging")
    box = page.locator("#oppfolging")
    box.get_by_label("Hvilket tiltak følges opp?").select_option(label="Omfordele to brukere til Ella")
    box.get_by_label("Hvilken effekt har det hatt?").fill("Emil sier det er bedre.")
    submit(page, "oppfolging", "Lagre")

    measure = case.measures.get()
    page.locator(f"#measure-{measure.pk}").get_by_role("link", name="Endre status").click()
    page.wait_for_load_state()
    assert "Omfordele to brukere til Ella" in page.locator("main").inner_text()
    assert_accessible(page)
    row = page.locator(f"#m{measure.pk}")
    row.get_by_label("Ny status").select_option("done")
    row.get_by_role("button", name="Lagre").click()
    page.wait_for_load_state()
    assert "Tiltaket er oppdatert." in page.locator("main").inner_text()

    open_form(page, "Avslutt saken")
    page.locator("#avslutt").get_by_label("Sluttevaluering").fill("Arbeidsmengden er justert; Emil melder at det fungerer.")
    submit(page, "avslutt", "Avslutt saken")
    assert "Saken er avsluttet." in page.locator("main").inner_text()
    case.refresh_from_db()
    assert case.status == Status.CLOSED
    assert_accessible(page)


def _case_with_measure(world):
    case = services.open_case(
        world.user("marte"), kind=Kind.PSYCHOSOCIAL, concerns=[world.emil], factors=["workload"],
        description="Emil sier han ikke rekker arbeidsoppgavene.", source=Source.EMPLOYEE_TOLD,
        known_at=timezone.localdate(),
    )
    services.add_measure(world.user("marte"), case, what="Omfordele to brukere til Ella",
                         kind=MeasureKind.ORGANISATIONAL, owner=world.marte,
                         due=timezone.localdate() + timedelta(days=14))
    return case


def test_employee_answers_a_measure_and_comments(world, page):
    case = _case_with_measure(world)
    measure = case.measures.get()
    sign_in(page, world.user("emil"))
    page.get_by_role("navigation", name="Hovedmeny").get_by_role("link", name="Mine saker").click()
    page.wait_for_url("**/saker/mine/")
    assert_accessible(page)
    page.get_by_role("link", name=case.number).click()
    page.wait_for_url(f"**/saker/{case.pk}/")
    assert "Omfordele to brukere til Ella" in page.locator("main").inner_text()
    assert_accessible(page)

    # Without choosing: a message, announced, and nothing saved.
    answer = page.locator(f"#r{measure.pk}")
    answer.get_by_label("Kommentar (valgfritt)").fill("Ella har nok allerede.")
    answer.get_by_role("button", name="Send svaret").click()
    page.wait_for_load_state()
    assert "Si om du er enig i tiltaket." in page.get_by_role("alert").inner_text()
    assert_accessible(page)

    answer = page.locator(f"#r{measure.pk}")
    answer.get_by_label("Nei, jeg er ikke enig").check()
    answer.get_by_role("button", name="Send svaret").click()
    page.wait_for_load_state()
    assert "Svaret ditt er lagret." in page.locator("main").inner_text()

    page.get_by_label("Din kommentar").fill("Jeg trenger også færre kveldsvakter.")
    page.get_by_role("button", name="Send kommentaren").click()
    page.wait_for_load_state()
    main = page.locator("main").inner_text()
    assert "Kommentaren din er lagret." in main and "Jeg trenger også færre kveldsvakter." in main
    assert "Er ikke enig i tiltaket" in main
    assert_accessible(page)


def test_hr_handles_the_case_where_the_manager_is_accused(world, new_page):
    case = services.open_case(
        world.user("helga"), kind=Kind.HARASSMENT, concerns=[world.emil], parties=[(world.marte, "accused")],
        factors=["harassment"], description="Emil forteller om nedsettende kommentarer fra lederen.",
        source=Source.EMPLOYEE_TOLD, known_at=timezone.localdate(),
    )
    enrol_totp(world.user("hugo"))  # HR pages need a second factor enrolled
    hr = sign_in(new_page(), world.user("hugo"))
    hr.get_by_role("navigation", name="Hovedmeny").get_by_role("link", name="Saker", exact=True).click()
    hr.wait_for_url("**/saker/")
    listing = hr.locator("main").inner_text()
    assert case.number in listing and "Emil Ansatt" not in listing
    assert_accessible(hr)
    hr.get_by_role("link", name=case.number).click()
    hr.wait_for_url(f"**/saker/{case.pk}/")
    assert "Marte Leder er part i saken (anklaget)" in hr.locator("main").inner_text()
    assert_accessible(hr)

    manager = sign_in(new_page(), world.user("marte"))
    response = manager.goto(f"/saker/{case.pk}/")
    assert response.status == 404
    manager.goto("/saker/")
    assert case.number not in manager.locator("main").inner_text()


def test_case_page_has_no_horizontal_scroll_on_a_phone(world, new_page):
    case = _case_with_measure(world)
    page = new_page(viewport=PHONE, is_mobile=True, has_touch=True)
    sign_in(page, world.user("marte"))
    page.goto(f"/saker/{case.pk}/")
    assert not has_horizontal_scroll(page)
    assert_accessible(page)
