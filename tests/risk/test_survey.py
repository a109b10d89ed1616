"""The anonymous survey of a risk assessment: everyone in the unit is asked once, answers are only
counts, and nothing is shown before it closes or for fewer answers than the threshold."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone, translation

from tidsnok.access.policy import AccessDenied
from tidsnok.audit.models import AuditEvent
from tidsnok.audit.services import verify_chain
from tidsnok.notify.models import Notification
from tidsnok.risk import services
from tidsnok.risk import survey as surveys
from tidsnok.risk.models import Invitation, Status, Survey, Tally

CODES = ["workload", "role", "emotional", "support", "conflict", "harassment", "violence"]


def today():
    return timezone.localdate()


def assessment_of(world, unit="HJ", who="marte"):
    return services.start_assessment(world.user(who), world.units[unit], title="Kartlegging", method="survey",
                                     started_on=today())


def opened(world, threshold=3):
    return surveys.open_survey(world.user("marte"), assessment_of(world), closes_on=today() + timedelta(days=14),
                               threshold=threshold)


def answers(**given):
    scores = dict.fromkeys(CODES)
    scores.update(given)
    return scores


def test_opening_asks_everyone_with_a_login_in_the_unit(world):
    survey = opened(world)
    asked = set(Invitation.objects.filter(survey=survey).values_list("person__name", flat=True))
    # Frode is no longer the manager, but still works there.
    assert asked == {"Marte Leder", "Frode Tidligere", "Dina Nestleder", "Emil Ansatt", "Ella Ansatt"}
    assert survey.invited == 5
    assert Notification.objects.filter(kind="risk_survey").count() == 5
    assert sorted(survey.factors.values_list("code", flat=True)) == sorted(CODES)
    assert AuditEvent.objects.filter(action="risk.survey_opened").count() == 1


def test_only_those_who_change_the_assessment_open_its_survey(world):
    assessment = assessment_of(world)
    with pytest.raises(AccessDenied):
        surveys.open_survey(world.user("emil"), assessment, closes_on=today() + timedelta(days=7), threshold=3)
    assert not Survey.objects.exists()


def test_a_unit_too_small_for_the_threshold_is_told_why(world):
    assessment = assessment_of(world, unit="SK", who="kim")
    with translation.override("en"), pytest.raises(ValidationError) as caught:
        surveys.open_survey(world.user("kim"), assessment, closes_on=today() + timedelta(days=7), threshold=5)
    assert "fewer than the 5 answers" in caught.value.message_dict["threshold"][0]
    assert not Survey.objects.exists()


def test_bad_dates_and_thresholds_are_refused(world):
    assessment = assessment_of(world)
    with pytest.raises(ValidationError) as caught:
        surveys.open_survey(world.user("marte"), assessment, closes_on=today() + timedelta(days=90), threshold=2)
    assert set(caught.value.message_dict) == {"closes_on", "threshold"}


def test_an_answer_is_only_counts_and_the_log_does_not_say_whose(world):
    survey = opened(world)
    surveys.answer(world.user("emil"), survey, answers(workload=5, conflict=2))
    assert sorted(Tally.objects.values_list("factor__code", "score", "count")) == [("conflict", 2, 1), ("workload", 5, 1)]
    event = AuditEvent.objects.get(action="risk.survey_answered")
    assert event.actor_id is None
    assert event.data == {"assessment": survey.assessment_id}  # the survey's assessment, nothing of her
    local = timezone.localtime(event.time)
    assert (local.hour, local.minute, local.second) == (0, 0, 0)  # the day only
    assert verify_chain().ok
    survey.refresh_from_db()
    assert survey.responses == 1


def test_each_person_answers_once(world):
    survey = opened(world)
    surveys.answer(world.user("emil"), survey, answers(workload=4))
    with pytest.raises(ValidationError):
        surveys.answer(world.user("emil"), survey, answers(workload=1))
    assert Tally.objects.get(factor__code="workload").count == 1


def test_someone_not_asked_cannot_answer(world):
    survey = opened(world)
    with pytest.raises(AccessDenied):
        surveys.answer(world.user("stine"), survey, answers(workload=1))


def test_every_question_needs_an_answer_or_dont_know(world):
    survey = opened(world)
    with pytest.raises(ValidationError) as caught:
        surveys.answer(world.user("emil"), survey, {"workload": 9})
    assert "workload" in caught.value.message_dict and "conflict" in caught.value.message_dict
    assert not Tally.objects.exists()


def test_nothing_is_shown_while_it_runs_nor_for_too_few_answers(world):
    survey = opened(world, threshold=3)
    for who in ("emil", "ella"):
        surveys.answer(world.user(who), survey, answers(workload=4))
    assert surveys.results(survey) is None  # open: each new answer could be told apart
    closed = surveys.close_early(world.user("marte"), survey)
    assert all(row["result"] is None for row in surveys.results(closed))
    assert not surveys.enough_answers(closed)


def test_results_after_closing_leave_out_a_question_too_few_answered(world):
    survey = opened(world, threshold=3)
    surveys.answer(world.user("emil"), survey, answers(workload=5, conflict=1))
    surveys.answer(world.user("ella"), survey, answers(workload=4, conflict=2))
    surveys.answer(world.user("dina"), survey, answers(workload=2))
    closed = surveys.close_early(world.user("marte"), survey)
    rows = {row["factor"].code: row["result"] for row in surveys.results(closed, "en")}
    assert rows["workload"]["answered"] == 3
    assert rows["workload"]["mean"] == 3.7
    assert rows["workload"]["much_percent"] == 67
    assert rows["conflict"] is None  # two answered it
    assert surveys.enough_answers(closed)


def test_a_survey_closes_by_itself_on_its_last_day(world, time_machine):
    survey = opened(world)
    time_machine.move_to(timezone.now() + timedelta(days=15))
    assert surveys.is_closed(survey)
    with pytest.raises(ValidationError):
        surveys.answer(world.user("emil"), survey, answers(workload=1))


def test_enough_answers_count_as_the_employees_taking_part(world):
    marte = world.user("marte")
    survey = opened(world, threshold=3)
    assessment = survey.assessment
    services.add_risk(marte, assessment, factor_code="workload", description="Lite tid til dokumentasjon",
                      likelihood=1, consequence=2)
    assessment.refresh_from_db()
    with translation.override("en"), pytest.raises(ValidationError) as caught:
        services.complete(marte, assessment, assessment.version, summary="Ok")
    assert any("survey is open" in problem for problem in caught.value.message_dict["__all__"])
    for who in ("emil", "ella", "dina"):
        surveys.answer(world.user(who), survey, answers(workload=3))
    surveys.close_early(marte, survey)
    assessment.refresh_from_db()
    done = services.complete(marte, assessment, assessment.version, summary="Arbeidsmengden er håndterbar.")
    assert done.status == Status.COMPLETED


# --- the pages -----------------------------------------------------------------------------------


def test_the_answer_page_asks_every_factor_and_counts_a_valid_answer(world, login, client):
    survey = opened(world)
    login(world.user("emil"))
    page = client.get(f"/risiko/undersokelse/{survey.pk}/", HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    assert page.content.count(b"<legend>") == len(CODES)
    incomplete = client.post(f"/risiko/undersokelse/{survey.pk}/", {"f_workload": "4"}, HTTP_ACCEPT_LANGUAGE="en")
    assert incomplete.status_code == 200
    assert b"Nothing was saved" in incomplete.content
    assert not Tally.objects.exists()
    full = {f"f_{code}": "x" for code in CODES} | {"f_workload": "4"}
    done = client.post(f"/risiko/undersokelse/{survey.pk}/", full, HTTP_ACCEPT_LANGUAGE="en")
    assert done.status_code == 302
    assert Tally.objects.get().score == 4
    again = client.get(f"/risiko/undersokelse/{survey.pk}/", HTTP_ACCEPT_LANGUAGE="en")
    assert b"You have answered this survey" in again.content


def test_the_request_log_does_not_say_who_answered(world, login, client, caplog):
    survey = opened(world)
    login(world.user("emil"))
    full = {f"f_{code}": "3" for code in CODES}
    with caplog.at_level("INFO", logger="tidsnok.request"):
        assert client.post(f"/risiko/undersokelse/{survey.pk}/", full).status_code == 302
    lines = [r.getMessage() for r in caplog.records if r.name == "tidsnok.request"]
    assert lines and all("[survey]" in line and "user=-" in line for line in lines)
    assert not any(f"user={world.user('emil').pk}" in line for line in lines)


def test_the_answer_page_is_not_found_for_someone_not_asked(world, login, client):
    survey = opened(world)
    login(world.user("stine"))
    assert client.get(f"/risiko/undersokelse/{survey.pk}/").status_code == 404


def test_the_open_page_is_for_those_who_change_the_assessment(world, login, client):
    assessment = assessment_of(world)
    login(world.user("kim"))
    assert client.get(f"/risiko/undersokelse/ny/{assessment.pk}/").status_code == 404
    client.logout()
    login(world.user("marte"))
    page = client.get(f"/risiko/undersokelse/ny/{assessment.pk}/", HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200 and b"5 people with a login" in page.content
    bad = client.post(f"/risiko/undersokelse/ny/{assessment.pk}/", {"closes_on": "01.01.2020", "threshold": "3"},
                      HTTP_ACCEPT_LANGUAGE="en")
    assert bad.status_code == 200 and not Survey.objects.exists()
    closes = (today() + timedelta(days=10)).strftime("%d.%m.%Y")
    good = client.post(f"/risiko/undersokelse/ny/{assessment.pk}/", {"closes_on": closes, "threshold": "3"})
    assert good.status_code == 302 and Survey.objects.get().invited == 5


def test_min_oversikt_lists_the_survey_until_she_has_answered(world, login, client):
    survey = opened(world)
    login(world.user("emil"))
    home = client.get("/", HTTP_ACCEPT_LANGUAGE="en")
    assert b"Surveys for you" in home.content and f"/risiko/undersokelse/{survey.pk}/".encode() in home.content
    surveys.answer(world.user("emil"), survey, answers(workload=2))
    assert b"Surveys for you" not in client.get("/", HTTP_ACCEPT_LANGUAGE="en").content


def test_opening_for_many_people_asks_the_database_as_often_as_for_a_few(world):
    """A survey for a sector invites thousands: its invitations, notifications and e-mails are
    written in a few statements, not one round per person. The e-mails follow each person's
    choice (the daily digest only: no e-mail now)."""
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from tidsnok.notify.models import Mail, Preference
    from tidsnok.org import services as org_services

    def queries_to_open():
        with transaction.atomic():
            with CaptureQueriesContext(connection) as queries:
                opened(world)
            transaction.set_rollback(True)
        return len(queries)

    queries_to_open()  # the first one also fills the per-process caches (the factor catalogue)
    few = queries_to_open()
    ada, hj = world.user("ada"), world.units["HJ"]
    for n in range(40):
        person, _ = org_services.save_person(ada, world.org, f"S{n:03d}", name=f"Pleier {n:03d}", unit_id=hj.pk)
        org_services.link_login(ada, person, f"pleier{n:03d}@test.no")
    Preference.objects.create(user=world.user("emil"), mode="digest")
    assert queries_to_open() == few

    survey = opened(world)
    assert survey.invited == 45
    assert Notification.objects.filter(kind="risk_survey").count() == 45
    mailed = set(Mail.objects.filter(kind="risk_survey").values_list("to", flat=True))
    assert len(mailed) == 44 and "emil@test.no" not in mailed and "pleier039@test.no" in mailed
    assert Mail.objects.get(kind="risk_survey", to="ella@test.no").data == {
        "assessment_id": survey.assessment_id, "survey_id": survey.pk, "closes": survey.closes_on.isoformat()}
