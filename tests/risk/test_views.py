"""The risk assessment pages: who reads and who changes a unit's assessment in the browser, the
forms of its register, action plan and ledger, completing it, and what Min oversikt shows of it.

The Norwegian texts of this room are filled in later: the pages are read in English here
(Accept-Language: en), except where Django's own Norwegian is what is asserted.
"""

import re
from datetime import timedelta

from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tidsnok.cases.models import MeasureStatus
from tidsnok.risk import rules, services
from tidsnok.risk.models import Action, Assessment, Comment, Participant, Risk, Status

from tests.conftest import enrol_totp

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


def today():
    return timezone.localdate()


def get(client, url):
    return client.get(url, **EN)


def post(client, url, data):
    return client.post(url, data, **EN)


def text(response) -> str:
    return response.content.decode()


def started(world, who="marte", unit="HJ", title="Kartlegging 2026"):
    return services.start_assessment(world.user(who), world.units[unit], title=title, method="workshop",
                                     started_on=today())


def with_high_risk(world, assessment):
    return services.add_risk(world.user("marte"), assessment, factor_code="workload",
                             description="Kveldsvaktene er for tynt bemannet", likelihood=3, consequence=3)


def ready_to_complete(world, assessment):
    marte = world.user("marte")
    risk = with_high_risk(world, assessment)
    services.add_action(marte, assessment, what="Én ekstra på kveldsvakt", owner=world.ella,
                        due=today() + timedelta(days=30), risk=risk)
    services.add_participant(marte, assessment, person=world.emil, role="employee", took_part_on=today())
    assessment.refresh_from_db()
    return assessment


def completed(world, assessment, **kwargs):
    assessment = ready_to_complete(world, assessment)
    return services.complete(world.user("marte"), assessment, assessment.version,
                             summary="Bemanningen er hovedrisikoen.", **kwargs)


def version_on_page(body: str, key: str) -> str:
    return re.search(rf'name="{key}-version" value="(\d+)"', body).group(1)


# --- the list -----------------------------------------------------------------------------------


def test_the_list_shows_what_the_user_may_read_with_its_counts_and_a_start_button_for_managers(world, client):
    ours = started(world)
    risk = with_high_risk(world, ours)
    services.add_risk(world.user("marte"), ours, factor_code="", description="Lite støtte", likelihood=1,
                      consequence=1)
    services.add_action(world.user("marte"), ours, what="Ny turnus", owner=world.ella,
                        due=today() + timedelta(days=10), risk=risk)
    done = services.add_action(world.user("marte"), ours, what="Kurs", owner=world.ella,
                               due=today() + timedelta(days=10), risk=risk)
    services.update_action(world.user("marte"), done, done.version, status=MeasureStatus.DONE)
    theirs = started(world, "kim", "SK", title="Skolens kartlegging")

    client.force_login(world.user("marte"))
    body = text(get(client, "/risiko/"))
    assert f'href="/risiko/{ours.pk}/"' in body and "Kartlegging 2026" in body
    assert "Skolens kartlegging" not in body and f'href="/risiko/{theirs.pk}/"' not in body
    row = re.search(r'<tr>\s*<td>Hjemmetjenesten</td>.*?</tr>', body, re.S).group(0)
    # Two risks, and one measure still open (the other is done), whatever the join multiplies.
    assert re.findall(r"<td>(\d+)</td>", row) == ["2", "1"]
    assert 'href="/risiko/ny/"' in body

    client.force_login(world.user("emil"))
    body = text(get(client, "/risiko/"))
    assert "Kartlegging 2026" in body
    assert 'href="/risiko/ny/"' not in body


def test_the_list_filters_by_status_and_marks_an_overdue_review(world, client, time_machine):
    draft = started(world, title="Ny runde")
    done = completed(world, started(world, title="Forrige runde"), review_due=today() + timedelta(days=10))
    time_machine.move_to(timezone.now() + timedelta(days=11))
    client.force_login(world.user("marte"))
    body = text(get(client, "/risiko/?status=completed"))
    assert "Forrige runde" in body and "Ny runde" not in body
    assert done.review_due.strftime("%d.%m.%Y") in body and "Overdue" in body
    assert "<td>Completed</td>" in body and "<td>In progress</td>" not in body
    body = text(get(client, "/risiko/?status=draft"))
    assert "Ny runde" in body and "Forrige runde" not in body
    assert "<td>In progress</td>" in body and "<td>Completed</td>" not in body
    assert draft.title in text(get(client, "/risiko/?status=nonsense"))


def _many_assessments(world, n):
    """n assessments of Hjemmetjenesten, each with a risk and an open measure, in a few queries."""
    assessments = Assessment.objects.bulk_create([
        Assessment(organisation=world.org, unit=world.units["HJ"], title=f"Runde {i}", method="workshop",
                   started_on=today() - timedelta(days=i), status=Status.COMPLETED if i % 2 else Status.DRAFT,
                   completed_on=today() if i % 2 else None,
                   review_due=today() + timedelta(days=i) if i % 2 else None)
        for i in range(n)
    ])
    risks = Risk.objects.bulk_create([Risk(assessment=a, description="x", likelihood=2, consequence=2)
                                      for a in assessments])
    Action.objects.bulk_create([Action(assessment=r.assessment, risk=r, what="y", owner=world.ella,
                                       due=today()) for r in risks])


