"""The import service: all or nothing, idempotent, changes recorded without personal values."""

import json
from datetime import date, timedelta

import pytest
from django.utils import timezone, translation

from tests.org.helpers import PEOPLE_CHANGED_CSV, PEOPLE_CSV, UNITS_CHANGED_CSV, UNITS_CSV, counts
from tidsnok.audit.models import AuditEvent
from tidsnok.audit.services import verify_chain
from tidsnok.org import scope
from tidsnok.org.importer import PEOPLE, UNITS
from tidsnok.org.importing import import_organisation
from tidsnok.org.models import OrgImport, Person, Role, RoleAssignment, Unit
from tidsnok.org.services import NotAllowed


def run(world, units=None, people=None, actor=None, language="en"):
    with translation.override(language):
        return import_organisation(actor or world.user("ada"), world.org, units_file=units, people_file=people,
                                   filename="test.csv")


def active_managers(code):
    unit = Unit.objects.get(code=code)
    return sorted(RoleAssignment.objects.active().filter(unit=unit, role=Role.MANAGER)
                  .values_list("person__employee_number", flat=True))


def test_it_imports_units_people_and_managers(world):
    result = run(world, UNITS_CSV, PEOPLE_CSV)

    assert result.ok, result.errors
    bhg, bhg1 = Unit.objects.get(code="BHG"), Unit.objects.get(code="BHG1")
    assert bhg.parent == world.units["ROOT"]
    assert bhg1.path == f"{bhg.path}{bhg1.pk:010d}/" and bhg1.depth == 2
    per = Person.objects.get(employee_number="P101")
    assert (per.unit, per.position_percent, per.start_date) == (bhg1, 80, date(2021, 8, 15))
    lise = Person.objects.get(employee_number="P102")
    assert (lise.email, lise.position_percent, lise.end_date) == ("", 100, date(2026, 12, 31))
    assert active_managers("BHG") == ["P100"] and active_managers("BHG1") == ["P101"]
    assert RoleAssignment.objects.get(person=per, role=Role.MANAGER).starts_on == timezone.localdate()
    assert result.summary["counts"] == {
        "units_created": 2, "units_changed": 0, "people_created": 3, "people_changed": 0, "managers_changed": 2,
    }
    assert result.summary["people"]["not_in_file"] == Person.objects.count() - 3
    event = AuditEvent.objects.order_by("-seq").first()
    assert event.action == "org.imported" and event.object_id == str(result.org_import.pk)
    assert verify_chain().ok


def test_new_people_are_created_in_bulk_and_audited_as_one_by_one(world, monkeypatch):
    from tidsnok.org import services

    monkeypatch.setattr(services, "CREATE_BATCH", 2)  # three people: two inserts
    services.save_person(world.user("ada"), world.org, "P999", name="Enkelt Lagret", unit_id=world.units["SK"].pk,
                         position="Lærer", start_date=date(2025, 8, 1))
    one_by_one = AuditEvent.objects.get(action="person.created", object_id=str(Person.objects.get(
        employee_number="P999").pk))

    result = run(world, UNITS_CSV, PEOPLE_CSV)

    assert result.ok, result.errors
    assert sorted(result.summary["people"]["created"]) == ["P100", "P101", "P102"]
    for number in ("P100", "P101", "P102"):
        person = Person.objects.get(employee_number=number)
        event = AuditEvent.objects.get(action="person.created", object_id=str(person.pk))
        assert (event.object_type, event.actor_id, sorted(event.data)) == (
            one_by_one.object_type, one_by_one.actor_id, sorted(one_by_one.data))
        assert event.data == {"employee_number": number, "unit": person.unit_id}
    assert verify_chain().ok


