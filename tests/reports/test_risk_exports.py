"""The risk room in the reports: the inspection pack lists the units' risk assessments of the
period and their action plans; the access copy shows what the room holds about the employee
(where she took part, what she wrote, the measures she owns)."""

import csv
import io
import zipfile
from datetime import date

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.notify.conftest import at
from tidsnok.absence import statistics
from tidsnok.cases.models import MeasureStatus
from tidsnok.org.models import Person, User
from tidsnok.reports.access_copy import access_copy_document, collect, export_access_copy
from tidsnok.reports.inspection import export_inspection_pack
from tidsnok.risk import services as risk_services
from tidsnok.risk.models import ParticipantRole

TODAY = date(2027, 4, 20)
START, END = date(2027, 1, 1), date(2027, 3, 31)
RISK_TEXT = "Risikobeskrivelse-som-ikke-skal-ut"
CONCLUSION = "Konklusjon-som-ikke-skal-ut"
COMMENT = "Kommentaren til Emil om overlapp mellom vaktene"
SECRETS = (RISK_TEXT, CONCLUSION, COMMENT)


def on(day: date):
    return time_machine.travel(at(day, 10), tick=False)


def fresh(user) -> User:
    return User.objects.get(pk=user.pk)


def complete(world, who, assessment, summary="Ferdig."):
    assessment.refresh_from_db()
    return risk_services.complete(world.user(who), assessment, assessment.version, summary=summary)


@pytest.fixture
def rounds(world):
    """HJ: a round of 2025 superseded by the round of 2026, which is in force when the period
    begins (three risks, two measures, three participants, a comment by Emil). SY: a round started
    in the period, still in progress. SK: a round of 2024 nobody repeated (in force, overdue),
    and one started after the period."""
    marte, kim = world.user("marte"), world.user("kim")
    with on(date(2025, 4, 1)):
        old = risk_services.start_assessment(marte, world.units["HJ"], title="HJ 2025", method="workshop",
                                             started_on=date(2025, 4, 1))
        risk_services.add_risk(marte, old, factor_code="", description="Gammel", likelihood=1, consequence=1)
        risk_services.add_participant(marte, old, person=world.emil, role=ParticipantRole.EMPLOYEE,
                                      took_part_on=date(2025, 4, 1))
        complete(world, "marte", old)
    with on(date(2026, 5, 4)):
        current = risk_services.start_assessment(marte, world.units["HJ"], title="HJ 2026", method="both",
                                                 started_on=date(2026, 5, 4))
        high = risk_services.add_risk(marte, current, factor_code="workload", description=RISK_TEXT, likelihood=3,
                                      consequence=3)
        medium = risk_services.add_risk(marte, current, factor_code="", description="Alene på natt", likelihood=1,
                                        consequence=4)
        risk_services.add_risk(marte, current, factor_code="", description="Lite", likelihood=1, consequence=2)
        staffing = risk_services.add_action(marte, current, what="Én ekstra på kveldsvakt", owner=world.ella,
                                            due=date(2026, 9, 1), risk=high)
        risk_services.add_action(marte, current, what="Trygghetsalarm på natt", owner=world.emil,
                                 due=date(2027, 2, 1), risk=medium)
        risk_services.add_action(marte, current, what="Felles lunsj", owner=world.emil, due=date(2027, 6, 1))
        for person, role in ((world.emil, "employee"), (world.ella, "employee"), (world.siri, "safety_rep")):
            risk_services.add_participant(marte, current, person=person, role=role, took_part_on=date(2026, 5, 4))
        risk_services.add_comment(world.user("emil"), current, COMMENT)
    with on(date(2026, 5, 20)):
        complete(world, "marte", current, summary=CONCLUSION)
    with on(date(2026, 8, 20)):
        staffing.refresh_from_db()
        risk_services.update_action(world.user("ella"), staffing, staffing.version, status=MeasureStatus.DONE)
    with on(date(2027, 2, 10)):
        sy = risk_services.start_assessment(world.user("sander"), world.units["SY"], title="=Sykehjemmet 2027",
                                            method="survey", started_on=date(2027, 2, 10))
    with on(date(2024, 1, 10)):
        school = risk_services.start_assessment(kim, world.units["SK"], title="Skolen 2024", method="other",
                                                started_on=date(2024, 1, 10))
        risk_services.add_risk(kim, school, factor_code="", description="Lite", likelihood=1, consequence=1)
        risk_services.add_participant(kim, school, person=world.kari, role=ParticipantRole.EMPLOYEE,
                                      took_part_on=date(2024, 1, 10))
        complete(world, "kim", school)
    with on(date(2027, 4, 10)):
        later = risk_services.start_assessment(kim, world.units["SK"], title="Skolen 2027", method="workshop",
                                               started_on=date(2027, 4, 10))
    return {"old": old, "current": current, "sy": sy, "school": school, "later": later}