def test_the_list_costs_the_same_queries_for_3_assessments_as_for_60(world, client, django_assert_max_num_queries):
    client.force_login(world.user("marte"))
    _many_assessments(world, 3)
    get(client, "/risiko/")  # the session and the language are settled by the first request
    with CaptureQueriesContext(connection) as few:
        assert get(client, "/risiko/").status_code == 200
    _many_assessments(world, 57)
    with django_assert_max_num_queries(len(few)):
        first = get(client, "/risiko/")
    with django_assert_max_num_queries(len(few)):
        second = get(client, "/risiko/?side=2")
    assert text(first).count('href="/risiko/') - text(second).count('href="/risiko/') == 50 - 10
    assert "Risk assessments 1–50 of 60, newest first" in text(first)
    assert "Risk assessments 51–60 of 60, newest first" in text(second)


# --- starting one -------------------------------------------------------------------------------


def test_a_manager_starts_an_assessment_with_a_norwegian_date_and_lands_on_it(world, client):
    client.force_login(world.user("marte"))
    form = get(client, "/risiko/ny/")
    assert form.status_code == 200
    assert f'<option value="{world.units["HJ"].pk}" selected>Hjemmetjenesten</option>' in text(form)
    response = post(client, "/risiko/ny/", {
        "unit": world.units["HJ"].pk, "title": "Kartlegging høst", "method": "workshop",
        "started_on": today().strftime("%d.%m.%Y"),
    })
    assessment = Assessment.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/risiko/{assessment.pk}/"
    assert (assessment.title, assessment.unit, assessment.started_on) == (
        "Kartlegging høst", world.units["HJ"], today())
    assert "The risk assessment is started." in text(client.get(response["Location"], **EN))


def test_bad_dates_get_a_norwegian_error(world, client):
    client.force_login(world.user("marte"))
    response = client.post("/risiko/ny/", {"unit": world.units["HJ"].pk, "title": "Høst", "method": "workshop",
                                           "started_on": "31.02.2026"})
    assert response.status_code == 400
    assert "Oppgi en gyldig dato." in text(response)
    assert 'value="Høst"' in text(response)  # what she wrote is kept
    assert not Assessment.objects.exists()


def test_the_service_says_what_is_missing_per_field(world, client):
    client.force_login(world.user("marte"))
    future = (today() + timedelta(days=3)).strftime("%d.%m.%Y")
    response = post(client, "/risiko/ny/", {"unit": world.units["HJ"].pk, "title": "", "started_on": future})
    body = text(response)
    assert response.status_code == 400
    assert "Nothing was saved" in body
    assert 'href="#id_title"' in body and 'href="#id_method_0"' in body and 'href="#id_started_on"' in body
    assert "The date cannot be in the future." in body


def test_an_employee_cannot_start_one_and_a_manager_not_for_another_unit(world, client):
    client.force_login(world.user("emil"))
    assert get(client, "/risiko/ny/").status_code == 404
    assert post(client, "/risiko/ny/", {"unit": world.units["HJ"].pk, "title": "x", "method": "workshop",
                                        "started_on": today().isoformat()}).status_code == 404
    client.force_login(world.user("kim"))
    response = post(client, "/risiko/ny/", {"unit": world.units["HJ"].pk, "title": "x", "method": "workshop",
                                            "started_on": today().isoformat()})
    assert response.status_code == 400 and "Choose the unit the assessment is for." in text(response)
    assert not Assessment.objects.exists()


def test_the_sector_manager_chooses_among_her_units_and_the_next_round_is_preselected(world, client):
    client.force_login(world.user("helga"))
    body = text(get(client, f"/risiko/ny/?enhet={world.units['SY'].pk}"))
    options = re.findall(r'<option value="(\d+)"( selected)?>', body)
    assert [int(pk) for pk, _ in options] == [world.units[c].pk for c in ("HEL", "HJ", "SY")]
    assert [int(pk) for pk, sel in options if sel] == [world.units["SY"].pk]


# --- reading ------------------------------------------------------------------------------------


