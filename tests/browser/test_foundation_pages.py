"""The foundation's pages in a real browser: log in as each kind of user, switch
language, and let axe-core check every page for accessibility problems."""

from tests.browser.conftest import PHONE, assert_accessible, has_horizontal_scroll, log_in, sign_in
from tests.conftest import PASSWORD, enrol_totp


def heading(page) -> str:
    return page.locator("h1").first.inner_text().strip()


def test_login_page_is_accessible_and_norwegian_by_default(world, page):
    page.goto("/accounts/login/")
    assert page.locator("html").get_attribute("lang") == "nb"
    assert heading(page) == "Logg inn"
    assert_accessible(page)


def test_browser_preferring_english_gets_english(world, new_page):
    page = new_page(locale="en-US")
    page.goto("/accounts/login/")
    assert page.locator("html").get_attribute("lang") == "en"
    assert heading(page) == "Sign In"
    assert_accessible(page)
    log_in(page, world.user("emil"))
    assert heading(page) == "My overview"


def test_manager_logs_in_and_sees_her_people(world, page):
    log_in(page, world.user("marte"))
    assert heading(page) == "Min oversikt"
    main = page.locator("main")
    assert "Emil Ansatt" in main.inner_text() and "Ella Ansatt" in main.inner_text()
    assert "Stine Ansatt" not in main.inner_text()  # the sibling unit
    assert_accessible(page)


def test_employee_logs_in_and_sees_only_herself(world, page):
    log_in(page, world.user("emil"))
    assert heading(page) == "Min oversikt"
    main = page.locator("main").inner_text()
    assert "Emil Ansatt" in main and "Ella Ansatt" not in main
    nav = page.get_by_role("navigation", name="Hovedmeny")
    assert nav.get_by_role("link", name="Importer organisasjon").count() == 0
    assert_accessible(page)


def test_hr_logs_in_with_authenticator_code(world, page):
    secret = enrol_totp(world.user("hanne"))
    log_in(page, world.user("hanne"), secret)
    assert heading(page) == "Min oversikt"
    assert "Hanne HR" in page.locator("main").inner_text()
    assert_accessible(page)


def test_authenticator_step_is_accessible(world, page):
    enrol_totp(world.user("hanne"))
    log_in(page, world.user("hanne"), expect_path="/accounts/2fa/authenticate/")
    assert page.locator("input[name=code]").is_visible()
    assert_accessible(page)


def test_admin_logs_in_with_authenticator_code_and_sees_admin_menu(world, page):
    secret = enrol_totp(world.user("ada"))
    log_in(page, world.user("ada"), secret)
    assert heading(page) == "Min oversikt"
    nav = page.get_by_role("navigation", name="Hovedmeny")
    assert nav.get_by_role("link", name="Importer organisasjon").is_visible()
    assert nav.get_by_role("link", name="Revisjonslogg").is_visible()
    assert_accessible(page)


def test_language_button_switches_norwegian_to_english_and_back(world, page):
    log_in(page, world.user("marte"))
    assert heading(page) == "Min oversikt"
    assert page.locator("html").get_attribute("lang") == "nb"

    page.get_by_role("button", name="English").click()
    page.wait_for_function("document.documentElement.lang === 'en'")
    assert heading(page) == "My overview"
    assert page.get_by_role("button", name="Log out").is_visible()
    assert_accessible(page)

    page.get_by_role("button", name="Norsk").click()
    page.wait_for_function("document.documentElement.lang === 'nb'")
    assert heading(page) == "Min oversikt"
    assert page.get_by_role("button", name="Logg ut").is_visible()


def test_language_button_works_before_logging_in(world, page):
    page.goto("/accounts/login/")
    page.get_by_role("button", name="English").click()
    page.wait_for_function("document.documentElement.lang === 'en'")
    assert heading(page) == "Sign In"
    assert page.url.endswith("/accounts/login/")


def test_security_page_is_accessible(world, page):
    log_in(page, world.user("emil"))
    page.get_by_role("link", name="Sikkerhet").click()
    page.wait_for_url("**/accounts/2fa/")
    assert_accessible(page)


def reauthenticate(page):
    """allauth asks for the password again before a second factor is added,
    even right after logging in."""
    page.wait_for_url("**/accounts/reauthenticate/**")
    assert_accessible(page)
    page.fill("input[name=password]", PASSWORD)
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_url("**/accounts/2fa/totp/activate/**")


def test_totp_activation_page_is_accessible(world, page):
    log_in(page, world.user("emil"))
    page.goto("/accounts/2fa/totp/activate/")
    reauthenticate(page)
    assert page.locator("input[name=code]").is_visible()
    assert_accessible(page)


def test_hr_without_second_factor_must_activate_one_on_an_accessible_page(world, page):
    log_in(page, world.user("hanne"), expect_path=None)
    reauthenticate(page)
    assert page.locator("input[name=code]").is_visible()
    assert_accessible(page)
    page.goto("/")  # nothing else is reachable before a second factor exists
    page.wait_for_url("**/accounts/**")
    assert "/accounts/" in page.url


def _admin(world, page):
    """Ada with her second factor enrolled, logged in without the form: the form and the
    authenticator step are the subject of the tests above."""
    enrol_totp(world.user("ada"))
    return sign_in(page, world.user("ada"))


def test_organisation_import_page_is_accessible(world, page):
    _admin(world, page)
    page.get_by_role("navigation", name="Hovedmeny").get_by_role("link", name="Importer organisasjon").click()
    page.wait_for_url("**/org/import/")
    assert page.locator("input[type=file]").count() >= 1
    assert_accessible(page)


def test_audit_log_page_is_accessible(world, page):
    _admin(world, page)
    page.get_by_role("navigation", name="Hovedmeny").get_by_role("link", name="Revisjonslogg").click()
    page.wait_for_url("**/audit/")
    assert_accessible(page)


def test_min_oversikt_has_no_horizontal_scroll_on_a_phone(world, new_page):
    for name in ("marte", "emil"):
        page = new_page(viewport=PHONE, is_mobile=True, has_touch=True)
        log_in(page, world.user(name))
        assert heading(page) == "Min oversikt"
        assert not has_horizontal_scroll(page), f"{name}: the page scrolls sideways at 390 px"
        assert_accessible(page)


def test_login_page_has_no_horizontal_scroll_on_a_phone(world, new_page):
    page = new_page(viewport=PHONE, is_mobile=True, has_touch=True)
    page.goto("/accounts/login/")
    assert not has_horizontal_scroll(page)


def test_a_link_that_leads_nowhere_gives_an_accessible_norwegian_page(world, page):
    log_in(page, world.user("marte"))
    response = page.goto("/saker/999999/")
    assert response.status == 404
    assert heading(page) == "Fant ikke siden"
    page.get_by_role("link", name="Gå til Min oversikt").click()
    page.wait_for_url("**/")
    assert heading(page) == "Min oversikt"
    page.go_back()
    assert_accessible(page)
