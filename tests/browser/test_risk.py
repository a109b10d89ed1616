"""The risk assessment pages in Chromium: a manager's whole round (start, a high risk, a measure,
who took part, a refused and then a successful completion) and an employee reading and commenting.
axe-core checks every page on the way, the forms open and with errors too. The first two in
English, the survey and the coverage page in Norwegian."""

import re
from datetime import timedelta

from django.utils import timezone

from tests.browser.conftest import assert_accessible, sign_in
from tidsnok.risk import services
from tidsnok.risk.models import Assessment, Status

ENGLISH = "en-GB"


def heading(page) -> str:
    return page.locator("h1").first.inner_text().strip()


def open_details(page, box_id):
    """Open a <details> form box by its id, if it is not open already (no script needed)."""
    box = page.locator(f"details#{box_id}")
    if box.get_attribute("open") is None:
        box.locator("summary").click()
    return box


def test_a_manager_starts_an_assessment_records_the_round_and_completes_it(world, new_page):
    page = new_page(locale=ENGLISH)
    today = timezone.localdate()
    sign_in(page, world.user("marte"))
    page.get_by_role("navigation", name="Main menu").get_by_role("link", name="Risk assessment").click()
    page.wait_for_url("**/risiko/")
    assert heading(page) == "Risk assessment"
    assert_accessible(page)

    page.get_by_role("link", name="Start a risk assessment").click()
    page.wait_for_url("**/risiko/ny/")
    assert_accessible(page)
    page.get_by_label("Title").fill("Kartlegging høst")
    page.get_by_label("Workshop with the employees").check()
    page.get_by_label("Started on").fill(today.isoformat())
    page.get_by_role("button", name="Start the assessment").click()
    page.wait_for_url(re.compile(r".*/risiko/\d+/$"))
    assessment = Assessment.objects.get()
    assert heading(page) == "Kartlegging høst"

    # The empty register opens its form; the draft page with every form open passes axe.
    for box_id in ("endre", "tiltak"):
        open_details(page, box_id)
    assert_accessible(page)

    risk_box = open_details(page, "risiko")
    risk_box.get_by_label("Factor").select_option("workload")
    risk_box.get_by_label("What may happen?").fill("Kveldsvaktene er for tynt bemannet.")
    risk_box.get_by_label("Likely", exact=True).check()
    risk_box.get_by_label("Serious").check()
    risk_box.get_by_role("button", name="Add the risk").click()
    page.get_by_text("The risk is added.").wait_for()
    row = page.locator("#risikoer tbody tr").first
    assert "High" in row.locator(".badge.status-late").inner_text()
    assert "No measure yet" in row.inner_text()
    # A risk is changed on a page of its own.
    row.get_by_role("link", name="Change risk 1").click()
    page.wait_for_url("**/risiko/risiko/*/")
    assert heading(page) == "Change the risk"
    assert_accessible(page)
    page.get_by_role("link", name="Cancel").click()
    page.wait_for_url(re.compile(r".*/risiko/\d+/#risiko-\d+$"))

    plan_box = open_details(page, "tiltak")
    plan_box.get_by_label("What is the measure?").fill("Én ekstra på kveldsvakt.")
    plan_box.get_by_label("Which risk does it answer?").select_option(
        label="1. Workload and time pressure: Kveldsvaktene er for tynt bemannet.")
    plan_box.get_by_label("Who owns the measure?").select_option(label="Ella Ansatt, Hjemmetjenesten")
    plan_box.get_by_label("Due date").fill((today + timedelta(days=30)).isoformat())
    plan_box.get_by_role("button", name="Add the measure").click()
    page.get_by_text("The measure is added.").wait_for()
    assert "Ella Ansatt" in page.locator("#tiltak-liste tbody").inner_text()
    page.locator("#tiltak-liste tbody").get_by_role("link", name=re.compile("^Change")).click()
    page.wait_for_url("**/risiko/tiltak/*/")
    assert heading(page) == "Change the measure"
    assert_accessible(page)
    page.get_by_role("link", name="Cancel").click()
    page.wait_for_url(re.compile(r".*/risiko/\d+/#tiltak-\d+$"))

    for person, role in (("Emil Ansatt, Hjemmetjenesten", "Employee"),
                         ("Siri Verneombud (Safety representative)", "Safety representative")):
        box = open_details(page, "deltaker")
        box.get_by_label("Who took part?").select_option(label=person)
        box.get_by_label("Took part as").select_option(label=role)
        box.get_by_role("button", name="Record").click()
        page.get_by_text("The participant is recorded.").wait_for()
    assert page.locator("#deltakere tbody tr").count() == 2

    # Without a conclusion it is refused, said at the top of the form and in the summary.
    complete = page.locator("#fullfor")
    complete.get_by_role("button", name="Complete the assessment").click()
    page.wait_for_load_state()
    assert "Write the conclusion of the assessment." in page.locator("#fullfor-errors").inner_text()
    assert "Nothing was saved" in page.get_by_role("alert").first.inner_text()
    assert_accessible(page)

    page.locator("#fullfor").get_by_label("Conclusion").fill("Bemanningen på kveld er hovedrisikoen.")
    page.locator("#fullfor").get_by_role("button", name="Complete the assessment").click()
    page.get_by_text("The assessment is completed.").first.wait_for()
    assessment.refresh_from_db()
    assert assessment.status == Status.COMPLETED
    assert "Bemanningen på kveld er hovedrisikoen." in page.locator("#om").inner_text()
    open_details(page, "gjennomgang")
    assert_accessible(page)