def test_an_employee_reads_her_units_assessment_but_cannot_change_it(world, client):
    assessment = ready_to_complete(world, started(world))
    client.force_login(world.user("emil"))
    body = text(get(client, f"/risiko/{assessment.pk}/"))
    assert "Kveldsvaktene er for tynt bemannet" in body and "Én ekstra på kveldsvakt" in body
    assert "Emil Ansatt" in body and "Workload and time pressure" in body
    for action in ("risiko/ny", "tiltak/ny", "deltaker/ny", "fullfor", "endre"):
        assert f'/risiko/{assessment.pk}/{action}/' not in body, action
    assert f'action="/risiko/{assessment.pk}/kommentar/"' in body
    version = assessment.version
    assert post(client, f"/risiko/{assessment.pk}/risiko/ny/", {
        "risiko-factor": "other", "risiko-description": "x", "risiko-likelihood": "1", "risiko-consequence": "1",
    }).status_code == 404
    assert post(client, f"/risiko/{assessment.pk}/fullfor/", {"fullfor-summary": "x",
                                                              "fullfor-version": version}).status_code == 404
    assert get(client, f"/risiko/risiko/{assessment.risks.get().pk}/").status_code == 404
    assert get(client, f"/risiko/tiltak/{assessment.actions.get().pk}/").status_code == 404
    assert assessment.risks.count() == 1
    assert Assessment.objects.get(pk=assessment.pk).status == Status.DRAFT


def test_a_manager_of_another_unit_gets_404(world, client):
    assessment = ready_to_complete(world, started(world))
    risk, action = assessment.risks.get(), assessment.actions.get()
    participant = assessment.participants.get()
    for key in ("kim", "sander", "stine"):
        client.force_login(world.user(key))
        assert get(client, f"/risiko/{assessment.pk}/").status_code == 404, key
        assert post(client, f"/risiko/{assessment.pk}/kommentar/", {"kommentar-text": "Hei"}).status_code == 404
        assert post(client, f"/risiko/{assessment.pk}/endre/", {"endre-title": "x"}).status_code == 404
        assert post(client, f"/risiko/risiko/{risk.pk}/fjern/", {}).status_code == 404
        assert post(client, f"/risiko/deltaker/{participant.pk}/fjern/", {}).status_code == 404
        assert get(client, f"/risiko/tiltak/{action.pk}/").status_code == 404
    assert not Comment.objects.exists() and Risk.objects.count() == 1 and Participant.objects.count() == 1
    client.force_login(world.user("marte"))
    assert get(client, "/risiko/999999/").status_code == 404
    assert get(client, "/risiko/risiko/999999/").status_code == 404


def test_the_safety_rep_and_amu_comment_in_their_capacity_and_the_page_shows_it(world, client):
    assessment = started(world)
    client.force_login(world.user("siri"))
    response = post(client, f"/risiko/{assessment.pk}/kommentar/",
                    {"kommentar-text": "Verneombudet støtter dette."})
    comment = Comment.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/risiko/{assessment.pk}/#kommentar-{comment.pk}"
    client.force_login(world.user("ask"))
    post(client, f"/risiko/{assessment.pk}/kommentar/", {"kommentar-text": "AMU følger opp."})
    body = text(get(client, f"/risiko/{assessment.pk}/"))
    assert re.search(r"<strong>Siri Verneombud</strong>, safety representative, \d\d\.\d\d\.\d{4}", body)
    assert "<strong>Ask AMU</strong>, amu member" in body
    assert "Verneombudet støtter dette." in body
    empty = post(client, f"/risiko/{assessment.pk}/kommentar/", {"kommentar-text": "  "})
    assert empty.status_code == 400 and "This field is required." in text(empty)
    assert Comment.objects.count() == 2


def test_hr_in_scope_changes_it_and_hr_outside_its_scope_gets_404(world, client):
    ours = started(world)
    school = started(world, "kim", "SK")
    enrol_totp(world.user("hugo"))
    client.force_login(world.user("hugo"))
    body = text(get(client, f"/risiko/{ours.pk}/"))
    assert f'action="/risiko/{ours.pk}/risiko/ny/"' in body
    assert get(client, f"/risiko/{school.pk}/").status_code == 404


# --- the register -------------------------------------------------------------------------------


def test_a_risk_shows_its_factor_and_its_level_as_text_beside_the_colour(world, client):
    assessment = started(world)
    client.force_login(world.user("marte"))
    response = post(client, f"/risiko/{assessment.pk}/risiko/ny/", {
        "risiko-factor": "workload", "risiko-description": "Kveldsvaktene er for tynt bemannet",
        "risiko-likelihood": "3", "risiko-consequence": "3", "risiko-current_measures": "Innleie ved sykdom",
    })
    assert response.status_code == 302 and response["Location"] == f"/risiko/{assessment.pk}/#risikoer"
    risk = Risk.objects.get()
    assert (risk.factor.code, risk.likelihood, risk.consequence) == ("workload", 3, 3)
    body = text(get(client, f"/risiko/{assessment.pk}/"))
    row = re.search(rf'<tr id="risiko-{risk.pk}">.*?</tr>', body, re.S).group(0)
    assert "Workload and time pressure" in row and "Likely (3)" in row and "Serious (3)" in row
    assert '<span class="badge status-late">High</span>' in row
    assert "No measure yet" in row  # high, and nothing in the plan for it
    assert "Innleie ved sykdom" in row


