from datetime import date

import pytest
import time_machine

from tidsnok.absence import importing
from tidsnok.org import importer
from tidsnok.absence.importing import import_episodes
from tidsnok.absence.models import Episode
from tidsnok.access.policy import AccessDenied
from tidsnok.audit.models import AuditEvent
from tidsnok.cases.models import Case

GOOD = (
    "ansattnummer;fravaers_id;fra;til;grad;type;arbeidsrelatert\n"
    "T004;A-1;01.12.2026;;100;sykmelding;nei\n"
    "T005;A-2;02.11.2026;04.11.2026;;egenmelding;\n"
    "T007;A-3;2026-11-16;2026-12-20;50;sykmelding;delvis\n"
).encode()


@pytest.fixture(autouse=True)
def december():
    with time_machine.travel(date(2026, 12, 1), tick=False):
        yield


def test_a_good_file_registers_episodes_and_opens_follow_up_cases(world):
    result = import_episodes(world.user("ada"), world.org, GOOD, "fravær.csv")
    assert result.ok, result.errors
    assert result.summary["created"] == 3
    assert Episode.objects.get(external_id="A-1").case is not None
    assert Episode.objects.get(external_id="A-2").case is None  # short, self-certified


def test_reimporting_the_same_file_changes_nothing(world):
    import_episodes(world.user("ada"), world.org, GOOD)
    events = AuditEvent.objects.count()
    result = import_episodes(world.user("ada"), world.org, GOOD)
    assert result.summary["created"] == 0 and result.summary["changed"] == 0
    assert result.summary["unchanged"] == 3
    assert AuditEvent.objects.count() == events + 1  # the import itself is recorded


def test_a_changed_file_updates_the_episode_and_records_it(world):
    import_episodes(world.user("ada"), world.org, GOOD)
    changed = GOOD.replace(b"T004;A-1;01.12.2026;;100", b"T004;A-1;01.12.2026;14.12.2026;60")
    result = import_episodes(world.user("ada"), world.org, changed)
    assert result.summary["changed"] == 1
    episode = Episode.objects.get(external_id="A-1")
    assert episode.end == date(2026, 12, 14)
    assert list(episode.grades.values_list("grade", flat=True)) == [60]
    assert AuditEvent.objects.filter(action="absence.episode_changed", object_id=str(episode.pk)).exists()


def test_bad_rows_are_all_reported_and_nothing_is_written(world):
    bad = (
        "ansattnummer;fravaers_id;fra;til;grad;type\n"
        "T999;B-1;01.12.2026;;100;sykmelding\n"
        "T004;B-2;31.02.2026;;100;sykmelding\n"
        "T004;B-3;01.10.2026;05.10.2026;150;egenmelding\n"
        "T005;B-4;01.10.2026;03.10.2026;;ferie\n"
        "T005;B-5;10.10.2026;;100;sykmelding\n"
        "T006;B-5;10.10.2026;;100;sykmelding\n"
    ).encode()
    before = (Episode.objects.count(), Case.objects.count(), AuditEvent.objects.count())
    result = import_episodes(world.user("ada"), world.org, bad)
    reasons = [(e.line, e.column) for e in result.errors]
    assert (2, "employee_number") in reasons
    assert (3, "fra") in reasons
    assert (4, "grad") in reasons
    assert (5, "type") in reasons
    assert (7, "external_id") in reasons
    assert (Episode.objects.count(), Case.objects.count(), AuditEvent.objects.count()) == before


def test_a_column_that_looks_like_a_diagnosis_refuses_the_file(world):
    data = "ansattnummer;fra;type;diagnosekode\nT004;01.12.2026;sykmelding;L03\n".encode()
    result = import_episodes(world.user("ada"), world.org, data)
    assert not result.ok
    assert "diagnos" in result.errors[0].reason.lower() or "medisinsk" in result.errors[0].reason.lower()
    assert not Episode.objects.exists()


def test_an_overlap_with_an_episode_already_registered_is_reported(world):
    from tidsnok.absence import services

    services.register_episode(world.user("marte"), person=world.emil, start=date(2026, 11, 25), certified="self")
    result = import_episodes(world.user("ada"), world.org, GOOD)
    assert not result.ok
    assert result.errors[0].line == 2
    assert Episode.objects.count() == 1


def test_a_manager_cannot_import(world):
    with pytest.raises(AccessDenied):
        import_episodes(world.user("marte"), world.org, GOOD)


def test_hr_s_own_absence_in_the_file_is_a_line_to_fix_not_a_failed_import(world):
    own = GOOD + f"{world.hanne.employee_number};A-9;02.11.2026;03.11.2026;;egenmelding;\n".encode()
    result = import_episodes(world.user("hanne"), world.org, own)
    assert not result.ok
    assert [(e.line, e.column) for e in result.errors] == [(5, "employee_number")]
    assert "bare en administrator" in result.errors[0].reason
    assert not Episode.objects.exists()

    result = import_episodes(world.user("ada"), world.org, own)  # an administrator may
    assert result.ok, result.errors
    assert Episode.objects.filter(person=world.hanne).exists()


MIXED = (
    "ansattnummer;fravaers_id;fra;til;grad;type;arbeidsrelatert\n"
    "T004;A-1;02.11.2026;04.11.2026;;egenmelding;\n"
    "T005;;09.11.2026;11.11.2026;;egenmelding;\n"
    "T007;A-3;16.11.2026;20.11.2026;;egenmelding;\n"
    "T008;;23.11.2026;25.11.2026;;egenmelding;\n"
).encode()


def test_a_re_import_finds_every_episode_by_payroll_id_or_by_person_and_first_day(world, monkeypatch):
    # One key per query: the rows are looked up in several rounds, as a file of 50,000 rows is.
    monkeypatch.setattr(importer, "KEYS_PER_QUERY", 1)
    assert import_episodes(world.user("ada"), world.org, MIXED).summary["created"] == 4

    result = import_episodes(world.user("ada"), world.org, MIXED)
    assert (result.summary["created"], result.summary["changed"], result.summary["unchanged"]) == (0, 0, 4)

    graded = MIXED.replace(b"T008;;23.11.2026;25.11.2026;;", b"T008;;23.11.2026;25.11.2026;40;")
    result = import_episodes(world.user("ada"), world.org, graded)
    assert (result.summary["created"], result.summary["changed"]) == (0, 1)
    assert list(Episode.objects.get(person=world.kim).grades.values_list("grade", flat=True)) == [40]


def test_an_import_reads_only_the_episodes_its_rows_can_match(world):
    import_episodes(world.user("ada"), world.org, MIXED)
    rows, errors = importing.parse(
        b"ansattnummer;fravaers_id;fra;til;grad;type\n"
        b"T004;A-1;02.11.2026;04.11.2026;;egenmelding\n"
        b"T005;;09.11.2026;11.11.2026;;egenmelding\n"
    )
    assert not errors
    people = {"T004": world.emil, "T005": world.ella}
    existing = importing.ExistingEpisodes.read(world.org.pk, rows, people)
    assert set(existing.by_external_id) == {"A-1"}
    assert list(existing.by_person_start) == [(people["T005"].pk, date(2026, 11, 9))]
