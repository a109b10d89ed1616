"""The sick-leave API: episodes, the import and the statistics."""

from datetime import date

import pytest
import time_machine



@pytest.fixture(autouse=True)
def december():
    with time_machine.travel(date(2026, 12, 1), tick=False):
        yield




def test_a_manager_registers_a_long_absence_and_gets_the_follow_up_case(api, world):
    response = api("marte", "post", "/absences", {"person": world.emil.pk, "start": "2026-12-01", "grade": 100,
                                                  "certified": "doctor"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["case"] is not None
    case = api("marte", "get", f"/cases/{body['case']}").json()
    rules = {d["rule"]: d for d in case["deadlines"]}
    assert rules["sick_leave.follow_up_plan"]["due"] == "2026-12-28"
    assert rules["sick_leave.follow_up_plan"]["basis"] == "aml § 4-6 (3)"


def test_a_diagnosis_field_is_refused(api, world):
    response = api("marte", "post", "/absences", {"person": world.emil.pk, "start": "2026-12-01",
                                                  "certified": "doctor", "diagnosis": "L03"})
    assert response.status_code == 422


def test_a_colleague_cannot_see_or_register_absence(api, world):
    api("marte", "post", "/absences", {"person": world.emil.pk, "start": "2026-12-01", "certified": "self"})
    assert api("ella", "get", "/absences").json()["items"] == []
    response = api("ella", "post", "/absences", {"person": world.emil.pk, "start": "2026-11-01", "certified": "self"})
    assert response.status_code == 404


def test_the_employee_sees_her_own_absence(api, world):
    api("marte", "post", "/absences", {"person": world.emil.pk, "start": "2026-12-01", "certified": "self"})
    items = api("emil", "get", "/absences").json()["items"]
    assert [item["person"] for item in items] == [world.emil.pk]


def test_a_stale_patch_is_refused_with_409(api, world):
    created = api("marte", "post", "/absences", {"person": world.emil.pk, "start": "2026-11-20",
                                                 "certified": "doctor"}).json()
    ok = api("marte", "patch", f"/absences/{created['id']}", {"version": created["version"], "end": "2026-11-30"})
    assert ok.status_code == 200, ok.content
    stale = api("marte", "patch", f"/absences/{created['id']}", {"version": created["version"], "grade": 50})
    assert stale.status_code == 409
    assert stale.json()["message"]


def test_the_import_returns_a_per_row_report(api, world, client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    bad = SimpleUploadedFile("f.csv", b"ansattnummer;fra;type\nT999;01.12.2026;sykmelding\n", content_type="text/csv")
    response = api("ada", "post", "/absences/import", {"file": bad})
    assert response.status_code == 400
    assert response.json()["errors"][0]["line"] == 2


def test_statistics_for_hr_and_refused_for_an_employee(api, world):
    response = api("hugo", "get", "/statistics/sick-leave?from=2026-11-01&to=2026-11-30")
    assert response.status_code == 200, response.content
    assert {row["unit_name"] for row in response.json()["rows"]} <= {"Helse", "Hjemmetjenesten", "Sykehjemmet"}
    assert api("emil", "get", "/statistics/sick-leave").status_code == 404
    assert api("helga", "get", "/statistics/sick-leave?from=2026-11-01&to=0").status_code == 422


def test_the_sick_leave_case_shows_episodes_plan_and_meetings_and_logs_the_read(api, world):
    from tidsnok.audit.models import AuditEvent

    created = api("marte", "post", "/absences", {"person": world.emil.pk, "start": "2026-12-01",
                                                 "certified": "doctor"}).json()
    body = api("marte", "get", f"/cases/{created['case']}").json()
    assert body["details"]["episodes"][0]["grades"] == [{"from_date": "2026-12-01", "grade": 100}]
    assert body["details"]["plan_versions"] == []
    assert AuditEvent.objects.filter(action="ACCESS", object_id=str(created["case"])).exists()
