"""The compliance overview: per unit, open, overdue, and met on time versus late."""

import csv
import io
from datetime import date

import time_machine

from tidsnok.cases import services as case_services
from tidsnok.cases.models import EntryKind
from tidsnok.notify import compliance
from tests.conftest import enrol_totp

from .conftest import at, open_case

TODAY = date(2027, 4, 20)
PERIOD = {"start": "2027-03-01", "end": "2027-04-20"}


def conversation(world, case, on):
    with time_machine.travel(at(on), tick=False):
        case_services.add_entry(world.user("marte"), case, kind=EntryKind.CONVERSATION, occurred_on=on,
                                text="Samtale.", data={"participants": [world.emil.pk, world.marte.pk]})


def build(world):
    on_time = open_case(world, known_at=date(2027, 3, 22))
    conversation(world, on_time, date(2027, 3, 24))  # first conversation due 1 April: on time
    late = open_case(world, known_at=date(2027, 3, 22), concerns=[world.ella])
    conversation(world, late, date(2027, 4, 6))  # after 1 April: late
    school = open_case(world, actor="kim", known_at=date(2027, 3, 22), concerns=[world.kari])  # nothing done
    return on_time, late, school


def rows_by_code(user):
    rows, total = compliance.overview(user, date(2027, 3, 1), TODAY, TODAY)
    return {r.unit.code: r for r in rows}, total


def test_counts_per_unit_for_organisation_wide_hr(world):
    build(world)
    rows, total = rows_by_code(world.user("hanne"))
    hj, sk = rows["HJ"], rows["SK"]
    # First conversation: one on time, one late in HJ; assessments (due 8 April) missed: late, still open.
    assert (hj.on_time, hj.late) == (1, 3)
    assert hj.percent == 25
    assert (sk.on_time, sk.late) == (0, 2)
    assert sk.overdue == 2 and sk.open >= 2
    assert total.on_time == 1 and total.late == 5
    assert rows["SY"].open == 0 and rows["SY"].percent is None


def test_a_manager_sees_her_own_units_only(world):
    build(world)
    rows, _total = rows_by_code(world.user("kim"))
    assert set(rows) == {"SK"}
    rows, _total = rows_by_code(world.user("helga"))
    assert set(rows) == {"HEL", "HJ", "SY"}


def test_hr_with_a_limited_scope_sees_that_scope(world):
    build(world)
    rows, _total = rows_by_code(world.user("hugo"))
    assert set(rows) == {"HEL", "HJ", "SY"}


def test_the_page_the_drill_down_and_the_csv(world, login):
    on_time, late, school = build(world)
    secret = enrol_totp(world.user("hanne"))
    with time_machine.travel(at(TODAY), tick=True):
        client = login(world.user("hanne"), secret)
        page = client.get("/etterlevelse/", PERIOD)
        assert page.status_code == 200
        html = page.content.decode()
        # The top level: the sectors, each with the units below it summed in.
        assert "Helse" in html and "<svg" in html and "25 %" in html and "Hjemmetjenesten" not in html
        unit = world.units["HJ"]
        opened = client.get("/etterlevelse/", {**PERIOD, "unit": world.units["HEL"].pk}).content.decode()
        assert "Hjemmetjenesten" in opened and f"/etterlevelse/enhet/{unit.pk}/" in opened
        drill = client.get(f"/etterlevelse/enhet/{unit.pk}/", PERIOD).content.decode()
        assert on_time.number in drill and late.number in drill and school.number not in drill
        response = client.get("/etterlevelse/etterlevelse.csv", PERIOD)
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:2] == ["Enhetskode", "Enhet"]
    hj = next(r for r in rows if r[0] == "HJ")
    assert hj[4:7] == ["1", "3", "25"]
    assert rows[-1][1] == "Totalt"


