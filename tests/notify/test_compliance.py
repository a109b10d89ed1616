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
        assert "Hjemmetjenesten" in html and "<svg" in html and "25 %" in html
        unit = world.units["HJ"]
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