def test_bad_risk_input_comes_back_with_errors_per_field_and_the_input_kept(world, client):
    assessment = started(world)
    client.force_login(world.user("marte"))
    response = post(client, f"/risiko/{assessment.pk}/risiko/ny/", {
        "risiko-factor": "other", "risiko-description": "", "risiko-current_measures": "Ukentlige møter",
    })
    body = text(response)
    assert response.status_code == 400
    assert "Choose how likely it is." in body and "Choose how bad it would be." in body
    assert 'href="#id_risiko-description"' in body
    assert "Ukentlige møter" in body
    assert re.search(r'<details class="form-box" id="risiko" open>', body)
    no_factor = post(client, f"/risiko/{assessment.pk}/risiko/ny/", {"risiko-description": "x"})
    assert no_factor.status_code == 400 and "Choose the factor, or Other." in text(no_factor)
    assert not Risk.objects.exists()


def test_a_risk_is_changed_and_removed_while_in_draft_and_not_after(world, client):
    assessment = started(world)
    risk = with_high_risk(world, assessment)
    client.force_login(world.user("marte"))
    page = get(client, f"/risiko/risiko/{risk.pk}/")
    assert page.status_code == 200 and version_on_page(text(page), f"r{risk.pk}") == str(risk.version)
    response = post(client, f"/risiko/risiko/{risk.pk}/", {
        f"r{risk.pk}-factor": "other", f"r{risk.pk}-description": "Mye alenearbeid", f"r{risk.pk}-likelihood": "2",
        f"r{risk.pk}-consequence": "2", f"r{risk.pk}-version": risk.version,
    })
    assert response.status_code == 302 and response["Location"] == f"/risiko/{assessment.pk}/#risiko-{risk.pk}"
    risk.refresh_from_db()
    assert (risk.factor, risk.description, risk.likelihood) == (None, "Mye alenearbeid", 2)
    assert "Other" in text(get(client, f"/risiko/{assessment.pk}/"))

    response = post(client, f"/risiko/risiko/{risk.pk}/fjern/", {})
    assert response.status_code == 302 and not Risk.objects.exists()

    done = completed(world, started(world, title="Ferdig"))
    kept = done.risks.get()
    assert get(client, f"/risiko/risiko/{kept.pk}/").status_code == 302
    post(client, f"/risiko/risiko/{kept.pk}/fjern/", {})
    assert Risk.objects.filter(pk=kept.pk).exists()
    body = text(get(client, f"/risiko/{done.pk}/"))
    assert "The assessment is completed. Start a new one for the next round." in body
    assert f'/risiko/risiko/{kept.pk}/fjern/' not in body


def test_a_stale_risk_change_keeps_her_input_and_says_why(world, client):
    assessment = started(world)
    risk = with_high_risk(world, assessment)
    seen = risk.version
    services.update_risk(world.user("dina"), risk, seen, factor_code="workload", description="Dinas tekst",
                         likelihood=4, consequence=4)
    client.force_login(world.user("marte"))
    key = f"r{risk.pk}"
    response = post(client, f"/risiko/risiko/{risk.pk}/", {
        f"{key}-factor": "workload", f"{key}-description": "Martes tekst", f"{key}-likelihood": "1",
        f"{key}-consequence": "1", f"{key}-version": seen,
    })
    body = text(response)
    assert response.status_code == 409
    assert "Someone else changed this meanwhile." in body
    assert "Martes tekst" in body and "Dinas tekst" in body  # hers in the form, Dina's beside it
    assert version_on_page(body, key) == str(seen + 1)
    risk.refresh_from_db()
    assert risk.description == "Dinas tekst"


# --- the action plan ----------------------------------------------------------------------------


def test_a_manager_adds_a_measure_for_a_risk_and_its_owner_sees_it_on_the_plan(world, client):
    assessment = started(world)
    risk = with_high_risk(world, assessment)
    client.force_login(world.user("marte"))
    due = today() + timedelta(days=20)
    response = post(client, f"/risiko/{assessment.pk}/tiltak/ny/", {
        "tiltak-what": "Én ekstra på kveldsvakt", "tiltak-risk": risk.pk, "tiltak-owner": world.ella.pk,
        "tiltak-due": due.strftime("%d.%m.%Y"),
    })
    assert response.status_code == 302 and response["Location"] == f"/risiko/{assessment.pk}/#tiltak-liste"
    action = Action.objects.get()
    assert (action.owner, action.risk, action.due) == (world.ella, risk, due)
    client.force_login(world.user("ella"))
    body = text(get(client, f"/risiko/{assessment.pk}/"))
    row = re.search(rf'<tr id="tiltak-{action.pk}">.*?</tr>', body, re.S).group(0)
    assert "Ella Ansatt" in row and due.strftime("%d.%m.%Y") in row and "Change status" in row


