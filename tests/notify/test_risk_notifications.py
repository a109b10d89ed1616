"""The risk room's notifications: a measure of an action plan given to someone, its reminders,
and the review of a unit's assessment. The bell and the e-mail say what is due when and link to
the assessment; the e-mail never carries the assessment's text (its title, its risks, the
measure)."""

from datetime import date, timedelta

import pytest
import time_machine
from django.urls import reverse

from tidsnok.cases.models import MeasureStatus
from tidsnok.notify.messages import absolute, build_message, render_mail
from tidsnok.notify.models import Mail, Notification
from tidsnok.risk import services as risk_services
from tidsnok.risk import survey as risk_surveys
from tidsnok.risk.models import Action, ParticipantRole

from .conftest import at

TODAY = date(2027, 3, 10)
# Free text of the assessment that must never reach an e-mail.
TITLE = "Kartlegging-tittel-som-ikke-skal-ut"
RISK_TEXT = "Risikobeskrivelse-som-ikke-skal-ut"
MEASURE_TEXT = "Tiltakstekst-som-ikke-skal-ut"
CONCLUSION = "Konklusjon-som-ikke-skal-ut"
SECRETS = (TITLE, RISK_TEXT, MEASURE_TEXT, CONCLUSION, "Ella Ansatt", "Hjemmetjenesten")


@pytest.fixture
def plan(world):
    """Marte's draft assessment of HJ, with a high risk and Ella owning its measure, due in 14 days."""
    with time_machine.travel(at(TODAY), tick=False):
        marte = world.user("marte")
        assessment = risk_services.start_assessment(marte, world.units["HJ"], title=TITLE, method="workshop",
                                                    started_on=TODAY)
        risk = risk_services.add_risk(marte, assessment, factor_code="", description=RISK_TEXT, likelihood=3,
                                      consequence=3)
        action = risk_services.add_action(marte, assessment, what=MEASURE_TEXT, owner=world.ella,
                                          due=TODAY + timedelta(days=14), risk=risk)
    return assessment, action


def link_of(assessment) -> str:
    return reverse("risk:assessment", kwargs={"pk": assessment.pk})


@pytest.fixture
def survey(world, plan):
    """Marte opens the anonymous survey of the assessment until 31 March: HJ's people are asked."""
    assessment, _action = plan
    with time_machine.travel(at(TODAY), tick=False):
        return risk_surveys.open_survey(world.user("marte"), assessment, closes_on=date(2027, 3, 31), threshold=3)


def survey_link(survey) -> str:
    return reverse("risk_survey:answer", kwargs={"pk": survey.pk})


def speaking(user, lang):
    user.language = lang
    user.save(update_fields=["language"])
    return user


def bell(client, user) -> str:
    client.force_login(user)
    return client.get("/meldinger/").content.decode()


def mail_of(kind, to, **data):
    return Mail.objects.filter(kind=kind, to=to, **{f"data__{k}": v for k, v in data.items()}).get()


def rendered(mail, lang):
    message = build_message(Mail(pk=mail.pk, to=mail.to, language=lang, kind=mail.kind, data=mail.data))
    return message.subject, message.body


@pytest.fixture
def due_reminders(world, plan):
    """The sweep's reminders of Ella's measure: the day before it is due, and the day after."""
    _assessment, action = plan
    for day in (action.due - timedelta(days=1), action.due + timedelta(days=1)):
        with time_machine.travel(at(day), tick=False):
            assert risk_services.remind_due() == 1
    return plan


@pytest.fixture
def review_reminders(world, plan):
    """The assessment completed with its review in 60 days; the managers are reminded a month
    before and again once it is overdue."""
    assessment, action = plan
    with time_machine.travel(at(TODAY), tick=False):
        marte = world.user("marte")
        risk_services.add_participant(marte, assessment, person=world.emil, role=ParticipantRole.EMPLOYEE,
                                      took_part_on=TODAY)
        Action.objects.filter(pk=action.pk).update(status=MeasureStatus.DONE)
        assessment.refresh_from_db()
        risk_services.complete(marte, assessment, assessment.version, summary=CONCLUSION,
                               review_due=TODAY + timedelta(days=60))
    for day in (TODAY + timedelta(days=31), TODAY + timedelta(days=61)):
        with time_machine.travel(at(day), tick=False):
            assert risk_services.remind_due() == 2  # Marte and her deputy Dina
    return plan


