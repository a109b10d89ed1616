"""The anonymous reporting flow end to end in Chromium, with axe-core on every page:
report, receipt, the handler's reply, the reporter reads it and answers.

Then the traces: the SQLite database file (and its write-ahead log), everything
logged and every e-mail sent are searched for the reporter's IP address and
user agent and for the report's text in clear. None may be found.

The handler logs in with a session made directly (not through the login form),
so that nothing the handler does puts the shared loopback address on record
either: whatever 127.0.0.1 turns up must have come from the reporter.
"""

import logging
import secrets
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.utils import timezone

from tests.browser.conftest import assert_accessible, sign_in
from tests.conftest import enrol_totp
from tidsnok.notify.services import anonymous_mail_time
from tidsnok.notify.sweep import run_round
from tidsnok.whistleblowing.models import Message, Report

pytestmark = pytest.mark.django_db(transaction=True)


def _database_files() -> list[Path]:
    name = Path(connection.settings_dict["NAME"])
    return [path for path in (name, Path(f"{name}-wal")) if path.exists()]


def _start_clean():
    """Earlier tests in this process may have left freed pages behind: rewrite the
    file without them and empty the write-ahead log, so what is found is this test's."""
    connection.ensure_connection()
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        cursor.execute("VACUUM")
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _database_contents() -> dict[str, bytes]:
    """Everything the database holds, as bytes to search: the SQLite files as they
    lie on disk, or on PostgreSQL every row of every table as text."""
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
        return {path.name: path.read_bytes() for path in _database_files()}
    contents = {}
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f'SELECT row_to_json(t)::text FROM "{table}" t')
            contents[table] = "\n".join(row[0] for row in cursor.fetchall()).encode()
    return contents


def _handler_page(new_page, user):
    enrol_totp(user)  # HR pages need a second factor enrolled
    return sign_in(new_page(), user, path=None)


def test_an_anonymous_report_end_to_end_leaves_no_trace_of_the_reporter(
    world, new_page, live_server, settings, caplog, capfd
):
    settings.SITE_URL = "https://tidsnok.example"
    caplog.set_level(logging.DEBUG)
    _start_clean()
    marker = secrets.token_hex(6)
    agent = f"Mozilla/5.0 (X11; Linux x86_64) VarslerTest/{marker}"
    report_text = f"Lederen på nattevakt truer dem som sier fra om bemanningen {marker}"
    answer_text = f"Det gjelder avdeling to, og det skjedde sist fredag {marker}"
    reply_text = f"Takk for varselet. Hvilken avdeling gjelder det {marker}?"

    # --- the reporter sends a report without logging in
    reporter = new_page(user_agent=agent)
    reporter.goto("/varsling/")
    assert reporter.locator("h1").inner_text().startswith("Varsling")
    assert_accessible(reporter)
    reporter.get_by_role("link", name="Send et varsel").first.click()
    reporter.wait_for_url("**/varsling/ny/**")
    assert_accessible(reporter)
    reporter.get_by_label("Uforsvarlig arbeidsmiljø").check()
    reporter.get_by_label("Hva har skjedd?").fill(report_text)
    reporter.get_by_label("Når skjedde det?").fill("Flere ganger i høst")
    assert reporter.get_by_label("Anonymt").is_checked()
    reporter.get_by_role("button", name="Send varselet").click()
    reporter.wait_for_selector("#receipt-code")
    assert_accessible(reporter)
    receipt = reporter.locator("#receipt-code").inner_text().replace("\n", "").replace(" ", "")
    assert len(receipt.replace("-", "")) == 24
    assert receipt not in reporter.url
    assert Report.objects.get().reporter is None

    # --- the handler reads it and replies
    handler = _handler_page(new_page, world.user("hanne"))
    handler.goto("/varsler/")
    assert_accessible(handler)
    handler.get_by_role("link", name=Report.objects.get().case.number).click()
    handler.wait_for_url("**/varsler/*/")
    assert report_text in handler.locator("main").inner_text()
    assert_accessible(handler)
    handler.locator("#melding summary").click()
    handler.get_by_label("Melding til varsleren", exact=True).fill(reply_text)
    handler.locator("#melding").get_by_role("button", name="Send").click()
    handler.wait_for_selector(".message.success")
    assert reply_text in handler.locator("#conversation").inner_text()
    assert_accessible(handler)

    # --- the reporter comes back with the receipt, reads the reply and answers
    reporter.goto("/varsling/kvittering/")
    assert_accessible(reporter)
    reporter.get_by_label("Kvitteringen din").fill(receipt.lower())
    reporter.get_by_role("button", name="Åpne varselet").click()
    reporter.wait_for_selector(".conversation")
    assert reply_text in reporter.locator(".conversation").inner_text()
    assert "Hanne" not in reporter.locator("main").inner_text()
    assert_accessible(reporter)
    reporter.get_by_label("Meldingen din").fill(answer_text)
    reporter.get_by_role("button", name="Send", exact=True).click()
    reporter.wait_for_selector(".message.success")
    assert answer_text in reporter.locator(".conversation").inner_text()
    assert_accessible(reporter)

    # --- the handler sees the answer
    handler.reload()
    assert answer_text in handler.locator("#conversation").inner_text()
    assert Message.objects.filter(direction="from_reporter").count() == 1

    # --- e-mails go out (the handler was told of the new report), at seven, not at the minute it came
    run_round("test")
    assert not mail.outbox, "an e-mail at once would date the anonymous report to the minute"
    with time_machine.travel(anonymous_mail_time(timezone.now()) + timedelta(minutes=1), tick=False):
        run_round("test")
    assert mail.outbox, "the handler should have been told by e-mail"

    # --- now search everything for traces
    secrets_in_clear = [report_text, answer_text, reply_text, marker]
    traces = ["127.0.0.1", "VarslerTest", agent] + secrets_in_clear + [receipt, receipt.replace("-", "")]

    contents = _database_contents()
    # The search can find things: what is stored in clear (a name) is there.
    assert any("Hanne HR".encode() in data for data in contents.values())
    for name, data in contents.items():
        for trace in traces:
            assert trace.encode() not in data, f"{trace!r} found in {name}"

    logged = caplog.text + "\n".join(r.getMessage() for r in caplog.records)
    out, err = capfd.readouterr()
    logged += out + err
    assert "[reporting channel]" in logged  # the log was captured
    for trace in traces:
        assert trace not in logged, f"{trace!r} found in the logs"

    for message in mail.outbox:
        text = message.message().as_string()
        for trace in traces:
            assert trace not in text, f"{trace!r} found in an e-mail to {message.to}"


