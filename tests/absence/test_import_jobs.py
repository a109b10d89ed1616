"""A payroll file too large to import while the user waits is imported by the sweep: all or
nothing, once, in the uploader's language, and the file itself is kept only until then."""

from datetime import date, timedelta

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from tidsnok.absence import importing, services
from tidsnok.absence.models import Episode, ImportJob
from tidsnok.audit.models import AuditEvent
from tidsnok.notify.sweep import run_round
from tests.conftest import enrol_totp

GOOD = (
    "ansattnummer;fravaers_id;fra;til;grad;type;arbeidsrelatert\n"
    "T004;A-1;01.12.2026;;100;sykmelding;nei\n"
    "T005;A-2;02.11.2026;04.11.2026;;egenmelding;\n"
).encode()
UNKNOWN_PERSON = (
    "ansattnummer;fravaers_id;fra;til;grad;type;arbeidsrelatert\n"
    "T004;A-1;01.12.2026;;100;sykmelding;nei\n"
    "X999;A-9;02.11.2026;04.11.2026;;egenmelding;\n"
).encode()


@pytest.fixture(autouse=True)
def december():
    with time_machine.travel(date(2026, 12, 1), tick=False):
        yield


@pytest.fixture(autouse=True)
def small_limit(monkeypatch):
    # Two rows are "too many": the behaviour is that of a 30,000-row file.
    monkeypatch.setattr(importing, "IMPORT_AT_ONCE", 1)


@pytest.fixture
def hanne(world, client):
    enrol_totp(world.user("hanne"))
    client.force_login(world.user("hanne"))
    return client


def upload(client, data, name="lonn.csv"):
    return client.post("/sykefravaer/import/", {"file": SimpleUploadedFile(name, data)})


def test_a_large_file_waits_for_the_sweep_then_is_imported_and_forgotten(world, hanne):
    response = upload(hanne, GOOD)
    assert response.status_code == 302
    page = hanne.get("/sykefravaer/import/").content.decode()
    assert "importeres i bakgrunnen" in page and "lonn.csv" in page and "Venter" in page
    job = ImportJob.objects.get()
    assert not Episode.objects.exists()
    assert b"T004" not in bytes(job.content)  # encrypted at rest
    assert AuditEvent.objects.filter(action="absence.import_queued").count() == 1

    run_round("sweep-a")

    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE and job.claimed_by == "sweep-a"
    assert bytes(job.content) == b""
    assert Episode.objects.count() == 2
    assert AuditEvent.objects.filter(action="absence.imported").count() == 1
    page = hanne.get("/sykefravaer/import/").content.decode()
    assert "Importert" in page and "2 nye, 0 endret, 0 uendret" in page


def test_a_large_file_with_a_bad_row_imports_nothing_and_lists_the_problem(world, hanne):
    upload(hanne, UNKNOWN_PERSON)
    assert importing.run_queued_import("sweep-a") == 1
    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.FAILED and bytes(job.content) == b""
    assert not Episode.objects.exists()
    page = hanne.get("/sykefravaer/import/").content.decode()
    assert "Ingenting importert" in page and "1 problem i filen" in page and "X999" in page
    assert AuditEvent.objects.filter(action="absence.import_failed").count() == 1


def test_the_file_s_own_mistakes_are_shown_at_once_and_nothing_is_queued(world, hanne):
    response = upload(hanne, b"ansattnummer;fra\nT004;not a date\nT005;also not\n")
    assert response.status_code == 200
    assert "Ingenting ble importert" in response.content.decode() or "Nothing was imported" in response.content.decode()
    assert not ImportJob.objects.exists()


def test_a_job_another_worker_is_running_is_left_alone_until_it_is_stale(world, hanne):
    upload(hanne, GOOD)
    job = ImportJob.objects.get()
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.RUNNING, claimed_by="sweep-a",
                                               started_at=timezone.now())
    assert importing.run_queued_import("sweep-b") == 0
    assert not Episode.objects.exists()

    # sweep-a died: its import was one transaction and wrote nothing; after three hours the job
    # waits again and the next worker imports it.
    ImportJob.objects.filter(pk=job.pk).update(started_at=timezone.now() - timedelta(hours=4))
    assert importing.run_queued_import("sweep-b") == 1
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE and job.claimed_by == "sweep-b"
    assert Episode.objects.count() == 2
    assert importing.run_queued_import("sweep-c") == 0


def test_the_problems_are_worded_in_the_uploader_s_language(world, hanne):
    user = world.user("hanne")
    user.language = "en"
    user.save(update_fields=["language"])
    upload(hanne, UNKNOWN_PERSON)
    importing.run_queued_import("sweep-a")
    reasons = [reason for _line, _column, reason in ImportJob.objects.get().result["errors"]]
    assert reasons and all("X999" in r for r in reasons)
    assert "employee number" in reasons[0].lower()


def test_only_those_who_may_import_see_the_queue(world, client, hanne):
    upload(hanne, GOOD)
    client.force_login(world.user("marte"))
    assert client.get("/sykefravaer/import/").status_code == 404
    from tidsnok.access.policy import visible

    assert not visible(world.user("marte"), ImportJob).exists()
    assert visible(world.user("hanne"), ImportJob).count() == 1


def test_a_waiting_file_is_re_encrypted_by_key_rotation_and_imports_under_the_new_key(world, hanne):
    from io import StringIO

    from django.core.management import call_command
    from django.test import override_settings

    from django.conf import settings

    old, new = "old-key-for-the-import-rotation-test-0123456789", "new-key-for-the-import-rotation-test-9876543210"
    with override_settings(ENCRYPTION_KEYS=old):
        upload(hanne, GOOD)
    # Hanne's TOTP secret is under the suite's own key: rotation moves it too.
    with override_settings(ENCRYPTION_KEYS=f"{new},{old},{settings.ENCRYPTION_KEYS}"):
        call_command("rotate-keys", stdout=StringIO())
    with override_settings(ENCRYPTION_KEYS=new):
        assert importing.run_queued_import("sweep-a") == 1
    assert ImportJob.objects.get().status == ImportJob.Status.DONE
    assert Episode.objects.count() == 2


def test_an_unexpected_error_fails_the_job_and_writes_nothing(world, hanne, monkeypatch):
    upload(hanne, GOOD)

    written = []

    def broken(*args, **kwargs):
        written.append(services.register_episode(world.user("hanne"), person=world.emil, start=date(2026, 11, 2),
                                                 end=date(2026, 11, 3), certified="self"))
        raise RuntimeError("disk full")

    monkeypatch.setattr(importing, "import_episodes", broken)
    assert importing.run_queued_import("sweep-a") == 1
    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.FAILED and bytes(job.content) == b""
    assert "uventet feil" in job.result["errors"][0][2]
    assert written and not Episode.objects.exists()  # written, then rolled back