# --- the bell -------------------------------------------------------------------------------------


@pytest.mark.parametrize("lang, expected", [
    ("nb", "24.03.2027"),
    ("en", "You own a measure in the action plan of a risk assessment, due 24.03.2027"),
])
def test_the_owner_of_a_new_measure_sees_it_in_the_bell_with_a_link_to_the_assessment(world, client, plan, lang,
                                                                                       expected):
    assessment, _action = plan
    page = bell(client, speaking(world.user("ella"), lang))
    assert expected in page
    assert f'href="{link_of(assessment)}"' in page
    assert ">risk_action<" not in page  # a sentence, not the kind's value


@pytest.mark.parametrize("lang, expected", [
    ("nb", ("24.03.2027",)),
    ("en", ("A measure you own in an action plan is due 24.03.2027",
            "A measure you own in an action plan was due 24.03.2027 and is not done")),
])
def test_the_reminders_of_a_measure_show_in_the_bell_before_and_after_it_is_due(world, client, due_reminders, lang,
                                                                                 expected):
    assessment, _action = due_reminders
    page = bell(client, speaking(world.user("ella"), lang))
    for sentence in expected:
        assert sentence in page
    # The new measure and its two reminders, each to the assessment.
    assert page.count(f'href="{link_of(assessment)}"') == 3


@pytest.mark.parametrize("lang, expected", [
    ("nb", ("09.05.2027",)),
    ("en", ("A risk assessment of a unit you manage is due for review 09.05.2027",
            "A risk assessment of a unit you manage was due for review 09.05.2027")),
])
def test_the_managers_see_the_review_in_the_bell(world, client, review_reminders, lang, expected):
    assessment, _action = review_reminders
    for key in ("marte", "dina"):
        page = bell(client, speaking(world.user(key), lang))
        for sentence in expected:
            assert sentence in page, key
        assert page.count(f'href="{link_of(assessment)}"') == 2, key


def test_the_bell_follows_the_readers_language_with_the_same_date_and_link(world, client, due_reminders):
    """The sentence comes from the catalogue of the reader's language; the date and the link are
    the same in both."""
    assessment, _action = due_reminders
    ella = world.user("ella")
    nb = bell(client, speaking(ella, "nb"))
    en = bell(client, speaking(ella, "en"))
    for page in (nb, en):
        assert "24.03.2027" in page and f'href="{link_of(assessment)}"' in page
    assert 'lang="nb"' in nb and 'lang="en"' in en


def test_no_text_of_the_assessment_reaches_the_bell(world, client, review_reminders):
    for key in ("ella", "marte"):
        page = bell(client, world.user(key))
        for secret in (TITLE, RISK_TEXT, MEASURE_TEXT, CONCLUSION):
            assert secret not in page, key


@pytest.mark.parametrize("lang, expected", [
    ("nb", "31.03.2027"),
    ("en", "Answer the anonymous survey about your work environment, open until 31.03.2027"),
])
def test_the_survey_invitation_shows_in_the_bell_with_a_link_to_answer_it(world, client, survey, lang, expected):
    page = bell(client, speaking(world.user("emil"), lang))
    assert expected in page
    assert f'href="{survey_link(survey)}"' in page


# --- the e-mail -----------------------------------------------------------------------------------


def test_the_e_mails_carry_ids_and_dates_only(world, review_reminders):
    mails = Mail.objects.filter(kind__in=["risk_action", "risk_action_due", "risk_review"])
    assert mails.exists()
    for mail in mails:
        assert set(mail.data) <= {"assessment_id", "due", "stage"}, mail.data


@pytest.mark.parametrize("lang", ["nb", "en"])
def test_the_new_measure_e_mail_says_when_it_is_due_with_the_link(world, plan, lang):
    assessment, _action = plan
    subject, body = rendered(mail_of("risk_action", "ella@test.no"), lang)
    assert "24.03.2027" in subject and "24.03.2027" in body
    assert absolute(link_of(assessment)) in body
    if lang == "en":
        assert subject == "tidsnok: you own a measure in an action plan, due 24.03.2027"
        assert "You have been made the owner of a measure in the action plan" in body
        assert "Open the risk assessment in tidsnok:" in body