def test_an_employee_reads_her_units_assessment_and_comments(world, new_page):
    marte = world.user("marte")
    today = timezone.localdate()
    assessment = services.start_assessment(marte, world.units["HJ"], title="Kartlegging 2026", method="workshop",
                                           started_on=today)
    risk = services.add_risk(marte, assessment, factor_code="workload",
                             description="Kveldsvaktene er for tynt bemannet.", likelihood=3, consequence=3)
    services.add_action(marte, assessment, what="Én ekstra på kveldsvakt.", owner=world.ella,
                        due=today + timedelta(days=30), risk=risk)

    page = new_page(locale=ENGLISH)
    sign_in(page, world.user("emil"))
    page.get_by_role("navigation", name="Main menu").get_by_role("link", name="Risk assessment").click()
    page.get_by_role("link", name="Kartlegging 2026").click()
    page.wait_for_url(f"**/risiko/{assessment.pk}/")
    main = page.locator("main").inner_text()
    assert "Kveldsvaktene er for tynt bemannet." in main and "Én ekstra på kveldsvakt." in main
    assert page.locator("details.form-box").count() == 0  # nothing for her to change
    assert_accessible(page)

    page.get_by_label("Your comment").fill("Vi trenger bedre overlapp mellom vaktene.")
    page.get_by_role("button", name="Send comment").click()
    page.get_by_text("Your comment is saved.").wait_for()
    comments = page.locator("#kommentarer").inner_text()
    assert "Emil Ansatt" in comments and "employee" in comments
    assert "Vi trenger bedre overlapp mellom vaktene." in comments
    assert_accessible(page)


def test_a_survey_is_opened_answered_anonymously_and_the_coverage_shown(world, new_page):
    """In Norwegian, now that the room is translated: the manager opens a survey, Emil answers it
    from Min oversikt, and the sector manager reads which units are covered. axe on each page."""
    assessment = services.start_assessment(world.user("marte"), world.units["HJ"], title="Kartlegging med undersøkelse",
                                           method="both", started_on=timezone.localdate())
    page = new_page()
    sign_in(page, world.user("marte"))
    page.goto(f"/risiko/{assessment.pk}/")
    page.get_by_role("link", name="Åpne en undersøkelse").click()
    page.wait_for_url(f"**/risiko/undersokelse/ny/{assessment.pk}/")
    assert heading(page) == "Åpne en undersøkelse"
    assert_accessible(page)
    page.get_by_label("Færrest svar som vises").fill("2")
    page.get_by_role("button", name="Åpne undersøkelsen").click()
    page.locator(".error-summary").wait_for()  # below the least threshold: told why, nothing saved
    assert_accessible(page)
    page.get_by_label("Færrest svar som vises").fill("3")
    page.get_by_label("Stenger").fill((timezone.localdate() + timedelta(days=7)).isoformat())
    page.get_by_role("button", name="Åpne undersøkelsen").click()
    page.wait_for_url(f"**/risiko/{assessment.pk}/")
    assert "0 av 5 har svart" in page.locator("#survey").inner_text()

    emil = new_page()
    sign_in(emil, world.user("emil"))
    emil.get_by_role("link", name="Arbeidsmiljøet i Hjemmetjenesten").click()
    emil.wait_for_url("**/risiko/undersokelse/*/")
    assert_accessible(emil)
    emil.get_by_role("button", name="Send svarene mine").click()  # nothing chosen: every question says so
    emil.locator(".error-summary").wait_for()
    assert_accessible(emil)
    for fieldset in emil.locator("fieldset").all():
        fieldset.get_by_label("Mye", exact=True).check()
    emil.get_by_role("button", name="Send svarene mine").click()
    emil.get_by_text("Du har svart på denne undersøkelsen. Takk!").first.wait_for()
    assert_accessible(emil)

    helga = new_page()
    sign_in(helga, world.user("helga"))
    helga.goto("/risiko/dekning/")
    assert heading(helga) == "Risikovurderinger per enhet"
    assert "Aldri vurdert" in helga.locator("table").inner_text()
    assert_accessible(helga)
