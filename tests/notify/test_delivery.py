"""A send that fails is retried with backoff, and one that keeps failing is shown
to the administrators, never dropped silently."""

from datetime import date, timedelta

import time_machine
from django.test import override_settings

from tidsnok.notify.models import Mail, Notification
from tidsnok.notify.sweep import run_round
from tests.conftest import enrol_totp

from .conftest import at, free_port, open_case, sweep_at

DOWN = {"default": {"BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                    "OPTIONS": {"host": "127.0.0.1", "port": free_port(), "timeout": 2}}}


def sweep_when(moment):
    with time_machine.travel(moment, tick=False):
        return run_round("test")


@override_settings(MAILERS=DOWN, TIDSNOK_MAIL_MAX_ATTEMPTS=3, TIDSNOK_MAIL_RETRY_SECONDS=60)
def test_failed_sends_back_off_then_fail_for_good_and_admins_are_told(world):
    open_case(world, known_at=date(2027, 3, 22))
    start = at(date(2027, 3, 30), 9)
    stats = sweep_when(start)
    assert stats.retried >= 1 and stats.sent == 0
    mail = Mail.objects.filter(kind="before").get()
    assert mail.attempts == 1 and mail.failed_at is None
    assert mail.next_attempt_at == start + timedelta(seconds=60)
    assert "Error" in mail.last_error or "refused" in mail.last_error.lower()

    sweep_when(start + timedelta(seconds=30))  # not yet: backing off
    mail.refresh_from_db()
    assert mail.attempts == 1

    sweep_when(start + timedelta(seconds=61))
    mail.refresh_from_db()
    assert mail.attempts == 2
    assert mail.next_attempt_at == start + timedelta(seconds=61 + 120)

    sweep_when(start + timedelta(seconds=61 + 121))
    mail.refresh_from_db()
    assert mail.attempts == 3 and mail.failed_at is not None
    assert Notification.objects.filter(user=world.user("ada"), kind="mail_failed").count() == 1

    sweep_when(start + timedelta(days=1))  # a failed mail stays failed until someone acts
    mail.refresh_from_db()
    assert mail.attempts == 3


def test_the_administrator_sees_failed_mail_and_sends_it_again(world, login, smtp):
    open_case(world, known_at=date(2027, 3, 22))
    with override_settings(MAILERS=DOWN, TIDSNOK_MAIL_MAX_ATTEMPTS=1):
        sweep_at(date(2027, 3, 30))
    failed = Mail.objects.get(kind="before")
    assert failed.failed_at is not None

    client = login(world.user("ada"), enrol_totp(world.user("ada")))
    page = client.get("/meldinger/utsending/").content.decode()
    assert "marte@test.no" in page and "Ikke levert" in page
    client.post("/meldinger/utsending/", {"id": [failed.pk]})
    failed.refresh_from_db()
    assert failed.failed_at is None and failed.attempts == 0

    run_round("test")
    failed.refresh_from_db()
    assert failed.sent_at is not None
    assert len(smtp.to("marte@test.no")) >= 1


def test_only_administrators_see_the_delivery_page(world, client):
    client.force_login(world.user("marte"))
    assert client.get("/meldinger/utsending/").status_code == 404


def test_a_claimed_mail_is_not_sent_by_another_worker_until_the_claim_is_stale(world, smtp):
    open_case(world, known_at=date(2027, 3, 22))
    with override_settings(MAILERS={"default": {"BACKEND": "django.core.mail.backends.dummy.EmailBackend"}}):
        sweep_at(date(2027, 3, 30), 6)  # plans and queues, no digest before 7
    Mail.objects.all().update(sent_at=None)
    now = at(date(2027, 3, 30), 6)
    Mail.objects.all().update(claimed_at=now, claimed_by="crashed-worker")
    sweep_when(now + timedelta(minutes=5))
    assert not Mail.objects.filter(sent_at__isnull=False).exists()
    sweep_when(now + timedelta(minutes=11))  # the claim went stale: another worker takes over
    assert not Mail.objects.filter(sent_at__isnull=True).exists()
    assert len(smtp.to("marte@test.no")) == Mail.objects.count()


def test_sent_e_mail_leaves_the_outbox_after_a_month_and_is_not_sent_again(world, smtp):
    open_case(world, known_at=date(2027, 3, 22))
    sweep_at(date(2027, 3, 30))
    sent = Mail.objects.filter(sent_at__isnull=False).count()
    assert sent >= 2
    received = len(smtp.messages)
    sweep_at(date(2027, 4, 28))  # 29 days later: kept
    assert Mail.objects.filter(sent_at__date=date(2027, 3, 30)).count() == sent
    sweep_at(date(2027, 5, 3))  # the first working day past 30 days: gone
    assert not Mail.objects.filter(sent_at__date=date(2027, 3, 30)).exists()
    assert not [m for _r, m in smtp.messages[received:] if "forfaller om" in m["Subject"]]