def test_new_units_are_created_in_bulk_and_audited_as_one_by_one(world, monkeypatch):
    from tidsnok.org import services

    monkeypatch.setattr(services, "CREATE_BATCH", 1)
    services.save_unit(world.user("ada"), world.org, "ENK", "Enkelt lagret", world.units["SK"])
    one_by_one = AuditEvent.objects.get(action="unit.created", object_id=str(Unit.objects.get(code="ENK").pk))

    result = run(world, UNITS_CSV, PEOPLE_CSV)

    assert result.ok, result.errors
    assert result.summary["units"]["created"] == ["BHG", "BHG1"]
    for code, parent in (("BHG", "ROOT"), ("BHG1", "BHG")):
        unit = Unit.objects.get(code=code)
        event = AuditEvent.objects.get(action="unit.created", object_id=str(unit.pk))
        assert (event.object_type, event.actor_id, sorted(event.data)) == (
            one_by_one.object_type, one_by_one.actor_id, sorted(one_by_one.data))
        assert event.data == {"code": code, "parent": parent}
    assert verify_chain().ok


def test_a_stored_unit_moved_below_a_new_one_keeps_the_tree_s_paths_whole(world):
    # New OMS under ROOT; the stored HJ (with Marte's people) moves below it; new HJ2 below HJ.
    units = """kode;navn;overordnet
HJ2;Hjemmetjenesten sone 2;HJ
HJ;Hjemmetjenesten;OMS
OMS;Omsorg;ROOT
""".encode()
    result = run(world, units)

    assert result.ok, result.errors
    assert sorted(result.summary["units"]["created"]) == ["HJ2", "OMS"]
    assert result.summary["units"]["changed"] == {"HJ": ["parent"]}
    for unit in Unit.objects.select_related("parent"):
        assert (unit.path, unit.depth) == (unit.compute_path(), unit.compute_path().count("/") - 2), unit.code
    below_oms = Unit.objects.filter(path__startswith=Unit.objects.get(code="OMS").path)
    assert sorted(below_oms.values_list("code", flat=True)) == ["HJ", "HJ2", "OMS"]
    # Scopes follow the paths: Marte's reaches the new unit below hers, Helga's (HEL) no longer HJ.
    hj, hj2 = Unit.objects.get(code="HJ"), Unit.objects.get(code="HJ2")
    assert {hj.pk, hj2.pk} <= set(scope.managed_unit_ids(world.user("marte")))
    assert hj.pk not in set(scope.managed_unit_ids(world.user("helga")))
    assert verify_chain().ok


def test_it_imports_a_people_file_alone_against_existing_units(world):
    people = "ansattnummer;navn;epost;enhet;stilling;startdato\nP200;Nina Ny;nina@test.no;SK;Lærer;01.08.2025\n".encode()
    result = run(world, people=people)
    assert result.ok, result.errors
    assert Person.objects.get(employee_number="P200").unit == world.units["SK"]
    assert "not_in_file" in result.summary["people"]


def test_reimporting_the_same_files_changes_nothing(world):
    run(world, UNITS_CSV, PEOPLE_CSV)
    before = counts()
    last_seq = AuditEvent.objects.order_by("-seq").first().seq

    result = run(world, UNITS_CSV, PEOPLE_CSV)

    assert result.ok
    assert set(result.summary["counts"].values()) == {0}
    assert result.summary["units"]["unchanged"] == 2 and result.summary["people"]["unchanged"] == 3
    after = counts()
    # Decision: one OrgImport row and one org.imported event, no change events.
    assert after == {**before, "imports": before["imports"] + 1, "events": before["events"] + 1}
    assert list(AuditEvent.objects.filter(seq__gt=last_seq).values_list("action", flat=True)) == ["org.imported"]
    first, second = OrgImport.objects.order_by("pk")
    assert first.sha256 == second.sha256