def test_a_measure_needs_an_owner_from_the_list_and_a_date(world, client):
    assessment = started(world)
    client.force_login(world.user("marte"))
    response = post(client, f"/risiko/{assessment.pk}/tiltak/ny/", {
        "tiltak-what": "Kurs", "tiltak-owner": world.kari.pk, "tiltak-due": "",
    })
    body = text(response)
    assert response.status_code == 400
    # Kari is not offered to Marte, so the choice is refused before the service is asked.
    assert 'href="#id_tiltak-owner"' in body and 'href="#id_tiltak-due"' not in body
    response = post(client, f"/risiko/{assessment.pk}/tiltak/ny/", {"tiltak-what": "Kurs", "tiltak-due": ""})
    body = text(response)
    assert "Choose who owns the measure." in body and "This field is required." in body
    assert "Kurs" in body
    assert not Action.objects.exists()


def test_the_person_search_offers_only_people_the_user_may_see(world, client):
    assessment = started(world)
    enrol_totp(world.user("hanne"))
    client.force_login(world.user("hanne"))
    body = text(get(client, f"/risiko/{assessment.pk}/?sok=Kari"))
    assert f'<option value="{world.kari.pk}">Kari Ansatt, Skole</option>' in body
    response = post(client, f"/risiko/{assessment.pk}/tiltak/ny/", {
        "sok": "Kari", "tiltak-what": "Kurs i konflikthåndtering", "tiltak-owner": world.kari.pk,
        "tiltak-due": (today() + timedelta(days=9)).isoformat(),
    })
    assert response.status_code == 302 and Action.objects.get().owner == world.kari
    client.force_login(world.user("marte"))
    body = text(get(client, f"/risiko/{assessment.pk}/?sok=Kari"))
    assert f'<option value="{world.kari.pk}">' not in body
    # The unit's safety representative is offered by her role, though Marte does not manage her unit.
    assert f'<option value="{world.siri.pk}">Siri Verneombud (Safety representative)</option>' in body


def test_a_large_unit_is_found_by_search_not_listed_in_full(world, client, monkeypatch):
    from tidsnok.risk import views

    monkeypatch.setattr(views, "PEOPLE_LIMIT", 3)  # Hjemmetjenesten has five people
    assessment = started(world)
    client.force_login(world.user("marte"))
    body = text(get(client, f"/risiko/{assessment.pk}/"))
    assert f'<option value="{world.emil.pk}">' not in body
    assert "too many people to list them all" in body
    # Those who take part by their role are still offered, and a search finds the rest.
    assert f'<option value="{world.siri.pk}">' in body
    assert f'<option value="{world.emil.pk}">' in text(get(client, f"/risiko/{assessment.pk}/?sok=Emil"))


def test_the_owner_sets_the_status_of_her_measure_but_not_its_text(world, client):
    assessment = started(world)
    action = services.add_action(world.user("marte"), assessment, what="Ny turnus", owner=world.ella,
                                 due=today() + timedelta(days=10))
    key = f"m{action.pk}"
    client.force_login(world.user("ella"))
    page = text(get(client, f"/risiko/tiltak/{action.pk}/"))
    assert f'name="{key}-status"' in page and f'name="{key}-what"' not in page and f'name="{key}-owner"' not in page
    response = post(client, f"/risiko/tiltak/{action.pk}/", {
        f"{key}-status": "done", f"{key}-what": "Ingenting", f"{key}-version": action.version,
    })
    assert response.status_code == 302 and response["Location"] == f"/risiko/{assessment.pk}/#tiltak-{action.pk}"
    action.refresh_from_db()
    assert (action.status, action.what, action.done_on) == ("done", "Ny turnus", today())
    client.force_login(world.user("emil"))
    assert get(client, f"/risiko/tiltak/{action.pk}/").status_code == 404


def test_cancelling_a_measure_asks_why_on_the_field(world, client):
    assessment = started(world)
    action = services.add_action(world.user("marte"), assessment, what="Ny turnus", owner=world.ella,
                                 due=today() + timedelta(days=10))
    key = f"m{action.pk}"
    client.force_login(world.user("ella"))
    response = post(client, f"/risiko/tiltak/{action.pk}/", {f"{key}-status": "cancelled",
                                                              f"{key}-version": action.version})
    assert response.status_code == 400
    assert f'href="#id_{key}-cancel_reason"' in text(response)
    assert "Say why the measure is cancelled." in text(response)
    assert Action.objects.get().status == MeasureStatus.PLANNED


def test_an_editor_moves_a_measure_to_another_owner_and_date(world, client):
    assessment = started(world)
    action = services.add_action(world.user("marte"), assessment, what="Ny turnus", owner=world.ella,
                                 due=today() + timedelta(days=10))
    key = f"m{action.pk}"
    client.force_login(world.user("dina"))
    page = text(get(client, f"/risiko/tiltak/{action.pk}/"))
    assert f'<option value="{world.ella.pk}" selected>' in page
    new_due = today() + timedelta(days=40)
    response = post(client, f"/risiko/tiltak/{action.pk}/", {
        f"{key}-what": "Ny turnus", f"{key}-owner": world.emil.pk, f"{key}-due": new_due.strftime("%d.%m.%Y"),
        f"{key}-risk": "", f"{key}-status": "planned", f"{key}-version": action.version,
    })
    assert response.status_code == 302
    action.refresh_from_db()
    assert (action.owner, action.due, action.status) == (world.emil, new_due, "planned")