def test_employees_and_out_of_scope_units_get_404(world, client):
    build(world)
    client.force_login(world.user("emil"))
    assert client.get("/etterlevelse/").status_code == 404
    assert client.get("/etterlevelse/etterlevelse.csv").status_code == 404
    client.force_login(world.user("kim"))
    assert client.get(f"/etterlevelse/enhet/{world.units['HJ'].pk}/").status_code == 404
    assert client.get(f"/etterlevelse/enhet/{world.units['SK'].pk}/").status_code == 200


def test_a_unit_name_cannot_become_a_spreadsheet_formula(world):
    unit = world.units["SK"]
    unit.name = "=HYPERLINK(\"http://x\")"
    rows, total = compliance.overview(world.user("hanne"), date(2027, 3, 1), TODAY, TODAY)
    for row in rows:
        if row.unit.pk == unit.pk:
            row.unit.name = unit.name
    out = io.StringIO()
    compliance.write_csv(out, rows, total, ["a"] * 7, "Totalt")
    assert "'=HYPERLINK" in out.getvalue()


def level_numbers(row):
    return (row.open, row.overdue, row.on_time, row.late)


def test_each_level_of_the_tree_sums_the_full_table(world):
    build(world)
    for key in ("hanne", "hugo", "helga", "kim"):
        user = world.user(key)
        rows, total = compliance.overview(user, date(2027, 3, 1), TODAY, TODAY)
        own = {r.unit.pk: level_numbers(r) for r in rows}
        paths = {r.unit.pk: r.unit.path for r in rows}

        def branch(unit):
            sums = [0, 0, 0, 0]
            for pk, numbers in own.items():
                if paths[pk].startswith(unit.path):
                    sums = [a + b for a, b in zip(sums, numbers)]
            return tuple(sums)

        top = compliance.level(user, date(2027, 3, 1), TODAY, TODAY)
        assert level_numbers(top.total) == level_numbers(total)
        shown = top.rows + ([top.own] if top.own else [])
        assert tuple(map(sum, zip(*map(level_numbers, shown)))) == level_numbers(total)
        for pk in own:
            opened = compliance.level(user, date(2027, 3, 1), TODAY, TODAY, pk)
            assert level_numbers(opened.own) == own[pk]
            for row in opened.rows:
                assert level_numbers(row) == branch(row.unit)
            assert level_numbers(opened.total) == level_numbers(total)


def test_the_top_level_for_hr_and_a_manager(world):
    build(world)
    top = compliance.level(world.user("hanne"), date(2027, 3, 1), TODAY, TODAY)
    assert top.opened.code == "ROOT" and [r.unit.code for r in top.rows] == ["HEL", "SK"]
    hel = top.rows[0]
    assert (hel.on_time, hel.late, hel.percent, hel.children) == (1, 3, 25, 2)
    top = compliance.level(world.user("kim"), date(2027, 3, 1), TODAY, TODAY)
    assert top.opened is None and [r.unit.code for r in top.rows] == ["SK"]
    helga = compliance.level(world.user("helga"), date(2027, 3, 1), TODAY, TODAY, world.units["HJ"].pk)
    assert helga.ancestors == [world.units["HEL"]]


def test_a_unit_out_of_scope_cannot_be_opened(world, client):
    build(world)
    client.force_login(world.user("kim"))
    assert client.get("/etterlevelse/", {"unit": world.units["HEL"].pk}).status_code == 404
    assert client.get("/etterlevelse/", {"unit": "x"}).status_code == 404
    assert client.get("/etterlevelse/", {"unit": world.units["SK"].pk}).status_code == 200


def test_the_csv_still_has_every_unit(world, login):
    build(world)
    secret = enrol_totp(world.user("hanne"))
    with time_machine.travel(at(TODAY), tick=True):
        client = login(world.user("hanne"), secret)
        response = client.get("/etterlevelse/etterlevelse.csv", {**PERIOD, "unit": world.units["HEL"].pk})
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert {r[0] for r in rows[1:-1]} == {"ROOT", "HEL", "HJ", "SY", "SK"}
    assert rows[-1][4:6] == ["1", "5"]