def test_a_changed_file_updates_and_records_what_changed(world):
    run(world, UNITS_CSV, PEOPLE_CSV)
    last_seq = AuditEvent.objects.order_by("-seq").first().seq
    per = Person.objects.get(employee_number="P101")
    old_role = RoleAssignment.objects.get(person=per, role=Role.MANAGER)

    result = run(world, UNITS_CHANGED_CSV, PEOPLE_CHANGED_CSV)

    assert result.ok, result.errors
    summary = result.summary
    assert summary["units"]["changed"] == {"BHG": ["name"]}
    assert summary["people"]["changed"] == {"P101": ["position_percent", "unit"], "P102": ["name"]}
    assert summary["managers"]["changed"] == ["BHG1"]
    assert summary["counts"] == {
        "units_created": 0, "units_changed": 1, "people_created": 0, "people_changed": 2, "managers_changed": 1,
    }
    # Names, e-mail addresses and other values stay out of the summary and the log.
    stored = json.dumps(OrgImport.objects.get(pk=result.org_import.pk).summary)
    assert "Lise" not in stored and "Nyland" not in stored and "Barnehagene" not in stored
    events = list(AuditEvent.objects.filter(seq__gt=last_seq).order_by("seq"))
    assert sorted(e.action for e in events) == sorted(
        ["unit.changed", "person.changed", "person.changed", "role.ended", "role.assigned", "org.imported"]
    )
    assert "Nyland" not in json.dumps([e.data for e in events])
    # The old manager keeps the role through yesterday; the new one has it from today.
    old_role.refresh_from_db()
    assert old_role.ends_on == timezone.localdate() - timedelta(days=1)
    assert active_managers("BHG1") == ["P102"]
    assert Person.objects.get(employee_number="P101").unit.code == "BHG"


def test_a_changed_file_read_a_person_a_query_updates_only_who_changed(world, monkeypatch):
    from tidsnok.org import importer

    run(world, UNITS_CSV, PEOPLE_CSV)
    monkeypatch.setattr(importer, "KEYS_PER_QUERY", 1)  # the file's people, one per query
    result = run(world, UNITS_CHANGED_CSV, PEOPLE_CHANGED_CSV)

    assert result.ok, result.errors
    assert result.summary["people"]["changed"] == {"P101": ["position_percent", "unit"], "P102": ["name"]}
    assert result.summary["people"]["unchanged"] == 1 and result.summary["people"]["created"] == []


def test_people_and_units_missing_from_a_reimport_are_kept(world):
    run(world, UNITS_CSV, PEOPLE_CSV)
    result = run(world, people=b"employee_number,name,email,unit,position,start_date\n"
                               b"P100,Berit Styrer,berit@test.no,BHG,Styrer,01.08.2019\n")
    assert result.ok
    assert Person.objects.filter(employee_number__in=["P101", "P102"]).count() == 2
    assert Unit.objects.filter(code="BHG1").exists()
    assert result.summary["people"]["not_in_file"] == Person.objects.count() - 1


def test_a_blank_manager_cell_leaves_the_manager_alone(world):
    result = run(world, b"code,name,parent,manager\nHJ,Hjemmetjenesten,HEL,\n")
    assert result.ok
    assert active_managers("HJ") == [world.marte.employee_number]


def test_moving_a_unit_moves_its_subtree(world):
    result = run(world, b"code,name,parent\nHEL,Helse,SK\n")
    assert result.ok, result.errors
    sk = Unit.objects.get(code="SK")
    assert Unit.objects.get(code="HJ").path.startswith(sk.path)
    assert Unit.objects.get(code="HJ").depth == 3


def test_a_file_with_bad_rows_reports_every_error_and_writes_nothing(world):
    units = """code,name,parent,manager
NEW,Ny enhet,NOWHERE,
NEW,Ny enhet igjen,ROOT,
ROOT,Test-kommune,HJ,
SY2,Sykehjem 2,HEL,X999
""".encode()
    people = """ansattnummer;navn;epost;enhet;stilling;startdato;stillingsprosent;sluttdato
P1;Anne;anne@test.no;MISSING;;01.01.2020;;
P2;Bo;bo@test;SK;;01.01.2020;;
P2;Bo igjen;bo2@test.no;SK;;01.01.2020;;
P3;Cato;;SK;;31.02.2020;;
P4;;;SK;;01.01.2020;;
P5;Dina;;SK;;01.01.2020;0;
P6;Eva;;SK;;01.01.2020;;2019-01-01
""".encode()
    before = counts()

    result = run(world, units, people)

    assert not result.ok
    found = {(e.file, e.line, e.column): e.reason for e in result.errors}
    assert found == {
        (UNITS, 2, "parent"): "Unknown unit “NOWHERE”: it is neither in the file nor in the organisation.",
        (UNITS, 3, "code"): "Duplicate unit code “NEW”: also on line 2.",
        (UNITS, 4, "parent"): "Cycle in the unit tree: ROOT → HJ → HEL → ROOT. A unit cannot lie below itself.",
        (UNITS, 5, "manager"): "Unknown manager: no person has employee number “X999”.",
        (PEOPLE, 2, "enhet"): "Unknown unit “MISSING”: it is neither in the file nor in the organisation.",
        (PEOPLE, 3, "epost"): "“bo@test” is not a valid e-mail address.",
        (PEOPLE, 4, "ansattnummer"): "Duplicate employee number “P2”: also on line 3.",
        (PEOPLE, 5, "startdato"): "“31.02.2020” is not a date. Write dd.mm.yyyy or yyyy-mm-dd.",
        (PEOPLE, 6, "navn"): "A value is required.",
        (PEOPLE, 7, "stillingsprosent"): "The position percentage must be a whole number from 1 to 100, not “0”.",
        (PEOPLE, 8, "sluttdato"): "The end date is before the start date.",
    }
    assert [e.file for e in result.errors] == [UNITS] * 4 + [PEOPLE] * 7  # units first, by line
    assert result.org_import is None
    assert counts() == before


