"""The inspection pack (tilsynspakke): one ZIP of the documentation Arbeidstilsynet asks for.

Cases are opened through the spine's services on the days they became known;
the pack is exported on TODAY and read back: the ZIP's files, the CSVs parsed,
the audit event, and what must never be in it (names, free text).
"""

import csv
import hashlib
import io
import zipfile
from datetime import date

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.conftest import enrol_totp
from tests.notify.conftest import at, open_case
from tidsnok.access.policy import AccessDenied
from tidsnok.absence import statistics
from tidsnok.audit.models import AuditEvent
from tidsnok.cases import services as case_services
from tidsnok.cases.models import EntryKind, MeasureKind
from tidsnok.org import services as org_services
from tidsnok.org.models import User
from tidsnok.reports.inspection import PACK_ACTION, export_inspection_pack
from tidsnok.whistleblowing import services as wb_services

TODAY = date(2027, 4, 20)
START, END = date(2027, 1, 1), date(2027, 4, 20)
FILES = {"innhold.txt", "etterlevelse.csv", "sykefravaer.csv", "saker.csv", "frister.csv", "varslingsrutiner.txt",
         "risikovurderinger.csv", "handlingsplaner.csv"}
# A person and texts that must stay out of the pack's tables.
SECRET_NAME = "Zacharias Hemmeligsen"
SECRET_TEXTS = ("Beskrivelse-som-ikke-skal-ut", "Samtalenotat-som-ikke-skal-ut", "Tiltakstekst-som-ikke-skal-ut")


@pytest.fixture
def today():
    with time_machine.travel(at(TODAY, 10), tick=False):
        yield TODAY


def conversation(world, case, on, actor="marte", text="Samtale."):
    with time_machine.travel(at(on), tick=False):
        case_services.add_entry(world.user(actor), case, kind=EntryKind.CONVERSATION, occurred_on=on, text=text,
                                data={"participants": [p.person_id for p in case.parties.all()]})


@pytest.fixture
def cases(world):
    """HJ: one case with its first conversation in time, one with a secret name and texts.
    SK: a case nothing was done in. And an HJ case closed long before the period."""
    in_time = open_case(world, known_at=date(2027, 3, 22))
    conversation(world, in_time, date(2027, 3, 24))
    secret_person, _ = org_services.save_person(
        None, world.org, "T900", name=SECRET_NAME, email="zacharias@test.no", unit_id=world.units["HJ"].pk,
        position="Rådgiver", start_date=date(2020, 1, 1),
    )
    secret = open_case(world, known_at=date(2027, 2, 1), concerns=[secret_person], description=SECRET_TEXTS[0])
    conversation(world, secret, date(2027, 2, 2), text=SECRET_TEXTS[1])
    with time_machine.travel(at(date(2027, 2, 3)), tick=False):
        case_services.add_measure(world.user("marte"), secret, what=SECRET_TEXTS[2],
                                  kind=MeasureKind.ORGANISATIONAL, owner=world.marte, due=date(2027, 3, 1),
                                  area="workload")
    school = open_case(world, actor="kim", known_at=date(2027, 3, 22), concerns=[world.kari])
    old = open_case(world, known_at=date(2026, 1, 5), concerns=[world.ella])
    with time_machine.travel(at(date(2026, 2, 1)), tick=False):
        old.refresh_from_db()
        case_services.close_case(world.user("marte"), old, "Løst.", old.version)
    return {"in_time": in_time, "secret": secret, "school": school, "old": old}


def unpack(content: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def text(data: bytes) -> str:
    assert data.startswith(b"\xef\xbb\xbf"), "every file starts with a UTF-8 byte-order mark"
    return data.decode("utf-8-sig")


def table(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text(data)), delimiter=";"))


def export(world, who="hanne", **kwargs):
    kwargs.setdefault("start", START)
    kwargs.setdefault("end", END)
    kwargs.setdefault("lang", "nb")
    return export_inspection_pack(world.user(who), **kwargs)


# --- content --------------------------------------------------------------------------------------


