"""`tidsnok bench actions` at a tiny scale: a generated organisation, every action
posted through the test client, and a report with no errors.

A smoke test of the benchmark, not a measurement: nothing here looks at times. The
benchmark runs in this process, each action in a transaction it rolls back, so the
test's own transaction is enough.
"""

import io
import re
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

PASSWORD = "bench-actions-test-password"

# What any generated organisation has the objects for: these must be run, not skipped.
CORE = {
    ("cases: open a case", "mgr-large"), ("cases: open a case", "hr"),
    ("cases: add entry (note)", "hr"), ("cases: add measure", "hr"),
    ("absence: register episode (short, self)", "mgr-large"), ("absence: register episode (opens case)", "hr"),
    ("whistleblowing: submit (named)", "employee"), ("whistleblowing: submit (anonymous)", "anonymous"),
    ("notify: mark all read", "hr"),
    # On what add_what_a_small_organisation_lacks adds.
    ("cases: change measure status", "mgr-large"), ("cases: change measure status", "hr"),
    ("whistleblowing: acknowledge", "hr"),
    ("whistleblowing: message to reporter", "hr"), ("whistleblowing: internal note", "hr"),
    ("reports: inspection pack (12 months)", "hr"), ("reports: access copy (PDF)", "hr"),
    ("retention: set a rule", "admin"),
}
# The whistleblowing channel answers a report with the receipt page, and the exports with the
# file; every other action redirects.
RECEIPT_PAGE = {"whistleblowing: submit (named)", "whistleblowing: submit (anonymous)",
                "reports: inspection pack (12 months)", "reports: access copy (PDF)"}
ROW = re.compile(r"^(?P<action>\w+: .{1,44}?)\s+(?P<user>[a-z-]+)\s+(?P<status>\d+|-)\s+(?P<rest>\S.*)$")


def add_what_a_small_organisation_lacks():
    """An open whistleblowing report and a planned measure on an open case: a generated
    organisation this small has none, and the actions on them would only be skipped."""
    from tidsnok.cases import services as case_services
    from tidsnok.cases.models import Case, Handler
    from tidsnok.org.models import Organisation
    from tidsnok.web.loadbench import LoadBench
    from tidsnok.whistleblowing import services as whistleblowing_services

    organisation = Organisation.objects.get()
    whistleblowing_services.submit_report(
        None, organisation, category="work_environment", anonymity="anonymous",
        description="Det lekker fra taket på lageret.")
    # On the case the manager of the large unit works on, which HR may change too.
    personas = {p.key: p for p in LoadBench(None, {"organisation": None}, None).personas()}
    case = Case.objects.get(pk=personas["mgr-large"].case_id)
    owner = Handler.objects.filter(case=case, removed_at__isnull=True).order_by("pk").first().person
    case_services.add_measure(personas["hr"].user, case, what="Redusert arbeidsmengde", kind="organisational",
                              owner=owner, due=timezone.localdate() + timedelta(days=14), area="workload")


@pytest.mark.django_db
def test_bench_actions_posts_every_action_with_its_expected_status():
    call_command("generate", people=60, years=1, seed=3, password=PASSWORD, no_migrate=True, stdout=io.StringIO())
    add_what_a_small_organisation_lacks()
    out = io.StringIO()
    call_command("bench", "actions", "--repeats", "1", "--timings", "1", stdout=out)
    report = out.getvalue()
    summary = re.search(r"^(\d+) actions, (\d+) errors", report, re.M)
    assert summary, report
    assert summary[2] == "0", report
    assert "error: " not in report, report
    rows = {}
    for line in report.splitlines():
        match = ROW.match(line)
        if match:
            rows[(match["action"], match["user"])] = (match["status"], match["rest"])
    assert len(rows) == int(summary[1]), report
    assert CORE <= set(rows), sorted(CORE - set(rows))
    for (action, user), (status, rest) in rows.items():
        assert not rest.startswith("ERROR"), (action, user, rest)
        assert status == ("200" if action in RECEIPT_PAGE else "302"), (action, user, status)
    # Whatever the organisation lacks is said, with the reason.
    for line in report.splitlines():
        if line.startswith("skipped: "):
            assert re.match(r"skipped: \w+: .+ \([a-z-]+\): \S", line), line


@pytest.mark.django_db
def test_bench_actions_only_runs_the_actions_asked_for():
    call_command("generate", people=40, years=1, seed=3, password=PASSWORD, no_migrate=True, stdout=io.StringIO())
    out = io.StringIO()
    call_command("bench", "actions", "--repeats", "1", "--timings", "1", "--only", "mark all read", stdout=out)
    report = out.getvalue()
    assert re.search(r"^2 actions, 0 errors$", report, re.M), report
    assert "cases: open a case" not in report, report


def test_an_action_is_dated_the_day_it_is_posted_not_the_day_the_run_started():
    """A run at N = 50,000 takes minutes: one that passed midnight posted a policy change dated
    the day before, which is refused as in the past (seen in CI at 00:05 in Oslo)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    import time_machine

    from tidsnok.web.actionbench import ActionBench

    oslo = ZoneInfo("Europe/Oslo")
    with time_machine.travel(datetime(2026, 11, 27, 23, 59, tzinfo=oslo), tick=False):
        actions = {action.name: action for action in ActionBench(None, {}).actions()}
    with time_machine.travel(datetime(2026, 11, 28, 0, 1, tzinfo=oslo), tick=False):
        assert actions["cases: change a rule's offset"].build()["form"]["effective_from"] == "2026-11-28"