@pytest.mark.parametrize("lang", ["nb", "en"])
def test_the_reminder_e_mails_of_a_measure_say_before_or_overdue(world, due_reminders, lang):
    assessment, _action = due_reminders
    before = rendered(mail_of("risk_action_due", "ella@test.no", stage="before"), lang)
    overdue = rendered(mail_of("risk_action_due", "ella@test.no", stage="overdue"), lang)
    for subject, body in (before, overdue):
        assert "24.03.2027" in subject and "24.03.2027" in body
        assert absolute(link_of(assessment)) in body
    assert before != overdue
    if lang == "en":
        assert before[0] == "tidsnok: a measure you own is due 24.03.2027"
        assert overdue[0] == "tidsnok: a measure you own was due 24.03.2027"
        assert "is not done yet" in overdue[1]


@pytest.mark.parametrize("lang", ["nb", "en"])
def test_the_review_e_mails_say_when_the_review_is_due(world, review_reminders, lang):
    assessment, _action = review_reminders
    before = rendered(mail_of("risk_review", "marte@test.no", stage="before"), lang)
    overdue = rendered(mail_of("risk_review", "marte@test.no", stage="overdue"), lang)
    for subject, body in (before, overdue):
        assert "09.05.2027" in subject and "09.05.2027" in body
        assert absolute(link_of(assessment)) in body
    assert before != overdue
    if lang == "en":
        assert before[0] == "tidsnok: a risk assessment is due for review 09.05.2027"
        assert overdue[0] == "tidsnok: a risk assessment was due for review 09.05.2027"
        assert "This e-mail says nothing about the assessment itself" in before[1]


def test_no_e_mail_holds_any_text_of_the_assessment(world, due_reminders, review_reminders):
    mails = list(Mail.objects.filter(kind__in=["risk_action", "risk_action_due", "risk_review"]))
    assert {m.kind for m in mails} == {"risk_action", "risk_action_due", "risk_review"}
    for mail in mails:
        for lang in ("nb", "en"):
            subject, body = rendered(mail, lang)
            for secret in SECRETS:
                assert secret not in subject and secret not in body, (mail.kind, lang, secret)


@pytest.mark.parametrize("lang", ["nb", "en"])
def test_the_survey_e_mail_says_until_when_with_the_link(world, survey, lang):
    mail = Mail.objects.filter(kind="risk_survey").first()
    subject, body = rendered(mail, lang)
    assert "31.03.2027" in subject and "31.03.2027" in body
    assert absolute(survey_link(survey)) in body
    for secret in SECRETS:
        assert secret not in subject and secret not in body
    if lang == "en":
        assert subject == "tidsnok: an anonymous survey about your work environment, open until 31.03.2027"
        assert "handler" not in body


def test_an_english_user_gets_the_e_mail_in_english(world, client):
    speaking(world.user("ella"), "en")
    with time_machine.travel(at(TODAY), tick=False):
        assessment = risk_services.start_assessment(world.user("marte"), world.units["HJ"], title=TITLE,
                                                    method="survey", started_on=TODAY)
        risk_services.add_action(world.user("marte"), assessment, what=MEASURE_TEXT, owner=world.ella,
                                 due=date(2027, 4, 1))
    mail = Mail.objects.get(kind="risk_action", to="ella@test.no")
    assert mail.language == "en"
    subject = render_mail(mail.kind, mail.data, mail.language).subject
    assert subject == "tidsnok: you own a measure in an action plan, due 01.04.2027"


def test_every_manager_of_the_unit_gets_the_review_e_mail(world, review_reminders):
    assert set(Notification.objects.filter(kind="risk_review").values_list("user__email", flat=True)) == {
        "marte@test.no", "dina@test.no"}
    assert set(Mail.objects.filter(kind="risk_review").values_list("to", flat=True)) == {
        "marte@test.no", "dina@test.no"}


def test_everyone_asked_gets_the_survey_e_mail(world, survey):
    asked = set(Notification.objects.filter(kind="risk_survey").values_list("user__email", flat=True))
    assert len(asked) == 5
    assert set(Mail.objects.filter(kind="risk_survey").values_list("to", flat=True)) == asked
