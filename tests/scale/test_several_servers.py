"""Several stateless app servers and several sweep workers on one PostgreSQL database.

The deployment of docs/deployment.md in miniature: two gunicorn servers on two
loopback ports (DEBUG off) and two `tidsnok sweep --loop` workers, all on the
test database. A user logs in through server A and carries on on server B with
the same session cookie; managers create and change cases through both servers
at the same time (the API with tokens, and the HTML forms with CSRF) while the
workers send reminders and escalate. Afterwards nothing is lost, no reminder or
e-mail went out twice, and the audit chain verifies.

PostgreSQL only: SQLite serves one app server (docs/deployment.md). CI's
.ci/run runs the suite against a real PostgreSQL server.
"""

import json
import signal
import sys
import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from tests.conftest import PASSWORD
from tests.notify.conftest import ROOT, database_url, free_port, smtp, wait_for  # noqa: F401 (smtp: a fixture)
from tidsnok.access import services as access_services
from tidsnok.audit.services import verify_chain
from tidsnok.cases import services as case_services
from tidsnok.cases.models import Case, Entry, EntryKind, Kind, Source
from tidsnok.notify.models import Mail, Notification, Reminder
from tidsnok.web.loadbench import Browser, start_gunicorn, stop, wait_healthy

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="several app servers need PostgreSQL: set DATABASE_URL=postgres://... (CI's .ci/run does)",
)

CASES_PER_WRITER = 4
ENTRIES_PER_CASE = 3
MARK = "several-servers"


def child_env(**extra) -> dict:
    """The test database and the test keys, for processes started here."""
    import os

    return {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DJANGO_SETTINGS_MODULE": "tests.settings",  # the same keys, and the test password hasher
        "SECRET_KEY": settings.SECRET_KEY,
        "AUDIT_KEY": settings.AUDIT_KEY,
        "ENCRYPTION_KEYS": settings.ENCRYPTION_KEYS,
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
        **extra,
    }


def start_sweep_loop(name: str, smtp_url: str, log_dir):
    import subprocess

    env = child_env(EMAIL_URL=smtp_url, TIDSNOK_DIGEST_HOUR="0",
                    DJANGO_SETTINGS_MODULE="tests.notify.sweep_settings")
    out = open(log_dir / f"sweep-{name}.log", "w")
    return subprocess.Popen(
        [sys.executable, "-m", "tidsnok", "sweep", "--loop", "--interval", "0.3", "--worker", name],
        cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
    )


