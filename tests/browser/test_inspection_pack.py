"""The inspection page in Chromium: HR finds it in the menu, gets a clear error for a
period that ends before it starts, and downloads the pack. axe checks the page,
with the error too, and on a phone."""

import io
import zipfile
from datetime import timedelta

from django.utils import timezone

from tests.browser.conftest import PHONE, assert_accessible, has_horizontal_scroll, sign_in
from tests.conftest import enrol_totp
from tests.notify.conftest import open_case
from tidsnok.audit.models import AuditEvent
from tidsnok.reports.inspection import PACK_ACTION


def test_hr_downloads_the_inspection_pack(world, page):
    today = timezone.localdate()
    case = open_case(world, known_at=today - timedelta(days=20))
    enrol_totp(world.user("hanne"))  # HR pages need a second factor enrolled
    sign_in(page, world.user("hanne"))
    page.get_by_role("navigation", name="Hovedmeny").get_by_role("link", name="Tilsyn").click()
    page.wait_for_url("**/rapporter/tilsyn/")
    assert page.locator("h1").inner_text() == "Tilsynspakke"
    assert_accessible(page)

    page.get_by_label("Fra", exact=True).fill(today.isoformat())
    page.get_by_label("Til", exact=True).fill((today - timedelta(days=30)).isoformat())
    page.get_by_role("button", name="Last ned tilsynspakken (ZIP)").click()
    page.wait_for_load_state()
    summary = page.get_by_role("alert").first
    assert "Tilsynspakken ble ikke laget" in summary.inner_text()
    assert "Perioden må begynne før den slutter." in summary.inner_text()
    assert page.get_by_label("Fra", exact=True).input_value() == today.isoformat()  # the input is kept
    assert_accessible(page)
    assert not AuditEvent.objects.filter(action=PACK_ACTION).exists()

    page.get_by_label("Fra", exact=True).fill((today - timedelta(days=60)).isoformat())
    page.get_by_label("Til", exact=True).fill(today.isoformat())
    with page.expect_download() as waiting:
        page.get_by_role("button", name="Last ned tilsynspakken (ZIP)").click()
    download = waiting.value
    assert download.suggested_filename == f"tilsynspakke-{today:%Y-%m-%d}.zip"
    with zipfile.ZipFile(io.BytesIO(open(download.path(), "rb").read())) as archive:
        assert "saker.csv" in archive.namelist()
        assert case.number in archive.read("saker.csv").decode("utf-8-sig")
    assert AuditEvent.objects.filter(action=PACK_ACTION).count() == 1


def test_the_inspection_page_on_a_phone(world, new_page):
    page = new_page(viewport=PHONE)
    enrol_totp(world.user("hanne"))  # HR pages need a second factor enrolled
    sign_in(page, world.user("hanne"))
    page.goto("/rapporter/tilsyn/")
    assert not has_horizontal_scroll(page)
    assert_accessible(page)


def test_amu_reads_the_yearly_report_on_a_phone(world, new_page):
    open_case(world, known_at=timezone.localdate() - timedelta(days=20))
    page = new_page(viewport=PHONE)
    sign_in(page, world.user("ask"))
    page.get_by_role("navigation", name="Hovedmeny").get_by_role("link", name="Årsrapport").click()
    page.wait_for_url("**/rapporter/arsrapport/")
    assert page.locator("h1").inner_text() == f"Arbeidsmiljøet i {timezone.localdate().year}"
    assert not has_horizontal_scroll(page)
    assert_accessible(page)
