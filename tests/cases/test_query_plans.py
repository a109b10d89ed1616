"""The case list and the case page are answered from indexes, not by reading every
case of the organisation (docs/performance.md, section 3, findings 3 and 6).

SQLite's query plans, which without statistics do not depend on the amount of
data: a handful of cases shows the plan that 20,000 get. PostgreSQL chooses by
statistics, so its plans are looked at with `tidsnok bench` on real data instead.
"""

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.conftest import enrol_totp, forget_planner_statistics
from tidsnok.access.policy import visible
from tidsnok.cases import services
from tidsnok.cases.models import Case, Entry, Kind, Measure, MeasureKind, Source

pytestmark = pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's plans; PostgreSQL plans by statistics")


@pytest.fixture(autouse=True)
def no_planner_statistics(django_db_setup, django_db_blocker):
    """The plans without statistics, whatever another test left in this database file: they are
    dropped before the test's transaction, and the test starts on a new connection, which has
    none in memory either (a connection that had read them kept choosing by them)."""
    with django_db_blocker.unblock():
        forget_planner_statistics()
        connection.close()


def plan(sql, params=()) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        return [row[-1] for row in cursor.fetchall()]


def subqueries(lines) -> list[tuple[str, str]]:
    """(kind of subquery, what it reads first) for each subquery in a plan."""
    return [(line.rsplit(" ", 1)[0], lines[n + 1]) for n, line in enumerate(lines[:-1]) if "SUBQUERY" in line]


def page_query(client, path) -> str:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path).status_code == 200
    pages = [q["sql"] for q in queries.captured_queries if 'ORDER BY "cases_case"."created_at"' in q["sql"]]
    assert len(pages) == 1
    return pages[0].replace("%", "%%")


@pytest.fixture
def some_cases(world):
    cases = [
        services.open_case(world.user("marte"), kind=Kind.PSYCHOSOCIAL, concerns=[person], factors=["workload"],
                           description="Bekymring.", source=Source.OBSERVED, known_at=date.today())
        for person in (world.emil, world.ella)
    ]
    services.add_measure(world.user("marte"), cases[0], what="Tiltak", kind=MeasureKind.ORGANISATIONAL,
                         owner=world.marte, due=date.today())
    return cases


@pytest.mark.parametrize("persona", ["hanne", "hugo", "marte"])
def test_the_list_walks_the_organisations_cases_newest_first_and_stops_after_a_page(world, client, persona,
                                                                                     some_cases):
    for key in ("hanne", "hugo"):
        enrol_totp(world.user(key))
    client.force_login(world.user(persona))
    for path in ("/saker/", "/saker/?status=open", "/saker/?kind=psychosocial&overdue=1"):
        found = plan(page_query(client, path))
        assert found[0].startswith("SEARCH cases_case USING INDEX case_org_created_idx"), (path, found)
        assert not any("TEMP B-TREE" in line for line in found), (path, found)
        # Her handler rows are read once per query, never probed case by case.
        for kind, reads in subqueries(found):
            assert not ("CORRELATED" in kind and "cases_handl" in reads), (path, found)
    # A later page starts the walk at its cursor.
    found = plan(page_query(client, "/saker/?before=1791496204249241-999999"))
    assert "case_org_created_idx (organisation_id=? AND created_at<?)" in found[0], found


@pytest.mark.parametrize("persona", ["marte", "hanne"])
def test_one_cases_entries_and_measures_are_read_by_that_case_alone(world, persona, some_cases):
    enrol_totp(world.user("hanne"))
    case = some_cases[0]
    user = world.user(persona)
    for model in (Case, Entry, Measure):
        qs = visible(user, model).filter(pk=case.pk) if model is Case else visible(user, model).filter(case=case)
        found = plan(*qs.query.sql_with_params())
        # The one case by its key; the subqueries read her own rows (handler,
        # party, exclusion), never the cases she may see.
        assert any("cases_case USING INTEGER PRIMARY KEY" in line for line in found), (model.__name__, found)
        assert not any(line.startswith("SCAN") for line in found), (model.__name__, found)
        for _kind, reads in subqueries(found):
            assert "cases_case" not in reads and "case_org" not in reads, (model.__name__, found)


@pytest.mark.parametrize("persona", ["hanne", "marte"])
def test_the_compliance_overview_counts_from_the_deadline_index_without_reading_the_deadlines(world, client,
                                                                                             persona, some_cases):
    """Finding 13: the deadline rows are wide (their explanations), the counts need four columns."""
    enrol_totp(world.user("hanne"))
    client.force_login(world.user(persona))
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/etterlevelse/").status_code == 200
    counts = [q["sql"] for q in queries.captured_queries if 'FROM "cases_deadline"' in q["sql"] and "COUNT" in q["sql"]]
    assert len(counts) == 1
    found = plan(counts[0].replace("%", "%%"))
    deadline_reads = [line for line in found if "cases_deadline" in line]
    assert deadline_reads == ["SEARCH cases_deadline USING COVERING INDEX deadline_compliance_idx (case_id=? AND "
                              "expected_event=?)"], found
