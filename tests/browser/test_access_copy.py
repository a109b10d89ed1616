"""The access copy in Chromium: HR follows the menu link, finds Emil by name, sees
what his copy will hold and downloads it; an employee asks for her copy. axe
checks the search page (with its results), the person's page and the page where
the employee asks."""

from datetime import timedelta

from django.utils import timezone

from tests.browser.conftest import assert_accessible, sign_in
from tests.conftest import enrol_totp
from tidsnok.audit.models import AuditEvent
from tidsnok.cases import services
from tidsnok.cases.models import Kind, Source
from tidsnok.reports.access_copy import EXPORT_ACTION
from tidsnok.reports.access_copy_requests import request_access_copy
from tidsnok.reports.models import AccessRequest


def test_hr_finds_the_employee_and_downloads_his_access_copy(world, page):
    services.open_case(
        world.user("marte"), kind=Kind.PSYCHOSOCIAL, concerns=[world.emil], factors=["workload"],
        description="Emil sier han ikke rekker arbeidsoppgavene.", source=Source.EMPLOYEE_TOLD,
        known_at=timezone.localdate() - timedelta(days=1),
    )
    asked, _created = request_access_copy(world.user("emil"))
    enrol_totp(world.user("hanne"))  # HR pages need a second factor enrolled
    sign_in(page, world.user("hanne"))

    page.get_by_role("navigation", name="Hovedmeny").get_by_role("link", name="Innsynskopi").click()
    page.wait_for_url("**/rapporter/innsyn/")
    assert page.get_by_role("table", name="Åpne krav om innsyn, det mest hastende først").get_by_role(
        "link", name="Emil Ansatt").is_visible()
    assert_accessible(page)

    page.get_by_label("Navn eller ansattnummer").fill("Emil")
    page.get_by_role("button", name="Vis personer").click()
    page.wait_for_url("**/rapporter/innsyn/?sok=Emil")
    assert_accessible(page)

    page.get_by_role("region", name="Personer funnet").get_by_role("link", name="Emil Ansatt").click()
    page.wait_for_url(f"**/rapporter/innsyn/{world.emil.pk}/")
    assert page.locator("h1").inner_text() == "Innsynskopi: Emil Ansatt"
    assert page.locator("[data-count=cases]").inner_text() == "1"
    assert page.get_by_role("checkbox", name="Kopien besvarer kravet").is_checked()
    assert_accessible(page)

    with page.expect_download() as download_info:
        page.get_by_role("button", name="Last ned innsynskopi (PDF)").click()
    download = download_info.value
    assert download.suggested_filename == f"innsynskopi-T004-{timezone.localdate().isoformat()}.pdf"
    with open(download.path(), "rb") as pdf:
        assert pdf.read(5) == b"%PDF-"
    assert AuditEvent.objects.filter(action=EXPORT_ACTION, actor=world.user("hanne")).count() == 1
    asked.refresh_from_db()
    assert asked.delivered_by == world.user("hanne")


def test_an_employee_asks_for_her_copy(world, page):
    sign_in(page, world.user("emil"))
    page.get_by_role("main").get_by_role("link", name="Se hva tidsnok har lagret om deg: be om en innsynskopi").click()
    page.wait_for_url("**/rapporter/innsyn/be-om/")
    assert_accessible(page)
    page.get_by_role("button", name="Be om innsynskopi").click()
    page.wait_for_load_state()
    assert "Kravet ditt er mottatt." in page.locator("main").inner_text()
    assert "Ikke ennå" in page.locator("main").inner_text()
    assert_accessible(page)
    assert AccessRequest.objects.filter(person=world.emil, delivered_at__isnull=True).count() == 1