@pytest.mark.parametrize("units,people,expected", [
    ("kode;navn;overordnet\nA;Bjørk;\n".encode("latin-1"), None, (UNITS, None, "")),
    (None, "ansattnummer;navn;epost;enhet;stilling\nP1;Åse;;SK;\n".encode(), (PEOPLE, 1, "start_date")),
])
def test_a_broken_file_writes_nothing(world, units, people, expected):
    before = counts()
    result = run(world, units, people)
    assert [(e.file, e.line, e.column) for e in result.errors] == [expected]
    assert counts() == before


def test_one_bad_file_blocks_the_good_one(world):
    before = counts()
    result = run(world, UNITS_CSV, PEOPLE_CSV.replace(b"01.08.2019", b"1 August 2019"))
    assert len(result.errors) == 1
    assert counts() == before


def test_errors_come_in_the_users_language(world):
    bad = b"employee_number,name,email,unit,position,start_date\nP1,Per,,NOWHERE,,2020-13-01\n"
    english = {e.column: e.reason for e in run(world, people=bad, language="en").errors}
    norwegian = {e.column: e.reason for e in run(world, people=bad, language="nb").errors}
    assert english["unit"] == "Unknown unit “NOWHERE”: it is neither in the file nor in the organisation."
    assert norwegian["unit"] == "Ukjent enhet «NOWHERE»: den finnes verken i filen eller i organisasjonen."
    assert norwegian["start_date"] == "«2020-13-01» er ikke en dato. Skriv dd.mm.åååå eller åååå-mm-dd."
    with translation.override("nb"):
        assert run(world, people=bad, language="nb").errors[0].file_label == "Personfil"


@pytest.mark.parametrize("persona", ["marte", "hanne", "emil"])
def test_only_an_administrator_may_import(world, persona):
    before = counts()
    with pytest.raises(NotAllowed):
        run(world, UNITS_CSV, PEOPLE_CSV, actor=world.user(persona))
    assert counts() == before


def test_nobody_may_import_without_a_login(world):
    with pytest.raises(NotAllowed):
        import_organisation(None, world.org, units_file=UNITS_CSV)


def test_an_administrator_of_another_organisation_may_not_import(world):
    from tidsnok.org import services

    other = services.create_organisation(None, "Annen kommune")
    assert scope.is_admin(world.user("ada"))
    with pytest.raises(NotAllowed):
        import_organisation(world.user("ada"), other, units_file=UNITS_CSV)


def test_an_unchanged_reimport_costs_the_same_queries_however_many_people(world):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def people(n):
        rows = ["employee_number,name,email,unit,position,start_date"]
        rows += [f"N{i},Person {i},p{i}@test.no,HJ,Helsefagarbeider,01.01.2020" for i in range(n)]
        return "\n".join(rows).encode()

    queries = []
    for size in (3, 30):
        run(world, people=people(size))
        with CaptureQueriesContext(connection) as captured:
            assert run(world, people=people(size)).summary["people"]["unchanged"] == size
        queries.append(len(captured))
    assert queries[0] == queries[1]