def test_a_stale_measure_change_is_refused_with_409_and_keeps_her_choice(world, client):
    assessment = started(world)
    action = services.add_action(world.user("marte"), assessment, what="Ny turnus", owner=world.ella,
                                 due=today() + timedelta(days=10))
    seen = action.version
    services.update_action(world.user("marte"), action, seen, status=MeasureStatus.IN_PROGRESS)
    key = f"m{action.pk}"
    client.force_login(world.user("ella"))
    response = post(client, f"/risiko/tiltak/{action.pk}/", {f"{key}-status": "done", f"{key}-version": seen})
    body = text(response)
    assert response.status_code == 409 and "Someone else changed this meanwhile." in body
    assert re.search(r'value="done"[^>]*checked|<option value="done" selected>', body)
    assert version_on_page(body, key) == str(seen + 1)
    assert Action.objects.get().status == MeasureStatus.IN_PROGRESS


# --- participation ------------------------------------------------------------------------------


def test_participants_are_recorded_once_per_capacity_and_removed(world, client):
    assessment = started(world)
    client.force_login(world.user("marte"))
    data = {"deltaker-person": world.emil.pk, "deltaker-role": "employee",
            "deltaker-took_part_on": today().strftime("%d.%m.%Y")}
    response = post(client, f"/risiko/{assessment.pk}/deltaker/ny/", data)
    assert response.status_code == 302 and response["Location"] == f"/risiko/{assessment.pk}/#deltakere"
    again = post(client, f"/risiko/{assessment.pk}/deltaker/ny/", data)
    assert again.status_code == 400
    assert "Emil Ansatt is already recorded as taking part in this capacity." in text(again)
    participant = Participant.objects.get()
    body = text(get(client, f"/risiko/{assessment.pk}/"))
    assert re.search(rf'<tr id="deltaker-{participant.pk}">\s*<th scope="row">Emil Ansatt</th>\s*<td>Employee</td>',
                     body)
    assert post(client, f"/risiko/deltaker/{participant.pk}/fjern/", {}).status_code == 302
    assert not Participant.objects.exists()


# --- the head, completing, the next review ---------------------------------------------------------


def test_the_head_is_changed_in_a_draft(world, client):
    assessment = started(world)
    client.force_login(world.user("marte"))
    response = post(client, f"/risiko/{assessment.pk}/endre/", {
        "endre-title": "Kartlegging vår", "endre-method": "both", "endre-started_on": today().strftime("%d.%m.%Y"),
        "endre-version": assessment.version,
    })
    assert response.status_code == 302
    assessment.refresh_from_db()
    assert (assessment.title, assessment.method) == ("Kartlegging vår", "both")


def test_marte_completes_it_with_emil_and_siri_taking_part(world, client):
    assessment = started(world)
    risk = with_high_risk(world, assessment)
    client.force_login(world.user("marte"))
    post(client, f"/risiko/{assessment.pk}/tiltak/ny/", {
        "tiltak-what": "Én ekstra på kveldsvakt", "tiltak-risk": risk.pk, "tiltak-owner": world.ella.pk,
        "tiltak-due": (today() + timedelta(days=30)).isoformat(),
    })
    for person, role in ((world.emil, "employee"), (world.siri, "safety_rep")):
        assert post(client, f"/risiko/{assessment.pk}/deltaker/ny/", {
            "deltaker-person": person.pk, "deltaker-role": role, "deltaker-took_part_on": today().isoformat(),
        }).status_code == 302
    page = text(get(client, f"/risiko/{assessment.pk}/"))
    assert rules.default_review_due(today()).isoformat() in page  # the next review's default
    response = post(client, f"/risiko/{assessment.pk}/fullfor/", {
        "fullfor-summary": "Bemanningen på kveld er hovedrisikoen.",
        "fullfor-completed_on": today().strftime("%d.%m.%Y"),
        "fullfor-review_due": rules.default_review_due(today()).strftime("%d.%m.%Y"),
        "fullfor-version": version_on_page(page, "fullfor"),
    })
    assert response.status_code == 302
    assessment.refresh_from_db()
    assert assessment.status == Status.COMPLETED and assessment.review_due == rules.default_review_due(today())
    body = text(get(client, f"/risiko/{assessment.pk}/"))
    assert "The assessment is completed." in body and "Bemanningen på kveld er hovedrisikoen." in body
    assert f'/risiko/{assessment.pk}/fullfor/' not in body and f'/risiko/{assessment.pk}/risiko/ny/' not in body
    # The plan and the next review stay open to change.
    assert f'/risiko/{assessment.pk}/tiltak/ny/' in body and f'/risiko/{assessment.pk}/gjennomgang/' in body
    assert f'href="/risiko/ny/?enhet={world.units["HJ"].pk}"' in body


