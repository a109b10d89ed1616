"""The retention page in a real browser: the administrator sets a rule, is told why a too short
one is refused, and axe-core checks the page."""

from tests.browser.conftest import assert_accessible, sign_in
from tests.conftest import enrol_totp
from tidsnok.retention.models import RetentionRule


def test_the_administrator_sets_a_retention_rule_and_a_too_short_one_is_explained(world, page):
    enrol_totp(world.user("ada"))  # HR pages need a second factor enrolled
    sign_in(page, world.user("ada"))
    page.get_by_role("navigation", name="Hovedmeny").get_by_role("link", name="Oppbevaring").click()
    page.wait_for_url("**/oppbevaring/")
    assert_accessible(page)

    section = page.locator("section", has=page.get_by_role("heading", name="Avsluttede psykososiale saker"))
    section.get_by_label("Oppbevar i så mange måneder").fill("6")
    section.get_by_label("Begrens tilgangen").check()
    section.get_by_role("button", name="Lagre").click()
    section = page.locator("section", has=page.get_by_role("heading", name="Avsluttede psykososiale saker"))
    assert "minst 12 måneder" in section.get_by_role("alert").first.inner_text()
    assert not RetentionRule.objects.exists()
    assert_accessible(page)

    section.get_by_label("Oppbevar i så mange måneder").fill("60")
    section.get_by_role("button", name="Lagre").click()
    page.get_by_text("Regelen for oppbevaring er lagret.").wait_for()
    rule = RetentionRule.objects.get()
    assert (rule.data_class, rule.months, rule.mode) == ("psychosocial", 60, "restrict")
