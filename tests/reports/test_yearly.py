"""The yearly report for AMU: the organisation's counts and rates of a year, for AMU, HR for the
whole organisation and administrators only, never a name, a unit or a case."""

from datetime import date, timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.conftest import enrol_totp
from tests.notify.conftest import open_case
from tidsnok.absence import services as absence_services
from tidsnok.cases import services as case_services
from tidsnok.cases.models import Case, Deadline, DeadlineStatus, Kind
from tidsnok.reports import yearly
from tidsnok.risk import services as risk_services
from tidsnok.risk.models import ParticipantRole


def today():
    return timezone.localdate()


def close(world, case):
    case = Case.objects.get(pk=case.pk)
    case_services.close_case(world.user("marte"), case, "Løst i samtale.", case.version)


def completed_assessment(world):
    marte = world.user("marte")
    assessment = risk_services.start_assessment(marte, world.units["HJ"], title="Kartlegging", method="workshop",
                                                started_on=today())
    risk = risk_services.add_risk(marte, assessment, factor_code="workload", description="For mye overtid",
                                  likelihood=3, consequence=3, current_measures="")
    risk_services.add_action(marte, assessment, what="Bemanne kveldene", owner=world.ella,
                             due=today() + timedelta(days=30), risk=risk)
    risk_services.add_participant(marte, assessment, person=world.emil, role=ParticipantRole.EMPLOYEE,
                                  took_part_on=today())
    assessment.refresh_from_db()
    return risk_services.complete(marte, assessment, assessment.version, summary="Tiltak avtalt.")


@pytest.fixture
def year(world):
    """This year: two psychosocial cases (one closed), a harassment case registered by HR, a
    self-certified absence for Emil and a completed risk assessment; and a conflict case from
    last year that is still open."""
    known = max(date(today().year, 1, 2), today() - timedelta(days=40))
    first = open_case(world, known_at=known)
    open_case(world, known_at=known, description="Stine og Emil er uenige om turnusen.")
    close(world, first)
    open_case(world, "hanne", known_at=known, kind=Kind.HARASSMENT, concerns=[world.ella])
    last_year = date(today().year - 1, 6, 1)
    open_case(world, known_at=last_year, kind=Kind.CONFLICT)
    absence_services.register_episode(world.user("marte"), person=world.emil, start=known, end=known + timedelta(days=2),
                                      certified="self")
    completed_assessment(world)


def test_who_reads_it(world, client):
    for name in ("ask", "hanne", "ada"):
        enrol_totp(world.user(name))
        client.force_login(world.user(name))
        page = client.get("/rapporter/arsrapport/", HTTP_ACCEPT_LANGUAGE="nb")
        assert page.status_code == 200, name
        assert 'href="/rapporter/arsrapport/"' in page.content.decode()  # in the menu
    for name in ("hugo", "marte", "helga", "emil", "siri"):
        enrol_totp(world.user(name)) if name == "hugo" else None
        client.force_login(world.user(name))
        assert client.get("/rapporter/arsrapport/").status_code == 404, name
        assert 'href="/rapporter/arsrapport/"' not in client.get("/").content.decode(), name


def test_the_years_figures_count_every_case_whoever_handles_it(world, year):
    report = yearly.build(world.user("ask"), today().year, today())
    rows = {row.kind: row for row in report.kinds}
    assert (rows["psychosocial"].registered, rows["psychosocial"].closed, rows["psychosocial"].open_at_end) == (2, 1, 1)
    # HR's harassment case, which AMU may not read, is counted all the same.
    assert (rows["harassment"].registered, rows["harassment"].open_at_end) == (1, 1)
    # Last year's conflict is not registered this year, but still open at its end.
    assert (rows["conflict"].registered, rows["conflict"].open_at_end) == (0, 1)
    assert report.total.registered == 3 and report.total.open_at_end == 3
    # The employer's deadlines that fell due this year and before today: met on time, or late.
    due = Deadline.objects.filter(expected_event=False, due__gte=date(today().year, 1, 1), due__lt=today(),
                                  case__kind="psychosocial")
    late = due.filter(status__in=[DeadlineStatus.LATE, DeadlineStatus.MISSED, DeadlineStatus.OPEN]).count()
    assert late > 0 and rows["psychosocial"].late == late
    assert rows["psychosocial"].on_time == due.filter(status=DeadlineStatus.MET).count()
    assert report.absence.rate > 0 and report.absence.shares["self"] > 0
    assert report.risk["completed"] == 1 and report.risk["actions_added"] == 1 and report.risk["actions_open"] == 1
    assert report.coverage["current"] == 1 and report.partial == (today() < date(today().year, 12, 31))