def test_completion_problems_are_listed_at_the_top_of_the_complete_form(world, client):
    assessment = started(world)
    services.add_risk(world.user("marte"), assessment, factor_code="conflict", description="Uenighet",
                      likelihood=2, consequence=3)
    assessment.refresh_from_db()
    client.force_login(world.user("marte"))
    response = post(client, f"/risiko/{assessment.pk}/fullfor/", {"fullfor-summary": "",
                                                                   "fullfor-version": assessment.version})
    body = text(response)
    assert response.status_code == 400
    problems = re.search(r'<div class="form-errors" id="fullfor-errors" role="alert">(.*?)</div>', body,
                         re.S).group(1)
    items = re.findall(r"<li>(.*?)</li>", problems)
    assert any("conclusion" in item for item in items)
    assert any("1 medium or high risk has no measure" in item for item in items)
    assert any("took part" in item for item in items)
    assert Assessment.objects.get(pk=assessment.pk).status == Status.DRAFT


def test_a_stale_completion_keeps_the_users_text_and_says_why(world, client):
    assessment = ready_to_complete(world, started(world))
    client.force_login(world.user("marte"))
    seen = version_on_page(text(get(client, f"/risiko/{assessment.pk}/")), "fullfor")
    # Dina records the safety representative meanwhile.
    services.add_participant(world.user("dina"), assessment, person=world.siri, role="safety_rep",
                             took_part_on=today())
    data = {"fullfor-summary": "Min konklusjon om kveldsvaktene.", "fullfor-version": seen}
    response = post(client, f"/risiko/{assessment.pk}/fullfor/", data)
    body = text(response)
    assert response.status_code == 409
    assert "Someone else changed this meanwhile." in body
    assert "Min konklusjon om kveldsvaktene." in body
    assert "Siri Verneombud" in body  # her change is on the page
    assert Assessment.objects.get(pk=assessment.pk).status == Status.DRAFT
    # One more click, from the page as it came back, completes it.
    data["fullfor-version"] = version_on_page(body, "fullfor")
    assert post(client, f"/risiko/{assessment.pk}/fullfor/", data).status_code == 302
    assert Assessment.objects.get(pk=assessment.pk).summary == "Min konklusjon om kveldsvaktene."


def test_the_next_review_is_moved_earlier_but_not_beyond_a_year(world, client):
    assessment = completed(world, started(world))
    client.force_login(world.user("marte"))
    late = rules.default_review_due(today()) + timedelta(days=1)
    response = post(client, f"/risiko/{assessment.pk}/gjennomgang/", {
        "gjennomgang-review_due": late.strftime("%d.%m.%Y"), "gjennomgang-version": assessment.version,
    })
    assert response.status_code == 400 and "Review at the latest" in text(response)
    assert re.search(r'<details class="form-box" id="gjennomgang" open>', text(response))
    earlier = today() + timedelta(days=100)
    response = post(client, f"/risiko/{assessment.pk}/gjennomgang/", {
        "gjennomgang-review_due": earlier.isoformat(), "gjennomgang-version": assessment.version,
    })
    assert response.status_code == 302
    assert Assessment.objects.get(pk=assessment.pk).review_due == earlier


def test_the_assessment_page_costs_the_same_queries_however_long_it_grows(world, client):
    assessment = ready_to_complete(world, started(world))
    services.add_comment(world.user("emil"), assessment, "Første kommentar")
    client.force_login(world.user("marte"))
    url = f"/risiko/{assessment.pk}/"
    get(client, url)
    with CaptureQueriesContext(connection) as few:
        assert get(client, url).status_code == 200
    marte = world.user("marte")
    for n in range(8):
        risk = services.add_risk(marte, assessment, factor_code="", description=f"Risiko {n}", likelihood=2,
                                 consequence=2)
        services.add_action(marte, assessment, what=f"Tiltak {n}", owner=world.emil, due=today(), risk=risk)
        services.add_comment(world.user("ella"), assessment, f"Kommentar {n}")
    services.add_participant(marte, assessment, person=world.ella, role="employee", took_part_on=today())
    with CaptureQueriesContext(connection) as many:
        assert get(client, url).status_code == 200
    assert len(many) == len(few)


# --- Min oversikt and the menu -------------------------------------------------------------------


def _section(body: str, heading_id: str) -> str:
    match = re.search(rf'<section aria-labelledby="{heading_id}".*?</section>', body, re.S)
    assert match, f"no section {heading_id}"
    return match.group(0)