def api(browser: Browser, token: str, method: str, path: str, payload: dict | None = None):
    body = json.dumps(payload).encode() if payload is not None else None
    status, _headers, data, _t = browser.request(
        method, f"/api/v1{path}", body=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    return status, (json.loads(data) if data else None)


def api_writer(browser, token, concerns, known_at, results, errors):
    """Open cases through the API and document conversations on them."""
    try:
        for i in range(CASES_PER_WRITER):
            status, case = api(browser, token, "POST", "/cases", {
                "kind": "psychosocial", "concerns": [concerns[i % len(concerns)]], "factors": ["workload"],
                "description": f"{MARK} {browser.port} {i}", "known_at": known_at.isoformat(),
                "source": "employee_told",
            })
            assert status == 201, (status, case)
            results.append(case["id"])
            for j in range(ENTRIES_PER_CASE):
                status, entry = api(browser, token, "POST", f"/cases/{case['id']}/entries", {
                    "kind": "note", "occurred_on": timezone.localdate().isoformat(),
                    "text": f"{MARK} note {j} via {browser.port}",
                })
                assert status == 201, (status, entry)
    except BaseException as exc:  # reported by the test, not lost in the thread
        errors.append(exc)


def html_writer(browser, case_ids, posted, errors):
    """Write internal notes through the case page's form (CSRF), as a browser."""
    try:
        for case_id in case_ids:
            status, _h, page, _t = browser.get(f"/saker/{case_id}/")
            assert status == 200, status
            status, headers, body, _t = browser.post_form(f"/saker/{case_id}/oppforing/notat/", {
                "notat-occurred_on": timezone.localdate().strftime("%d.%m.%Y"),
                "notat-text": f"{MARK} form note via {browser.port}",
                "csrfmiddlewaretoken": browser.cookies["csrftoken"],
            })
            assert status == 302, (status, body[:300])
            posted.append(case_id)
    except BaseException as exc:
        errors.append(exc)


@pytest.mark.django_db(transaction=True)
def test_two_app_servers_and_two_sweep_workers_share_one_database(world, smtp, tmp_path):  # noqa: F811
    today = timezone.localdate()
    known_at = today - timedelta(days=20)  # first conversations overdue: reminders and escalations today
    # Work for the sweeps from the start, opened as the services would.
    for person in (world.emil, world.ella):
        case_services.open_case(world.user("marte"), kind=Kind.PSYCHOSOCIAL, concerns=[person],
                                factors=["workload"], description=f"{MARK} before", source=Source.EMPLOYEE_TOLD,
                                known_at=known_at)
    _t, marte_token = access_services.create_token(None, world.user("marte"), "scale test")
    _t, sander_token = access_services.create_token(None, world.user("sander"), "scale test")
    marte_cases = list(Case.objects.filter(description__startswith=MARK).values_list("pk", flat=True))

    port_a, port_b = free_port(), free_port()
    processes = []
    try:
        processes.append(start_gunicorn(port_a, 2, child_env(), str(tmp_path)))
        processes.append(start_gunicorn(port_b, 2, child_env(), str(tmp_path)))
        sweeps = [start_sweep_loop(name, smtp.url, tmp_path) for name in ("sweep-a", "sweep-b")]
        processes.extend(sweeps)
        wait_healthy(port_a, processes[0])
        wait_healthy(port_b, processes[1])

        # Logged in through A; the same cookie works on B; without it B sends to the login page.
        on_a = Browser(port_a)
        on_a.login("marte@test.no", PASSWORD)
        on_b = on_a.at(port_b)
        status, _h, page, _t = on_b.get("/")
        assert status == 200 and "Marte Leder".encode() in page
        status, headers, _b, _t = Browser(port_b).get("/")
        assert status == 302 and "/accounts/login/" in headers["location"]

        # At the same time: the API on both servers, and the HTML form on B with A's session.
        created_a, created_b, posted, errors = [], [], [], []
        threads = [
            threading.Thread(target=api_writer, args=(Browser(port_a), marte_token, [world.emil.pk, world.ella.pk],
                                                      known_at, created_a, errors)),
            threading.Thread(target=api_writer, args=(Browser(port_b), sander_token, [world.stine.pk],
                                                      known_at, created_b, errors)),
            threading.Thread(target=html_writer, args=(on_b, marte_cases * 3, posted, errors)),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=600)
        assert not any(t.is_alive() for t in threads), "a writer did not finish"
        assert not errors, errors

        # The sweep workers catch up with everything the servers wrote, then stop cleanly.
        created = set(created_a + created_b + marte_cases)

        def settled():
            reminded = set(Reminder.objects.filter(case_id__in=created).values_list("case_id", flat=True))
            return (reminded == created
                    and not Reminder.objects.filter(processed_at__isnull=True).exists()
                    and not Mail.objects.filter(sent_at__isnull=True, failed_at__isnull=True).exists())

        assert wait_for(settled, timeout=300, step=0.5), "the sweep workers did not catch up"
        for sweep in sweeps:
            sweep.send_signal(signal.SIGTERM)
        for sweep in sweeps:
            assert sweep.wait(120) == 0, (tmp_path / "sweep-a.log").read_text()[-2000:]
    finally:
        for process in processes:
            stop(process)

    # Nothing lost: every case and every entry written through either server is there.
    assert len(created_a) == len(created_b) == CASES_PER_WRITER
    for case_id in created_a + created_b:
        notes = Entry.objects.filter(case_id=case_id, kind=EntryKind.NOTE, text__startswith=f"{MARK} note")
        assert notes.count() == ENTRIES_PER_CASE
    assert set(Case.objects.filter(description__startswith=f"{MARK} {port_a}").values_list("pk", flat=True)) \
        == set(created_a)
    assert set(Case.objects.filter(description__startswith=f"{MARK} {port_b}").values_list("pk", flat=True)) \
        == set(created_b)
    assert len(posted) == len(marte_cases) * 3
    form_notes = Entry.objects.filter(kind=EntryKind.NOTE, text=f"{MARK} form note via {port_b}")
    assert Counter(form_notes.values_list("case_id", flat=True)) == Counter(posted)

    # No reminder twice: one row per (deadline, stage, person, day), each processed once, one
    # notification each, one escalation entry each, and every e-mail delivered exactly once.
    reminders = Reminder.objects.all()
    assert reminders.filter(kind="overdue").exists() and reminders.filter(kind="escalation").exists()
    keys = Counter(reminders.values_list("deadline_id", "kind", "recipient_id", "on_date"))
    assert set(keys.values()) == {1}
    assert not reminders.exclude(error="").exists()
    assert Notification.objects.filter(key__startswith="reminder:").count() == reminders.count()
    escalations = Entry.objects.filter(kind=EntryKind.ESCALATION, data__has_key="to_person")
    assert escalations.count() == reminders.filter(kind="escalation").count()
    mails = Mail.objects.all()
    assert mails.exists() and not mails.filter(sent_at__isnull=True).exists()
    delivered = Counter(message["X-Tidsnok-Mail"] for _rcpts, message in smtp.messages)
    assert set(delivered) == {str(pk) for pk in mails.values_list("pk", flat=True)}
    assert set(delivered.values()) == {1}, [ref for ref, n in delivered.items() if n > 1]

    # One unbroken audit chain, written by four processes (and this one).
    result = verify_chain()
    assert result.ok, result
    print("reminders processed by:", sorted({r.split(":")[0] for r in reminders.values_list("processed_by", flat=True)}))