def test_last_years_report_holds_last_years_cases(world, year):
    report = yearly.build(world.user("hanne"), today().year - 1, today())
    rows = {row.kind: row for row in report.kinds}
    assert rows["conflict"].registered == 1 and rows["conflict"].open_at_end == 1
    assert rows["psychosocial"].registered == 0
    assert report.last == date(today().year - 1, 12, 31) and not report.partial
    assert report.risk["completed"] == 0


def test_the_page_in_norwegian_and_english_and_the_csv(world, year, client):
    client.force_login(world.user("ask"))
    page = client.get("/rapporter/arsrapport/", HTTP_ACCEPT_LANGUAGE="nb").content.decode()
    assert f"Arbeidsmiljøet i {today().year}" in page
    assert "Psykososial bekymring" in page and "Sykefraværsprosent" in page
    # No name of a person concerned, nor of a unit.
    for name in ("Emil", "Ella", "Hjemmetjenesten", "Kartlegging"):
        assert name not in page, name
    english = client.get(f"/rapporter/arsrapport/?ar={today().year}", HTTP_ACCEPT_LANGUAGE="en")
    csv = client.get(f"/rapporter/arsrapport/?ar={today().year}&format=csv", HTTP_ACCEPT_LANGUAGE="nb")
    assert csv["Content-Type"].startswith("text/csv")
    text = csv.content.decode("utf-8-sig")
    assert "Saker;Psykososial bekymring: registrert;2" in text
    assert "Risikovurdering;Fullførte vurderinger;1" in text
    assert english.status_code == 200


def test_a_year_there_is_no_report_for_is_explained(world, client):
    client.force_login(world.user("ask"))
    for asked in ("1999", "neste", str(today().year + 1)):
        page = client.get(f"/rapporter/arsrapport/?ar={asked}", HTTP_ACCEPT_LANGUAGE="nb")
        assert page.status_code == 400, asked
        assert "Det finnes ingen rapport for" in page.content.decode()


def test_the_page_asks_the_database_as_often_for_many_cases_as_for_few(world, client):
    client.force_login(world.user("ask"))
    known = max(date(today().year, 1, 2), today() - timedelta(days=40))
    open_case(world, known_at=known)
    client.get("/rapporter/arsrapport/")
    cache.clear()  # counted afresh both times, not once from the shared cache
    with CaptureQueriesContext(connection) as few:
        client.get("/rapporter/arsrapport/")
    for _ in range(6):
        open_case(world, known_at=known, kind=Kind.CONFLICT)
    cache.clear()
    with CaptureQueriesContext(connection) as many:
        client.get("/rapporter/arsrapport/")
    assert len(many) == len(few)


def test_the_case_figures_come_from_the_cache_until_a_case_changes(world, year):
    from tidsnok.cases.models import Deadline

    def psychosocial():
        with CaptureQueriesContext(connection) as queries:
            report = yearly.build(world.user("ask"), today().year, today())
        deadlines_read = any(f'"{Deadline._meta.db_table}"' in query["sql"] for query in queries)
        return {row.kind: row for row in report.kinds}["psychosocial"], deadlines_read

    first, counted = psychosocial()
    again, counted_again = psychosocial()
    assert counted and not counted_again and (again.registered, again.open_at_end) == (2, 1)
    case = open_case(world, known_at=max(date(today().year, 1, 2), today() - timedelta(days=3)))
    row, counted = psychosocial()
    assert counted and (row.registered, row.open_at_end) == (3, 2)
    close(world, case)
    row, counted = psychosocial()
    assert counted and (row.closed, row.open_at_end) == (2, 1)
