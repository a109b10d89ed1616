"""Notifications, reminder settings and the compliance overview in a real browser,
checked by axe-core."""

from datetime import timedelta

from django.utils import timezone

from tests.browser.conftest import assert_accessible, sign_in
from tests.conftest import enrol_totp
from tests.notify.conftest import open_case, sweep_at


def reminded(world):
    """A case whose first conversation is overdue, swept on the days that matter."""
    known = timezone.localdate() - timedelta(days=30)
    case = open_case(world, known_at=known)
    due = case.deadlines.get(rule_id="psychosocial.first_conversation").due
    for day in (due - timedelta(days=3), due, due + timedelta(days=1), timezone.localdate()):
        sweep_at(day)
    return case


def test_the_bell_and_the_notifications_page(world, page):
    case = reminded(world)
    sign_in(page, world.user("marte"))
    bell = page.get_by_role("link", name="Meldinger")
    count = int(page.locator(".bell-count").inner_text())
    assert count >= 3
    assert_accessible(page)
    bell.click()
    page.wait_for_url("**/meldinger/")
    assert page.locator("h1").inner_text() == "Meldinger"
    assert case.number in page.locator("main").inner_text()
    assert_accessible(page)
    page.get_by_role("button", name="Marker som lest").first.click()
    page.wait_for_url("**/meldinger/**")
    assert int(page.locator(".bell-count").inner_text()) == count - 1
    page.get_by_role("button", name="Marker alle som lest").click()
    page.wait_for_url("**/meldinger/**")
    assert page.locator(".bell-count").count() == 0
    assert_accessible(page)


def test_reminder_settings_and_the_calendar_address(world, page):
    reminded(world)
    sign_in(page, world.user("marte"))
    page.goto("/meldinger/innstillinger/")
    assert_accessible(page)
    page.get_by_label("Bare den daglige oversikten").check()
    page.get_by_role("button", name="Lagre").click()
    page.wait_for_url("**/meldinger/innstillinger/")
    assert page.get_by_label("Bare den daglige oversikten").is_checked()
    page.get_by_role("button", name="Lag en kalenderadresse").click()
    page.wait_for_url("**/meldinger/innstillinger/")
    address = page.locator(".feed-url").inner_text()
    assert address.endswith(".ics")
    assert_accessible(page)
    response = page.request.get(address)
    assert response.ok and b"BEGIN:VCALENDAR" in response.body()
    page.goto("/meldinger/frister/")
    assert_accessible(page)


def test_the_compliance_overview_for_hr(world, page):
    reminded(world)
    open_case(world, actor="kim", known_at=timezone.localdate() - timedelta(days=20), concerns=[world.kari])
    enrol_totp(world.user("hanne"))  # HR pages need a second factor enrolled
    sign_in(page, world.user("hanne"))
    page.get_by_role("navigation", name="Hovedmeny").get_by_role("link", name="Etterlevelse").click()
    page.wait_for_url("**/etterlevelse/")
    assert page.locator("svg.compliance-chart").count() == 1
    assert_accessible(page)
    page.get_by_role("table").get_by_role("link", name="Helse", exact=True).click()
    page.wait_for_url("**/etterlevelse/?unit=*")
    assert_accessible(page)
    page.get_by_role("link", name="Hjemmetjenesten").click()
    page.wait_for_url("**/etterlevelse/enhet/**")
    assert_accessible(page)
    page.goto("/meldinger/paminnelsesregler/")
    assert_accessible(page)


def test_the_compliance_overview_in_english_on_a_phone(world, new_page):
    from tests.browser.conftest import PHONE, has_horizontal_scroll

    reminded(world)
    page = new_page(locale="en-US", viewport=PHONE)
    sign_in(page, world.user("helga"))
    page.goto("/etterlevelse/")
    assert page.locator("h1").inner_text() == "Compliance"
    assert not has_horizontal_scroll(page)
    assert_accessible(page)