def test_hr_gets_a_zip_with_every_file_and_the_right_rows(world, cases, today):
    exported = export(world)
    assert exported.filename == "tilsynspakke-2027-04-20.zip"
    files = unpack(exported.content)
    assert set(files) == FILES

    saker = table(files["saker.csv"])
    assert saker[0][:3] == ["Saksnummer", "Type", "Enhetskode"]
    by_number = {row[0]: row for row in saker[1:]}
    # Open in the period: the three of 2027; the case closed in February 2026 is not.
    assert set(by_number) == {cases["in_time"].number, cases["secret"].number, cases["school"].number}
    header = saker[0]
    in_time = dict(zip(header, by_number[cases["in_time"].number]))
    assert in_time["Type"] == "Psykososial bekymring"
    assert in_time["Enhetskode"] == "HJ" and in_time["Enhet"] == "Hjemmetjenesten"
    assert in_time["Leder visste først"] == "2027-03-22" and in_time["Status"] == "Åpen"
    # The first conversation two days after, which also met the first review; the assessment is
    # overdue and the next review not yet due.
    assert [in_time[c] for c in ("Frister holdt i tide", "Frister ikke holdt", "Åpne frister", "Av dem forfalt",
                                 "Tiltak")] == ["2", "0", "2", "1", "0"]
    secret = dict(zip(header, by_number[cases["secret"].number]))
    assert secret["Tiltak"] == "1"
    school = dict(zip(header, by_number[cases["school"].number]))
    assert [school[c] for c in ("Frister holdt i tide", "Åpne frister", "Av dem forfalt")] == ["0", "3", "2"]

    frister = table(files["frister.csv"])
    assert frister[0][:3] == ["Saksnummer", "Frist", "Hjemmel"]
    first = [dict(zip(frister[0], row)) for row in frister[1:]
             if row[0] == cases["in_time"].number and row[3].startswith("psychosocial.first_conversation")]
    assert len(first) == 1
    deadline = cases["in_time"].deadlines.get(rule_id="psychosocial.first_conversation")
    assert first[0]["Forfall"] == deadline.due.isoformat()
    assert first[0]["Oppfylt"] == "2027-03-24" and first[0]["Status"] == "Oppfylt i tide"
    assert first[0]["Hjemmel"] == deadline.basis or first[0]["Hjemmel"].startswith("tidsnok")
    # Every deadline of the three cases, and none of the old case.
    numbers = {cases[k].number for k in ("in_time", "secret", "school")}
    assert {row[0] for row in frister[1:]} == numbers
    in_order = list(dict.fromkeys(row[0] for row in frister[1:]))
    assert in_order == [row[0] for row in saker[1:]]  # the cases in the order of saker.csv
    assert len(frister) - 1 == sum(cases[k].deadlines.count() for k in ("in_time", "secret", "school"))

    etterlevelse = table(files["etterlevelse.csv"])
    assert etterlevelse[0] == ["Enhetskode", "Enhet", "Åpne frister", "Overskredet nå", "Holdt i tide", "For sent",
                               "Prosent i tide"]
    assert {row[0] for row in etterlevelse[1:-1]} == {"ROOT", "HEL", "HJ", "SY", "SK"}
    assert etterlevelse[-1][1] == "Totalt"

    sykefravaer = table(files["sykefravaer.csv"])
    assert sykefravaer[0][:3] == ["unit", "month", "possible_days"]
    assert {row[1] for row in sykefravaer[1:]} >= {"2027-01", "2027-04"}

    index = text(files["innhold.txt"])
    assert "Periode: 01.01.2027–20.04.2027" in index
    assert "Hanne HR (HR)" in index and "hele virksomheten" in index
    assert "Revisjonskjeden er" in index and "intakt" in index
    assert "Kjedens hode ved eksport: hendelse nr." in index
    assert "Last ned saksdokumentasjonen (PDF)" in index  # how to get one case's documentation
    assert "3 saker" in index

    routines = text(files["varslingsrutiner.txt"])
    assert "har ikke publisert varslingsrutiner" in routines


def test_sector_hr_gets_only_her_sector(world, cases, today):
    files = unpack(export(world, "hugo").content)
    saker = table(files["saker.csv"])
    assert {row[0] for row in saker[1:]} == {cases["in_time"].number, cases["secret"].number}
    assert {row[2] for row in saker[1:]} == {"HJ"}
    assert cases["school"].number not in text(files["frister.csv"])
    assert {row[0] for row in table(files["etterlevelse.csv"])[1:-1]} == {"HEL", "HJ", "SY"}
    assert "Skole" not in text(files["sykefravaer.csv"]) and "Test-kommune" not in text(files["sykefravaer.csv"])
    assert "HR for Helse (HEL)" in text(files["innhold.txt"])


