"""`tidsnok bench load` at a tiny scale: a generated organisation, gunicorn on a
free loopback port, a few requests of every journey, and a report with no errors.

A smoke test of the benchmark, not a measurement: nothing here looks at times.
gunicorn runs in its own process group on the test database (committed data,
hence transaction=True) and the benchmark stops it however the run ends.
"""

import io
import re

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.models import Count

from tidsnok.cases.models import Case

PASSWORD = "bench-load-test-password"

# The journeys the benchmark drives whatever cases the organisation has (see loadbench.journeys).
ALWAYS = {
    ("home", "mgr-large"), ("case list", "mgr-large"), ("statistics", "mgr-large"), ("compliance", "mgr-large"),
    ("calendar feed", "mgr-large"),
    ("home", "mgr-small"), ("case list", "mgr-small"), ("statistics", "mgr-small"),
    ("home", "hr"), ("case list", "hr"), ("statistics", "hr"), ("compliance", "hr"), ("API case list", "hr"),
    ("yearly report", "hr"), ("people search", "hr"), ("reports list", "hr"),
    ("case page", "hr"), ("case PDF", "hr"),  # HR sees every open case
    ("home", "employee"), ("my cases", "employee"),
}
ROW = re.compile(r"^(?P<label>.{16}) (?P<persona>\S+)\s+(?P<n>\d+)\s+\S+\s+\S+\s+\S+\s+\S+\s+(?P<errors>\d+)\s")


@pytest.mark.django_db(transaction=True)
def test_bench_load_drives_every_journey_without_errors_or_the_ones_asked_for(monkeypatch):
    call_command("generate", people=40, years=1, seed=3, password=PASSWORD, no_migrate=True, stdout=io.StringIO())
    assert connection.vendor in ("sqlite", "postgresql")
    # gunicorn inherits the environment: point it at the test database (it uses the test settings already).
    if connection.vendor == "sqlite":
        monkeypatch.setenv("DATABASE_URL", f"sqlite:///{connection.settings_dict['NAME']}")
    else:
        from tests.processes import database_url

        monkeypatch.setenv("DATABASE_URL", database_url())
    entries_before = dict(Case.objects.annotate(n=Count("entries")).values_list("pk", "n"))
    out = io.StringIO()
    # Enough requests for two rounds of the ~24 journeys (the clients take them in turn); the
    # duration is only a safety net.
    call_command("bench", "load", "--password", PASSWORD, "--duration", "300", "--max-requests", "50",
                 "--clients", "2", "--workers", "2", "--floor-repeats", "1", "--timings", "1", "--profile", "1",
                 stdout=out)
    report = out.getvalue()
    assert re.search(r"\d+ requests in [\d.]+ s = [\d.]+ requests/s in all, 0 errors", report), report
    assert "errors seen" not in report, report
    rows = {}
    for line in report.splitlines():
        match = ROW.match(line)
        if match:
            rows[(match["label"].strip(), match["persona"])] = (int(match["n"]), int(match["errors"]))
    assert ALWAYS <= set(rows), sorted(ALWAYS - set(rows))
    # --profile: each journey's time split into areas, in whole per cent of its own total.
    profile = report[report.index("where the in-process time goes"):]
    parts = {(m["label"].strip(), m["persona"]): [int(x) for x in m["parts"].split()]
             for m in re.finditer(r"^(?P<label>.{16}) (?P<persona>\S+)\s+(?P<parts>(?:\s*\d+){6})$", profile, re.M)}
    assert ALWAYS <= set(parts), sorted(ALWAYS - set(parts))
    assert all(97 <= sum(p) <= 103 for p in parts.values()), parts
    assert all(n >= 1 and errors == 0 for n, errors in rows.values()), rows
    # The case page and PDF read the same case all through the run: new entries go to another.
    entries_after = dict(Case.objects.annotate(n=Count("entries")).values_list("pk", "n"))
    pairs = re.findall(r"^  mgr-\w+: .*, case (\d+), new entries in case (\d+)$", report, re.MULTILINE)
    assert pairs, report
    for read, written in pairs:
        assert entries_after[int(read)] == entries_before[int(read)]
        # A case of hers, or one the benchmark opened for her when she had only the one.
        assert entries_after[int(written)] > entries_before.get(int(written), 0)

    # --only: the journeys whose name or user contains one of the words, in any case.
    with pytest.raises(CommandError, match="--timings must be 1 or more"):
        call_command("bench", "load", "--password", PASSWORD, "--timings", "0", stdout=io.StringIO())
    with pytest.raises(CommandError, match="No journey matches --only nothing"):
        call_command("bench", "load", "--password", PASSWORD, "--only", "nothing", stdout=io.StringIO())
    out = io.StringIO()
    call_command("bench", "load", "--password", PASSWORD, "--duration", "300", "--max-requests", "4",
                 "--clients", "1", "--workers", "1", "--floor-repeats", "1", "--timings", "1",
                 "--only", "MGR-SMALL/STAT", "--only", "employee/my", stdout=out)
    report = out.getvalue()
    rows = {(m["label"].strip(), m["persona"]) for m in map(ROW.match, report.splitlines()) if m}
    assert rows == {("statistics", "mgr-small"), ("my cases", "employee")}, report


def test_the_report_names_a_slow_statement_by_its_tables_and_conditions_not_its_columns():
    from tidsnok.web.loadbench import _statement_head

    sql = """SELECT "a"."id", (SELECT MIN("d"."due") FROM "d" WHERE "d"."case_id" = "a"."id") AS "next"
             FROM "a" INNER JOIN "b" ON ("a"."b_id" = "b"."id") WHERE "b"."x" = %s ORDER BY "a"."id\""""
    assert _statement_head(sql) == 'SELECT … FROM "a" INNER JOIN "b" ON ("a"."b_id" = "b"."id") WHERE "b"."x" = %s ' \
                                   'ORDER BY "a"."id"'
    assert _statement_head('UPDATE "t" SET "v" = %s') == 'UPDATE "t" SET "v" = %s'
    assert _statement_head("SELECT " + "x, " * 200 + "y FROM t WHERE " + "z = 1 AND " * 50 + "1").endswith("…")
    assert len(_statement_head("SELECT " + "x, " * 200 + "y FROM t WHERE " + "z = 1 AND " * 50 + "1")) == 220
