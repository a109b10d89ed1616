"""E-mails go through a real SMTP server: to the right people, in their language,
and without anything sensitive in them."""

from datetime import date

from tidsnok.notify import services
from tidsnok.notify.models import Mail, Mode

from .conftest import open_case, sweep_at

DESCRIPTION = "Emil sier han ikke rekker arbeidsoppgavene og sover dårlig."
SENSITIVE = ["Emil", "Ansatt", "rekker arbeidsoppgavene", "sover", "Første samtale", "First conversation",
             "Psykososial", "sychosocial", "workload", "Arbeidsmengde", "Marte Leder", "Helga"]


def assert_nothing_sensitive(received):
    for rcpts, message in received.messages:
        text = message.as_string()
        for word in SENSITIVE:
            assert word not in text, f"{word!r} leaked into the e-mail to {rcpts}: {message['Subject']}"


def test_reminder_digest_and_escalation_reach_the_right_people_in_their_language(world, smtp):
    helga = world.user("helga")
    helga.language = "en"
    helga.save(update_fields=["language"])
    case = open_case(world, known_at=date(2027, 3, 22), description=DESCRIPTION)

    sweep_at(date(2027, 3, 30))  # two working days before the first conversation is due
    reminders = [m for m in smtp.to("marte@test.no") if "frist" in m["Subject"]]
    assert reminders, [m["Subject"] for _r, m in smtp.messages]
    reminder = reminders[0]
    assert reminder["Content-Language"] == "nb"
    assert case.number in reminder["Subject"]
    body = reminder.get_body(("plain",)).get_content()
    assert "forfaller 01.04.2027" in body
    assert f"http://127.0.0.1:8000/saker/{case.pk}/" in body
    assert reminder["Auto-Submitted"] == "auto-generated"

    digests = [m for m in smtp.to("marte@test.no") if "trenger deg" in m["Subject"]]
    assert len(digests) == 1  # one a day, however many deadlines
    assert "frister" in digests[0].get_body(("plain",)).get_content() or "frist" in digests[0].get_body(("plain",)).get_content()

    sweep_at(date(2027, 4, 5))  # two working days overdue: the sector manager hears of it
    escalations = smtp.to("helga@test.no")
    assert [m["Content-Language"] for m in escalations] and all(m["Content-Language"] == "en" for m in escalations)
    escalation = [m for m in escalations if "escalated to you" in m["Subject"]]
    assert len(escalation) == 1
    assert case.number in escalation[0]["Subject"]
    assert "due on 01.04.2027" in escalation[0].get_body(("plain",)).get_content()
    assert not smtp.to("emil@test.no")  # the employee concerned gets nothing
    assert_nothing_sensitive(smtp)


def test_the_digest_counts_deadlines_and_cases_without_naming_them(world, smtp):
    open_case(world, known_at=date(2027, 3, 22))
    open_case(world, known_at=date(2027, 3, 22), concerns=[world.ella])
    sweep_at(date(2027, 3, 29), hour=6)  # Easter Monday: no digest on a holiday
    sweep_at(date(2027, 3, 30), hour=6)  # before the digest hour
    assert not [m for m in smtp.to("marte@test.no") if "trenger deg" in m["Subject"]]
    sweep_at(date(2027, 3, 30), hour=9)
    sweep_at(date(2027, 3, 30), hour=15)
    digests = [m for m in smtp.to("marte@test.no") if "trenger deg" in m["Subject"]]
    assert len(digests) == 1
    body = digests[0].get_body(("plain",)).get_content()
    # Two first conversations due Thursday 1 April, one in each case.
    assert "2 frister som forfaller denne uken i 2 saker" in body
    assert "http://127.0.0.1:8000/meldinger/frister/" in body
    assert_nothing_sensitive(smtp)


def test_digest_only_gets_no_single_reminders(world, smtp):
    services.set_mode(world.user("marte"), Mode.DIGEST)
    open_case(world, known_at=date(2027, 3, 22))
    sweep_at(date(2027, 3, 30))
    subjects = [m["Subject"] for m in smtp.to("marte@test.no")]
    assert len(subjects) == 1 and "trenger deg" in subjects[0]
    # ... but the bell still rings.
    assert world.user("marte").notifications.filter(kind="before").exists()


def test_hr_involved_is_told_in_the_app_and_by_e_mail(world, smtp):
    from tidsnok.cases import services as case_services

    import time_machine

    case = open_case(world, known_at=date(2027, 3, 22))
    with time_machine.travel(date(2027, 3, 23), tick=False):
        case_services.ask_hr(world.user("marte"), case, "Usikker på om jeg er inhabil, Emil er nabo.")
    hr_handler = case.handlers.get(role="hr").person
    notification = hr_handler.user.notifications.get(kind="hr_involved")
    assert notification.case == case
    sweep_at(date(2027, 3, 23))
    mails = [m for m in smtp.to(hr_handler.user.email) if "HR" in m["Subject"]]
    assert len(mails) == 1 and case.number in mails[0]["Subject"]
    assert "nabo" not in mails[0].as_string()
    assert Mail.objects.filter(kind="hr_involved", sent_at__isnull=False).count() == 1