def test_no_names_and_no_free_text_in_the_case_tables(world, cases, today):
    files = unpack(export(world).content)
    assert cases["secret"].number in text(files["saker.csv"])  # the case is there...
    for name in ("saker.csv", "frister.csv", "etterlevelse.csv", "sykefravaer.csv", "innhold.txt"):
        content = text(files[name])
        # ...but not who it is about, nor anything written in it.
        for secret in (SECRET_NAME, "Zacharias", *SECRET_TEXTS, "Emil Ansatt", "Marte Leder", "Samtale."):
            assert secret not in content, (name, secret)


def test_the_published_whistleblowing_routine_is_included(world, today):
    hanne = world.user("hanne")
    routine = wb_services.start_routine(hanne, world.org)
    wb_services.add_participation(hanne, routine, who="Alle ansatte på personalmøte", capacity="employee",
                                  on=date(2027, 1, 10), comment="Ønsker anonym kanal.")
    wb_services.add_participation(hanne, routine, who="Siri Verneombud", capacity="safety_rep", on=date(2027, 1, 12))
    routine.refresh_from_db()
    wb_services.publish_routine(hanne, routine, routine.version)
    files = unpack(export(world).content)
    routines = text(files["varslingsrutiner.txt"])
    assert "Versjon 1, publisert 20.04.2027." in routines
    assert "1. Oppfordring til å varsle" in routines
    assert routine.how_to_report[:60] in routines
    assert "- Ansatt, 10.01.2027" in routines and "- Verneombud, 12.01.2027" in routines
    for kept_in_tidsnok in ("Alle ansatte på personalmøte", "anonym kanal", "Siri"):
        assert kept_in_tidsnok not in routines
    assert "versjon 1" in text(files["innhold.txt"])


def test_the_pack_comes_in_english(world, cases, today):
    files = unpack(export(world, lang="en").content)
    assert table(files["saker.csv"])[0][:2] == ["Case number", "Kind"]
    assert "Period: 01.01.2027–20.04.2027" in text(files["innhold.txt"])
    assert table(files["etterlevelse.csv"])[0][0] == "Unit code"


# --- audit ----------------------------------------------------------------------------------------


def test_the_export_writes_one_audit_event_with_period_and_counts(world, cases, today):
    before = AuditEvent.objects.filter(action=PACK_ACTION).count()
    exported = export(world)
    events = list(AuditEvent.objects.filter(action=PACK_ACTION))
    assert len(events) == before + 1 == 1
    event = events[0]
    assert event.pk == exported.event.pk and event.actor_id == world.user("hanne").pk
    assert event.data["start"] == "2027-01-01" and event.data["end"] == "2027-04-20"
    assert event.data["cases"] == 3 and event.data["deadlines"] > 3
    assert event.data["sha256"] == hashlib.sha256(exported.content).hexdigest()
    assert event.data["chain_verified"] is True
    # Counts and a hash, never the content.
    payload = repr(event.data)
    assert cases["secret"].number not in payload and SECRET_TEXTS[0] not in payload


def test_the_case_pdfs_asked_for_go_into_the_pack(world, cases, today):
    exported = export(world, case_numbers=[cases["in_time"].number.lower()])
    files = unpack(exported.content)
    assert set(files) == FILES | {f"saker/{cases['in_time'].number}.pdf"}
    assert files[f"saker/{cases['in_time'].number}.pdf"].startswith(b"%PDF-")
    assert AuditEvent.objects.filter(action="case.exported", object_id=str(cases["in_time"].pk)).count() == 1
    assert exported.event.data["case_pdfs"] == [f"{cases['in_time'].number}.pdf"]


def test_a_case_outside_the_scope_cannot_be_added_and_nothing_is_written(world, cases, today):
    events = AuditEvent.objects.count()
    with pytest.raises(ValidationError) as raised:
        export(world, "hugo", case_numbers=[cases["school"].number])
    assert "case_numbers" in raised.value.message_dict
    assert AuditEvent.objects.count() == events


# --- who may ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["marte", "helga", "emil", "ask", "siri"])
def test_managers_employees_amu_and_safety_reps_may_not_export(world, who, today):
    with pytest.raises(AccessDenied):
        export(world, who)


@pytest.mark.parametrize("who", ["marte", "emil", "ask"])
def test_the_page_does_not_exist_for_managers_employees_and_amu(world, client, who, today):
    client.force_login(world.user(who))
    assert client.get("/rapporter/tilsyn/").status_code == 404
    assert client.post("/rapporter/tilsyn/", {"start": "2027-01-01", "end": "2027-04-20"}).status_code == 404
    assert not AuditEvent.objects.filter(action=PACK_ACTION).exists()