def test_the_other_whistleblowing_pages_are_accessible(world, new_page, live_server):
    from tests.whistleblowing.conftest import send
    from tidsnok.whistleblowing import retaliation, services

    submitted = send(world, user=world.user("emil"), anonymity="confidential")
    services.record_assessment(world.user("hanne"), submitted.report, submitted.report.version,
                               assessment="personal_grievance", reasoning="Gjelder eget arbeidsforhold.")
    retaliation.report_change(world.user("hanne"), world.emil, change_type="hours",
                              change_on=submitted.report.received_on, justification="Ny turnus.")
    routine = services.start_routine(world.user("hanne"), world.org)

    hr = _handler_page(new_page, world.user("hanne"))
    for path in ("/varsler/innstillinger/", "/varsler/rutiner/", f"/varsler/rutiner/{routine.pk}/",
                 "/varsler/gjengjeldelse/", f"/varsler/{submitted.report.case_id}/"):
        hr.goto(path)
        assert hr.locator("h1").is_visible(), path
        assert_accessible(hr)
    # A form sent with errors shows them, linked, and is still accessible.
    hr.goto(f"/varsler/rutiner/{routine.pk}/")
    hr.get_by_role("button", name="Publiser denne versjonen").click()
    hr.wait_for_selector(".error-summary")
    assert_accessible(hr)

    emil = new_page()
    sign_in(emil, world.user("emil"))
    emil.goto("/varsling/mine/")
    assert_accessible(emil)
    emil.goto(f"/varsling/mine/{submitted.report.pk}/")
    assert emil.get_by_role("heading", name="Et spørsmål til deg").is_visible()
    assert_accessible(emil)
    emil.get_by_label("Ja, følg det opp med lederen min eller HR").check()
    emil.get_by_role("button", name="Svar").click()
    emil.wait_for_selector(".message.success")
    assert_accessible(emil)

    anonymous = new_page()
    anonymous.goto("/varsling/rutiner/")
    assert_accessible(anonymous)
    anonymous.goto("/varsling/kvittering/")
    anonymous.get_by_label("Kvitteringen din").fill("AAAA-BBBB-CCCC-DDDD-EEEE-FFFF")
    anonymous.get_by_role("button", name="Åpne varselet").click()
    anonymous.wait_for_selector(".error-summary")
    assert_accessible(anonymous)
