"""HR's compliance overview counts from the shared cache while nothing it counts has changed,
and every change through the services is in the next answer (cases.models.DeadlineVersion).

Each test compares the cached counts with a fresh count after a change, and checks that the
change did change the fresh count, so that a test cannot pass on a change that changed nothing."""

from datetime import date, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tidsnok.cases import services as case_services
from tidsnok.cases.models import DeadlineStatus, EntryKind, Kind, MeasureKind, MeasureStatus
from tidsnok.notify import compliance

from .conftest import at, open_case

TODAY = date(2027, 4, 20)
START = date(2027, 3, 1)


@pytest.fixture(autouse=True)
def every_scope_cached(monkeypatch):
    """The personas' scopes are a handful of units, below the size worth caching: cache them all."""
    monkeypatch.setattr(compliance, "CACHED_SCOPE_UNITS", 0)


@pytest.fixture
def today():
    with time_machine.travel(at(TODAY, 10), tick=False):
        yield


def counts(user, cached=True, today=TODAY):
    unit_ids = [unit.pk for unit in compliance.units_in_scope(user)]
    count = compliance._counts if cached else compliance._count
    return {unit_id: list(numbers) for unit_id, numbers in count(user, unit_ids, START, today, today).items()}


def counting_queries(queries) -> int:
    return sum('FROM "cases_deadline"' in q["sql"] and "COUNT" in q["sql"] for q in queries.captured_queries)


def conversation(world, case, on, actor="marte"):
    with time_machine.travel(at(on), tick=False):
        return case_services.add_entry(world.user(actor), case, kind=EntryKind.CONVERSATION, occurred_on=on,
                                       text="Samtale.", data={"participants": [world.emil.pk, world.marte.pk]})


@pytest.fixture
def cases(world):
    first = open_case(world, known_at=date(2027, 3, 22))
    second = open_case(world, known_at=date(2027, 3, 22), concerns=[world.ella])
    school = open_case(world, actor="kim", known_at=date(2027, 3, 22), concerns=[world.kari])
    return first, second, school


def changes_and_is_seen(user, change) -> None:
    """The cached counts before, the change, then the cached counts equal a fresh count, which differs."""
    before = counts(user)
    assert before == counts(user, cached=False)
    change()
    after = counts(user)
    assert after == counts(user, cached=False)
    assert after != before, "the change changed nothing: the test would prove nothing"


def test_a_second_request_counts_nothing(world, cases, today):
    hanne = world.user("hanne")
    with CaptureQueriesContext(connection) as cold:
        first = counts(hanne)
    with CaptureQueriesContext(connection) as warm:
        second = counts(hanne)
    assert counting_queries(cold) == 1 and counting_queries(warm) == 0
    assert first == second == counts(hanne, cached=False)


def test_a_new_case_is_counted(world, cases, today):
    changes_and_is_seen(world.user("hanne"), lambda: open_case(world, known_at=date(2027, 4, 19),
                                                                concerns=[world.emil]))


def test_a_deadline_met_by_a_conversation_is_counted(world, cases, today):
    changes_and_is_seen(world.user("hanne"), lambda: conversation(world, cases[0], date(2027, 3, 24)))


def test_a_waived_deadline_is_counted(world, cases, today):
    deadline = cases[2].deadlines.filter(status=DeadlineStatus.OPEN, expected_event=False).first()
    changes_and_is_seen(world.user("hanne"), lambda: case_services.waive_deadline(
        world.user("hanne"), deadline, "Ikke aktuelt her."))


def test_a_deadline_marked_not_required_is_counted(world, cases, today):
    deadline = cases[1].deadlines.filter(status=DeadlineStatus.OPEN, expected_event=False).first()
    changes_and_is_seen(world.user("hanne"), lambda: case_services.mark_not_required(
        world.user("marte"), deadline, "Åpenbart unødvendig."))


def test_a_cancelled_measure_takes_its_follow_up_out_of_the_count(world, cases, today):
    measure = case_services.add_measure(world.user("marte"), cases[0], what="Kurs", kind=MeasureKind.INDIVIDUAL,
                                        owner=world.marte, due=TODAY + timedelta(days=7))
    changes_and_is_seen(world.user("hanne"), lambda: case_services.update_measure(
        world.user("marte"), measure, measure.version, status=MeasureStatus.CANCELLED, cancel_reason="Avlyst."))


def test_closing_and_reopening_a_case_is_counted(world, cases, today):
    hanne = world.user("hanne")
    case = cases[2]
    changes_and_is_seen(hanne, lambda: case_services.close_case(world.user("kim"), case, "Løst.", case.version))
    case.refresh_from_db()
    changes_and_is_seen(hanne, lambda: case_services.reopen_case(world.user("kim"), case, "Igjen.", case.version))


def test_a_person_excluded_from_a_case_no_longer_counts_its_deadlines(world, cases, today):
    changes_and_is_seen(world.user("hanne"), lambda: case_services.exclude_from_case(
        cases[0], world.hanne, "Inhabil.", actor=world.user("helga")))


def test_a_restricted_case_counts_for_hr_once_she_handles_it(world, cases, today):
    restricted = open_case(world, known_at=date(2027, 4, 1), kind=Kind.HARASSMENT,
                           concerns=[world.ella], factors=())
    hanne = world.user("hanne")
    if restricted.handlers.filter(person=world.hanne, removed_at__isnull=True).exists():
        pytest.skip("HR is a handler of a harassment case from the start here")
    changes_and_is_seen(hanne, lambda: case_services.add_handler(world.user("marte"), restricted, world.hanne,
                                                                "HR følger opp."))


def test_a_note_that_meets_no_deadline_keeps_the_cached_counts(world, cases, today):
    hanne = world.user("hanne")
    counts(hanne)
    version = case_services.deadlines_version(world.org.pk)
    with time_machine.travel(at(TODAY, 11), tick=False):
        case_services.add_entry(world.user("marte"), cases[0], kind=EntryKind.NOTE, occurred_on=TODAY,
                                text="Ringte Emil.")
    assert case_services.deadlines_version(world.org.pk) == version
    with CaptureQueriesContext(connection) as warm:
        cached = counts(hanne)
    assert counting_queries(warm) == 0
    assert cached == counts(hanne, cached=False)


def test_a_new_day_is_counted_afresh(world, cases, today):
    """What is overdue depends on the day: the key holds it."""
    hanne = world.user("hanne")
    before = counts(hanne, today=date(2027, 3, 31))
    with CaptureQueriesContext(connection) as queries:
        after = counts(hanne, today=date(2027, 4, 2))
    assert counting_queries(queries) == 1
    assert after == counts(hanne, cached=False, today=date(2027, 4, 2)) and after != before


def test_each_scope_and_person_has_its_own_counts(world, cases, today):
    for key in ("hanne", "hugo", "helga", "kim"):
        assert counts(world.user(key)) == counts(world.user(key), cached=False)
    keys = {compliance._cache_key(world.user(key), [1], START, TODAY, TODAY) for key in ("hanne", "hugo", "helga")}
    assert len(keys) == 3
    assert set(counts(world.user("kim"))) == {world.units["SK"].pk}