@pytest.fixture
def today():
    with on(TODAY):
        yield TODAY


def unpack(content: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def text(data: bytes) -> str:
    assert data.startswith(b"\xef\xbb\xbf"), "every file starts with a UTF-8 byte-order mark"
    return data.decode("utf-8-sig")


def records(data: bytes) -> list[dict]:
    rows = list(csv.reader(io.StringIO(text(data)), delimiter=";"))
    return [dict(zip(rows[0], row)) for row in rows[1:]]


def pack(world, who="hanne", lang="en"):
    return unpack(export_inspection_pack(world.user(who), start=START, end=END, lang=lang).content)


# --- the inspection pack --------------------------------------------------------------------------


def test_the_pack_lists_the_assessments_in_progress_or_in_force_in_the_period(world, rounds, today):
    files = pack(world)
    rows = records(files["risikovurderinger.csv"])
    # The round in force at the start (HJ 2026), the one in progress (SY) and the unrepeated one of
    # 2024 (SK); not HJ 2025, which the 2026 round replaced, nor SK's round begun after the period.
    assert [r["Title"] for r in rows] == ["HJ 2026", "'=Sykehjemmet 2027", "Skolen 2024"]
    hj = rows[0]
    assert hj["Assessment no."] == str(rounds["current"].pk)
    assert (hj["Unit code"], hj["Unit"], hj["Method"]) == ("HJ", "Hjemmetjenesten", "Survey and workshop")
    assert (hj["Started"], hj["Completed"], hj["Next review"], hj["Status"]) == (
        "2026-05-04", "2026-05-20", "2027-05-20", "Completed")
    assert (hj["Low risks"], hj["Medium risks"], hj["High risks"]) == ("1", "1", "1")
    assert hj["Took part as: Employee"] == "2" and hj["Took part as: Safety representative"] == "1"
    assert hj["Took part as: Manager"] == "0"
    sy = rows[1]
    assert (sy["Status"], sy["Completed"], sy["Next review"], sy["High risks"]) == ("In progress", "", "", "0")
    assert rows[2]["Next review"] == "2025-01-10"  # overdue: the inspector sees it


def test_the_pack_holds_the_action_plans_with_risk_level_owner_and_overdue(world, rounds, today):
    rows = records(pack(world)["handlingsplaner.csv"])
    assert list(rows[0]) == ["Assessment no.", "Unit code", "Assessment", "Measure", "Risk level", "Owner", "Due",
                             "Status", "Overdue", "Done on"]
    plan = [(r["Measure"], r["Risk level"], r["Owner"], r["Due"], r["Status"], r["Overdue"], r["Done on"])
            for r in rows]
    assert plan == [
        ("Én ekstra på kveldsvakt", "High", "Ella Ansatt", "2026-09-01", "Done", "no", "2026-08-20"),
        ("Trygghetsalarm på natt", "Medium", "Emil Ansatt", "2027-02-01", "Planned", "yes", ""),
        ("Felles lunsj", "", "Emil Ansatt", "2027-06-01", "Planned", "no", ""),
    ]
    assert {r["Assessment"] for r in rows} == {"HJ 2026"}


def test_the_index_says_what_the_risk_files_hold(world, rounds, today):
    index = text(pack(world)["innhold.txt"])
    assert "- risikovurderinger.csv: 3 mappings and risk assessments" in index
    assert "- handlingsplaner.csv: the 3 measures of their action plans" in index
    assert "participants are counted by capacity, not named" in index


def test_an_organisation_without_assessments_is_told_so_in_the_index(world, today):
    files = pack(world)
    assert len(records(files["risikovurderinger.csv"])) == 0
    assert text(files["risikovurderinger.csv"]).startswith("Assessment no.;Unit code;Unit;Title")
    assert "no mapping and risk assessment of a unit in progress or in force in the period" in text(
        files["innhold.txt"])


def test_the_risks_the_conclusions_the_comments_and_the_participants_names_stay_out(world, rounds, today):
    files = pack(world)
    for name, content in files.items():
        body = content.decode("utf-8-sig")
        for secret in (*SECRETS, "Siri Verneombud"):
            assert secret not in body, (name, secret)


def test_sector_hr_gets_the_assessments_she_may_read(world, rounds, today):
    files = pack(world, "hugo")
    assert {r["Unit code"] for r in records(files["risikovurderinger.csv"])} == {"HJ", "SY"}
    assert "Skolen" not in text(files["handlingsplaner.csv"]) + text(files["risikovurderinger.csv"])


def test_the_risk_files_come_in_the_pack_language(world, rounds, today):
    files = pack(world, lang="nb")
    assert set(files) >= {"risikovurderinger.csv", "handlingsplaner.csv"}
    overdue = next(row for row in records(files["handlingsplaner.csv"]) if "Trygghetsalarm på natt" in row.values())
    assert "Planlagt" in overdue.values()  # the measure statuses as in the case files


def test_the_export_event_counts_the_assessments_and_measures(world, rounds, today):
    exported = export_inspection_pack(world.user("hanne"), start=START, end=END, lang="nb")
    assert exported.event.data["risk_assessments"] == 3 and exported.event.data["risk_actions"] == 3


def _pack_queries(world) -> int:
    from django.core.cache import cache

    cache.clear()
    statistics._RECENT.clear()
    hanne = fresh(world.user("hanne"))
    with CaptureQueriesContext(connection) as queries:
        export_inspection_pack(hanne, start=START, end=END, lang="nb")
    return len(queries)


def test_the_pack_costs_the_same_queries_however_many_assessments(world, rounds, today):
    export_inspection_pack(world.user("hanne"), start=START, end=END, lang="nb")  # the chain's first checkpoint
    few = _pack_queries(world)
    with on(date(2027, 3, 1)):
        for unit in ("HEL", "ROOT", "SY"):
            assessment = risk_services.start_assessment(world.user("hanne"), world.units[unit], title=f"Ny {unit}",
                                                        method="workshop", started_on=date(2027, 3, 1))
            risk = risk_services.add_risk(world.user("hanne"), assessment, factor_code="", description="x",
                                          likelihood=4, consequence=4)
            risk_services.add_action(world.user("hanne"), assessment, what="Tiltak", owner=world.marte,
                                     due=date(2027, 3, 20), risk=risk)
            risk_services.add_participant(world.user("hanne"), assessment, person=world.siri, role="safety_rep",
                                          took_part_on=date(2027, 3, 1))
    assert _pack_queries(world) == few
    assert len(records(pack(world)["risikovurderinger.csv"])) == 6


# --- the access copy ------------------------------------------------------------------------------


def risk_section(document) -> list[dict]:
    return next(s for s in document["sections"] if s["title"] == "Risk assessments of the work environment")["blocks"]


def tables(blocks) -> list[list[list[str]]]:
    return [b["rows"] for b in blocks if b["type"] == "table"]


def test_the_copy_shows_where_she_took_part_what_she_wrote_and_what_she_owns(world, rounds, today):
    hanne = fresh(world.user("hanne"))
    document = access_copy_document(hanne, collect(hanne, world.emil), "en", at(TODAY))
    took_part, comments, owns = tables(risk_section(document))
    assert took_part == [["HJ 2025", "Hjemmetjenesten (HJ)", "Employee", "01.04.2025"],
                         ["HJ 2026", "Hjemmetjenesten (HJ)", "Employee", "04.05.2026"]]
    assert [row[:2] + row[3:] for row in comments] == [["HJ 2026", "Hjemmetjenesten (HJ)", "Employee", COMMENT]]
    assert owns == [["HJ 2026", "Hjemmetjenesten (HJ)", "Trygghetsalarm på natt", "01.02.2027", "Planned"],
                    ["HJ 2026", "Hjemmetjenesten (HJ)", "Felles lunsj", "01.06.2027", "Planned"]]


def test_the_copy_shows_none_of_the_others_rows(world, rounds, today):
    hanne = fresh(world.user("hanne"))
    document = access_copy_document(hanne, collect(hanne, world.ella), "en", at(TODAY))
    took_part, comments, owns = tables(risk_section(document))
    assert [row[0] for row in took_part] == ["HJ 2026"] and comments == []
    assert owns == [["HJ 2026", "Hjemmetjenesten (HJ)", "Én ekstra på kveldsvakt", "01.09.2026", "Done (20.08.2026)"]]
    # Siri is in SY; she took part in HJ's assessment as the sector's safety representative.
    siri = access_copy_document(hanne, collect(hanne, world.siri), "en", at(TODAY))
    assert tables(risk_section(siri))[0] == [["HJ 2026", "Hjemmetjenesten (HJ)", "Safety representative",
                                              "04.05.2026"]]


def test_the_pdf_carries_the_section_and_the_event_its_counts(world, rounds, today):
    from pypdf import PdfReader

    exported = export_access_copy(fresh(world.user("hanne")), world.emil, "en")
    content = " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(exported.content)).pages).split())
    assert "Risk assessments of the work environment" in content
    assert "Trygghetsalarm på natt" in content and "HJ 2026" in content
    counts = exported.event.data["counts"]
    assert (counts["risk_participations"], counts["risk_comments"], counts["risk_actions"]) == (2, 1, 2)
    assert COMMENT not in repr(exported.event.data)


def test_the_copy_says_so_when_the_room_holds_nothing_about_her(world, rounds, today):
    hanne = fresh(world.user("hanne"))
    document = access_copy_document(hanne, collect(hanne, world.stine), "en", at(TODAY))
    assert tables(risk_section(document)) == [[], [], []]


def test_hr_sees_the_risk_counts_on_the_persons_page(world, rounds, today, client):
    from tests.conftest import enrol_totp

    enrol_totp(world.user("hanne"))
    client.force_login(world.user("hanne"))
    page = client.get(f"/rapporter/innsyn/{world.emil.pk}/").content.decode()
    assert 'data-count="risk_participations">2<' in page
    assert 'data-count="risk_comments">1<' in page
    assert 'data-count="risk_actions">2<' in page


def _copy_queries(world) -> int:
    hanne = fresh(world.user("hanne"))
    with CaptureQueriesContext(connection) as captured:
        collected = collect(hanne, Person.objects.get(pk=world.emil.pk))
        access_copy_document(hanne, collected, "nb", at(TODAY))
    return len(captured)


def test_the_copy_costs_the_same_queries_however_much_she_took_part(world, rounds, today):
    few = _copy_queries(world)
    with on(date(2027, 3, 1)):
        for unit in ("SY", "HEL"):
            assessment = risk_services.start_assessment(world.user("hanne"), world.units[unit], title=f"Ny {unit}",
                                                        method="workshop", started_on=date(2027, 3, 1))
            risk_services.add_participant(world.user("hanne"), assessment, person=world.emil, role="employee",
                                          took_part_on=date(2027, 3, 1))
            risk_services.add_action(world.user("hanne"), assessment, what="Tiltak", owner=world.emil,
                                     due=date(2027, 3, 20))
            risk_services.add_comment(world.user("emil"), assessment, "Enig.")
    assert _copy_queries(world) == few
