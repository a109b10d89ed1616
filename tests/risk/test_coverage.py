"""Which units have a current risk assessment, for HR, AMU, safety representatives and managers."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tidsnok.cases.models import MeasureStatus
from tidsnok.risk import coverage, services
from tidsnok.risk.models import Action, ParticipantRole


def today():
    return timezone.localdate()


def completed(world, unit="HJ", who="marte", review_in=200):
    user = world.user(who)
    assessment = services.start_assessment(user, world.units[unit], title="Runde", method="workshop",
                                           started_on=today())
    services.add_risk(user, assessment, factor_code="workload", description="Travelt", likelihood=1, consequence=1)
    employee = {"HJ": world.emil, "SY": world.stine, "SK": world.kari}[unit]
    services.add_participant(user, assessment, person=employee, role=ParticipantRole.EMPLOYEE, took_part_on=today())
    assessment.refresh_from_db()
    return services.complete(user, assessment, assessment.version, summary="Ok",
                             review_due=today() + timedelta(days=review_in))


def by_name(rows):
    return {row.name: row for row in rows}


def test_each_unit_with_staff_gets_its_state(world):
    completed(world, "HJ", review_in=200)
    completed(world, "SY", who="sander", review_in=20)
    rows = by_name(coverage.coverage(world.user("hanne"), today()))
    assert rows["Hjemmetjenesten"].state == "current"
    assert rows["Sykehjemmet"].state == "due_soon"
    assert rows["Skole"].state == "missing"
    assert coverage.summary(list(rows.values()))["missing"] >= 1


def test_an_overdue_review_and_a_new_round_in_progress_are_both_shown(world, time_machine):
    done = completed(world, "HJ", review_in=10)
    services.add_action(world.user("marte"), done, what="Tiltak", owner=world.ella, due=today() + timedelta(days=5))
    time_machine.move_to(timezone.now() + timedelta(days=12))
    services.start_assessment(world.user("marte"), world.units["HJ"], title="Neste runde", method="survey",
                              started_on=timezone.localdate())
    day = timezone.localdate()
    row = by_name(coverage.with_counts(coverage.coverage(world.user("marte"), day), day))["Hjemmetjenesten"]
    assert row.state == "overdue" and row.in_progress and row.people == 5
    assert (row.open_actions, row.overdue_actions) == (1, 1)
    Action.objects.update(status=MeasureStatus.DONE)
    row = by_name(coverage.with_counts(coverage.coverage(world.user("marte"), day), day))["Hjemmetjenesten"]
    assert (row.open_actions, row.overdue_actions) == (0, 0)


@pytest.mark.parametrize("who, units", [
    ("hanne", {"Test-kommune", "Helse", "Hjemmetjenesten", "Sykehjemmet", "Skole"}),
    ("ask", {"Test-kommune", "Helse", "Hjemmetjenesten", "Sykehjemmet", "Skole"}),
    ("siri", {"Helse", "Hjemmetjenesten", "Sykehjemmet"}),
    ("hugo", {"Helse", "Hjemmetjenesten", "Sykehjemmet"}),
    ("helga", {"Helse", "Hjemmetjenesten", "Sykehjemmet"}),
    ("marte", {"Hjemmetjenesten"}),
])
def test_each_sees_the_units_of_her_role(world, who, units):
    assert set(by_name(coverage.coverage(world.user(who), today()))) == units


def test_an_employee_has_no_coverage_page(world, login, client):
    assert not coverage.may_view(world.user("emil"))
    login(world.user("emil"))
    assert client.get("/risiko/dekning/").status_code == 404


def test_the_page_filters_by_state_and_exports_csv(world, login, client):
    completed(world, "HJ")
    login(world.user("helga"))
    page = client.get("/risiko/dekning/?tilstand=missing", HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    assert b"Sykehjemmet" in page.content and b"Hjemmetjenesten</th>" not in page.content
    export = client.get("/risiko/dekning/?format=csv", HTTP_ACCEPT_LANGUAGE="en")
    assert export["Content-Type"].startswith("text/csv")
    lines = export.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("Unit;People;State")
    assert any(line.startswith("Hjemmetjenesten;") and ";Current;" in line for line in lines)


def test_the_page_reads_the_same_number_of_queries_for_many_units(world, login, client, django_assert_max_num_queries):
    from tidsnok.org import services as org_services

    login(world.user("helga"))
    client.get("/risiko/dekning/")
    for index in range(30):
        unit, _ = org_services.save_unit(None, world.org, f"X{index}", f"Enhet {index}", world.units["HJ"])
        org_services.save_person(None, world.org, f"X{index:03d}", name=f"Person {index}", unit_id=unit.pk)
    with django_assert_max_num_queries(15):
        assert client.get("/risiko/dekning/").status_code == 200


def test_a_large_scope_is_read_from_the_cache_until_what_it_shows_changes(world):
    """HR's whole organisation is kept in the shared cache for the day; each change the states
    are computed from (an assessment completed, started or its review moved, a person hired, a
    unit created) is seen at the next request."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tidsnok.org import services as org_services
    from tidsnok.org.models import Unit

    hanne, ada = world.user("hanne"), world.user("ada")

    def states():
        with CaptureQueriesContext(connection) as queries:
            rows = by_name(coverage.coverage(hanne, today()))
        units_read = any(Unit._meta.db_table in query["sql"] for query in queries)
        return {name: (row.state, row.in_progress) for name, row in rows.items()}, units_read

    first, computed = states()
    again, computed_again = states()
    assert computed and not computed_again and again == first
    coverage._RECENT.clear()  # another server: from the shared cache
    again, computed_again = states()
    assert not computed_again and again == first
    assert first["Hjemmetjenesten"] == ("missing", False)

    assessment = completed(world, "HJ", review_in=200)
    shown, computed = states()
    assert computed and shown["Hjemmetjenesten"] == ("current", False)
    services.set_review_due(world.user("marte"), assessment, assessment.version, today() + timedelta(days=10))
    assert states()[0]["Hjemmetjenesten"] == ("due_soon", False)
    services.start_assessment(world.user("kim"), world.units["SK"], title="Ny", method="workshop", started_on=today())
    assert states()[0]["Skole"] == ("missing", True)
    # A unit without staff is not shown until someone works there.
    unit, _ = org_services.save_unit(ada, world.org, "BH", "Barnehagen", world.units["SK"])
    assert "Barnehagen" not in states()[0]
    org_services.save_person(ada, world.org, "B001", name="Berit Barnehage", unit_id=unit.pk)
    assert states()[0]["Barnehagen"] == ("missing", False)
    # What the cache gave is what computing gives.
    uncached = [(row.unit_id, row.state, row.latest_id, row.in_progress)
                for row in (coverage.UnitRow(*t) for t in coverage._states(world.org.pk, coverage.unit_scope(hanne), today()))]
    assert [(row.unit_id, row.state, row.latest_id, row.in_progress)
            for row in coverage.coverage(hanne, today())] == uncached