def test_an_administrator_may_export(world, login, today):
    secret = enrol_totp(world.user("ada"))
    client = login(world.user("ada"), secret)
    response = client.post("/rapporter/tilsyn/", {"start": "2027-01-01", "end": "2027-04-20"})
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert set(unpack(response.content)) == FILES


# --- the page -------------------------------------------------------------------------------------


def test_hr_downloads_the_pack_from_the_page(world, cases, login, today):
    secret = enrol_totp(world.user("hanne"))
    client = login(world.user("hanne"), secret)
    page = client.get("/rapporter/tilsyn/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "Tilsynspakke" in html and "aml. § 18-5" in html
    # The last twelve months, this one included, as the statistics page has them.
    assert 'value="2026-05-01"' in html and 'value="2027-04-20"' in html
    assert 'href="/rapporter/tilsyn/"' in html  # the menu link
    response = client.post("/rapporter/tilsyn/", {"start": "2027-01-01", "end": "2027-04-20"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert 'filename="tilsynspakke-2027-04-20.zip"' in response["Content-Disposition"]
    assert "no-store" in response["Cache-Control"]
    assert set(unpack(response.content)) == FILES
    assert AuditEvent.objects.filter(action=PACK_ACTION).count() == 1


@pytest.mark.parametrize("period, message", [
    ({"start": "2027-04-20", "end": "2027-01-01"}, "Perioden må begynne før den slutter."),
    ({"start": "31.02.2027", "end": "2027-04-20"}, "Oppgi en gyldig dato."),
    ({"start": "2027-01-01", "end": "2027-05-01"}, "Perioden kan ikke slutte etter i dag."),
])
def test_a_bad_period_is_shown_again_with_a_clear_error_and_nothing_is_written(world, login, today, period,
                                                                               message):
    secret = enrol_totp(world.user("hanne"))
    client = login(world.user("hanne"), secret)
    events = AuditEvent.objects.count()
    response = client.post("/rapporter/tilsyn/", period)
    html = response.content.decode()
    assert response.status_code == 400
    assert message in html and "Tilsynspakken ble ikke laget" in html
    # What was typed is shown again, the date that does not exist too.
    assert f'value="{period["start"]}"' in html and f'value="{period["end"]}"' in html
    assert AuditEvent.objects.count() == events


def test_the_error_is_in_english_for_an_english_user(world, login, today):
    hanne = world.user("hanne")
    hanne.language = "en"
    hanne.save(update_fields=["language"])
    client = login(hanne, enrol_totp(hanne))
    response = client.post("/rapporter/tilsyn/", {"start": "2027-04-20", "end": "2027-01-01"})
    html = response.content.decode()
    assert response.status_code == 400
    assert "The period must start before it ends." in html and "The inspection pack was not made" in html


# --- bounded --------------------------------------------------------------------------------------


def queries_for_export(world) -> int:
    """The queries of one export, from cold caches and a fresh user object (whose scopes are
    read afresh), so that two runs differ only in the data."""
    from django.core.cache import cache

    cache.clear()
    statistics._RECENT.clear()
    hanne = User.objects.get(pk=world.user("hanne").pk)
    with CaptureQueriesContext(connection) as queries:
        export_inspection_pack(hanne, start=START, end=END, lang="nb")
    return len(queries)


def test_the_number_of_queries_does_not_grow_with_the_number_of_cases(world, today):
    open_case(world, known_at=date(2027, 3, 1))
    export(world)  # the first export writes the audit chain's first checkpoint; later ones start from it
    few = queries_for_export(world)
    for day in range(2, 12):
        case = open_case(world, known_at=date(2027, 3, day), concerns=[world.ella])
        with time_machine.travel(at(date(2027, 3, day)), tick=False):
            case_services.add_measure(world.user("marte"), case, what="Tiltak", kind=MeasureKind.ORGANISATIONAL,
                                      owner=world.marte, due=date(2027, 4, 1), area="workload")
    open_case(world, actor="kim", known_at=date(2027, 3, 5), concerns=[world.kari])
    many = queries_for_export(world)
    assert many == few


def test_a_case_number_hr_may_not_export_is_refused_on_the_page(world, cases, login, today):
    client = login(world.user("hugo"), enrol_totp(world.user("hugo")))
    events = AuditEvent.objects.count()
    response = client.post("/rapporter/tilsyn/", {"start": "2027-01-01", "end": "2027-04-20",
                                                  "case_numbers": cases["school"].number})
    html = response.content.decode()
    assert response.status_code == 400
    assert f"Du har ingen sak du kan eksportere med nummer {cases['school'].number}." in html
    assert AuditEvent.objects.count() == events
