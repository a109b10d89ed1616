"""Several sweep workers over the same due work send each reminder exactly once.

Two `tidsnok sweep` processes are started at the same moment against the test
database (SQLite here, PostgreSQL when DATABASE_URL points to one, as in CI)."""

from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from tidsnok.audit.services import verify_chain
from tidsnok.cases.models import Deadline, EntryKind, Entry
from tidsnok.deadlines.queries import calendar_for
from tidsnok.notify.models import Mail, Notification, Reminder

from .conftest import open_case, start_sweep

CASES = 30


def due_work(world):
    """Cases whose deadlines stand at every stage today: before, due, overdue, escalated."""
    today = timezone.localdate()
    calendar = calendar_for(world.org.pk)
    known = today - timedelta(days=20)
    staff = [world.emil, world.ella]
    cases = [open_case(world, known_at=known, concerns=[staff[i % 2]], description=f"Sak nummer {i}")
             for i in range(CASES)]
    # Move some first conversations so that every stage is represented today.
    targets = [calendar.add_working_days(today, 2), today, calendar.add_working_days(today, -1)]
    for i, case in enumerate(cases[: len(targets) * 3]):
        Deadline.objects.filter(case=case, rule_id="psychosocial.first_conversation").update(due=targets[i % 3])
    return cases


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_send_each_reminder_exactly_once(world, smtp):
    cases = due_work(world)
    env = {"EMAIL_URL": smtp.url, "TIDSNOK_DIGEST_HOUR": "0"}
    workers = [start_sweep("--worker", f"w{i}", env=env) for i in (1, 2)]
    outputs = [w.communicate(timeout=300) for w in workers]
    for worker, (out, err) in zip(workers, outputs):
        assert worker.returncode == 0, err[-3000:]

    reminders = Reminder.objects.all()
    assert reminders.filter(kind="before").exists() and reminders.filter(kind="due").exists()
    assert reminders.filter(kind="overdue").exists() and reminders.filter(kind="escalation").exists()
    assert not reminders.filter(processed_at__isnull=True).exists()
    assert not reminders.exclude(error="").exists()

    # Every queued e-mail went out once: no more, no less.
    mails = Mail.objects.all()
    assert mails.count() > CASES
    assert not mails.filter(sent_at__isnull=True).exists(), list(mails.filter(sent_at__isnull=True).values("kind", "attempts", "last_error", "claimed_by"))[:3]
    refs = Counter(message["X-Tidsnok-Mail"] for _rcpts, message in smtp.messages)
    assert set(refs) == {str(pk) for pk in mails.values_list("pk", flat=True)}
    assert set(refs.values()) == {1}, [ref for ref, n in refs.items() if n > 1]
    digests = Counter(m.to for m in mails.filter(kind="digest"))
    assert set(digests.values()) <= {1}
    if calendar_for(world.org.pk).is_working_day(timezone.localdate()):
        assert digests["marte@test.no"] == 1

    # One notification per reminder, one timeline entry per escalation, and an intact audit chain.
    assert Notification.objects.filter(key__startswith="reminder:").count() == reminders.count()
    escalations = reminders.filter(kind="escalation")
    entries = Entry.objects.filter(kind=EntryKind.ESCALATION, case__in=cases)
    assert entries.count() == escalations.count()
    assert Counter((e.data["deadline"], e.data["to_person"]) for e in entries).most_common(1)[0][1] == 1
    assert verify_chain().ok
    # Both workers did work (the test would prove little if one ran after the other finished).
    claimed_by = {r.split(":")[0] for r in reminders.values_list("processed_by", flat=True)}
    print(connection.vendor, "workers that processed reminders:", claimed_by)


@pytest.mark.django_db(transaction=True)
def test_a_looping_sweep_stops_cleanly_on_sigterm(world, smtp):
    import signal

    from .conftest import wait_for

    worker = start_sweep("--loop", "--interval", "0.2", env={"EMAIL_URL": smtp.url})
    assert wait_for(lambda: worker.poll() is None)
    open_case(world, known_at=timezone.localdate() - timedelta(days=20))
    assert wait_for(lambda: Mail.objects.filter(sent_at__isnull=False).exists(), timeout=60)
    worker.send_signal(signal.SIGTERM)
    out, err = worker.communicate(timeout=60)
    assert worker.returncode == 0, err[-3000:]
    assert "stopping" in (out + err)