def test_min_oversikt_lists_her_open_measures_with_due_date_and_a_link(world, client):
    assessment = started(world)
    action = services.add_action(world.user("marte"), assessment, what="Ny turnus", owner=world.ella,
                                 due=today() + timedelta(days=10))
    services.add_action(world.user("marte"), assessment, what="Ferdig tiltak", owner=world.ella,
                        due=today() + timedelta(days=5))
    Action.objects.filter(what="Ferdig tiltak").update(status=MeasureStatus.DONE)
    client.force_login(world.user("ella"))
    section = _section(text(get(client, "/")), "measures-heading")
    assert "Ny turnus" in section and "Ferdig tiltak" not in section
    assert action.due.strftime("%d.%m.%Y") in section
    assert f'href="/risiko/{assessment.pk}/#tiltak-{action.pk}"' in section
    client.force_login(world.user("emil"))
    assert 'id="measures-heading"' not in text(get(client, "/"))


def test_min_oversikt_shows_managers_the_reviews_due_within_a_month(world, client, time_machine):
    assessment = completed(world, started(world), review_due=today() + timedelta(days=40))
    client.force_login(world.user("marte"))
    assert 'id="reviews-heading"' not in text(get(client, "/"))
    time_machine.move_to(timezone.now() + timedelta(days=15))
    client.force_login(world.user("marte"))
    section = _section(text(get(client, "/")), "reviews-heading")
    assert f'href="/risiko/{assessment.pk}/"' in section and assessment.review_due.strftime("%d.%m.%Y") in section
    for key in ("emil", "kim", "hanne"):
        if key == "hanne":
            enrol_totp(world.user(key))
        client.force_login(world.user(key))
        assert 'id="reviews-heading"' not in text(get(client, "/")), key
    # HR for the whole organisation who also manages a unit sees the reviews of her own unit
    # only: the others' are the coverage page's.
    from tidsnok.org import services as org_services
    from tidsnok.org.models import Role

    org_services.assign_role(None, world.hanne, Role.MANAGER, world.units["SY"])
    hanne, own = world.user("hanne"), started(world, who="hanne", unit="SY", title="Sykehjemmets runde")
    risk = services.add_risk(hanne, own, factor_code="workload", description="Nattevaktene er alene",
                             likelihood=3, consequence=3)
    services.add_action(hanne, own, what="To på natt", owner=world.stine, due=today() + timedelta(days=30),
                        risk=risk)
    services.add_participant(hanne, own, person=world.stine, role="employee", took_part_on=today())
    own.refresh_from_db()
    own = services.complete(hanne, own, own.version, summary="Nattbemanningen.",
                            review_due=today() + timedelta(days=20))
    client.force_login(world.user("hanne"))
    section = _section(text(get(client, "/")), "reviews-heading")
    assert f'href="/risiko/{own.pk}/"' in section and f'href="/risiko/{assessment.pk}/"' not in section
    # A new round for the unit replaces the old one's review.
    started(world, title="Neste runde")
    client.force_login(world.user("marte"))
    assert 'id="reviews-heading"' not in text(get(client, "/"))


def test_min_oversikt_costs_the_same_queries_with_measures_and_reviews_as_without(world, client):
    client.force_login(world.user("marte"))
    get(client, "/")
    with CaptureQueriesContext(connection) as without:
        assert get(client, "/").status_code == 200
    for n in range(12):
        done = completed(world, started(world, title=f"Runde {n}"), review_due=today() + timedelta(days=5))
        services.add_action(world.user("dina"), done, what=f"Tiltak {n}", owner=world.marte,
                            due=today() + timedelta(days=n))
    with CaptureQueriesContext(connection) as with_them:
        body = text(get(client, "/"))
    assert len(with_them) == len(without)
    assert "There are more." in _section(body, "measures-heading")


def test_the_menu_leads_everyone_to_the_risk_assessments(world, client):
    client.force_login(world.user("emil"))
    home = text(get(client, "/"))
    assert '<a href="/risiko/">Risk assessment</a>' in home
    assert '<a href="/risiko/" aria-current="page">Risk assessment</a>' in text(get(client, "/risiko/"))


# --- the demo ------------------------------------------------------------------------------------


def test_the_demo_has_a_completed_and_a_draft_assessment_and_running_it_again_adds_nothing(db):
    call_command("demo", password="demo-passord-1234")
    done = Assessment.objects.get(unit__code="HJEM")
    draft = Assessment.objects.get(unit__code="SOLB")
    assert done.status == Status.COMPLETED and draft.status == Status.DRAFT
    levels = sorted(rules.level(r.likelihood, r.consequence) for r in done.risks.all())
    assert levels == ["high", "medium"]
    assert all(r.actions.exists() for r in done.risks.all())
    assert set(done.participants.values_list("role", flat=True)) == {"employee", "safety_rep"}
    assert done.comments.get().role == "safety_rep"
    counts = (Assessment.objects.count(), Risk.objects.count(), Action.objects.count(), Comment.objects.count(),
              Participant.objects.count())
    call_command("demo", password="demo-passord-1234")
    assert (Assessment.objects.count(), Risk.objects.count(), Action.objects.count(), Comment.objects.count(),
            Participant.objects.count()) == counts
