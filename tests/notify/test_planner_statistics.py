"""The sweep keeps SQLite's query planner informed (tidsnok.notify.planner): without the
statistics ANALYZE gathers, SQLite guessed its way into reading every open deadline for
one manager's calendar feed at 50,000 employees (docs/performance.md, section 3)."""

from datetime import date

import pytest
from django.db import connection

from tests.conftest import forget_planner_statistics
from tidsnok.cases import services
from tidsnok.cases.models import Kind, Source
from tidsnok.notify import planner
from tidsnok.notify.sweep import run_round

pytestmark = pytest.mark.skipif(connection.vendor != "sqlite", reason="PostgreSQL's autovacuum analyses by itself")


@pytest.fixture(autouse=True)
def never_refreshed(db, monkeypatch):
    """A worker that has not refreshed the statistics yet, on a database that has none (whatever
    another test's sweep or `generate` left in this database file)."""
    monkeypatch.setattr(planner, "_last_run", None)
    forget_planner_statistics()


def analysed_tables() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE name = 'sqlite_stat1'")
        if cursor.fetchone() is None:
            return set()
        cursor.execute("SELECT DISTINCT tbl FROM sqlite_stat1")
        return {row[0] for row in cursor.fetchall()}


def test_the_first_sweep_round_gathers_planner_statistics_for_the_deadlines_and_cases(world):
    # SQLite keeps no statistics for an empty table: Marte's case gives it rows to look at.
    services.open_case(world.user("marte"), kind=Kind.PSYCHOSOCIAL, concerns=[world.emil], factors=["workload"],
                       description="Bekymring.", source=Source.OBSERVED, known_at=date.today())
    assert "cases_deadline" not in analysed_tables()
    stats = run_round("test-worker")
    assert stats.upkept >= 1
    assert {"cases_deadline", "cases_case", "cases_handler"} <= analysed_tables()


def test_the_statistics_are_refreshed_at_most_once_an_hour_per_worker(world, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(planner.time, "monotonic", lambda: clock[0])
    assert planner.refresh_statistics() == 1
    clock[0] += planner.EVERY_SECONDS - 1
    assert planner.refresh_statistics() == 0
    clock[0] += 1
    assert planner.refresh_statistics() == 1
