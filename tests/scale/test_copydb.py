"""`tidsnok copydb --from URL`: a whole tidsnok database copied into the configured one.

A small organisation is generated into a SQLite file by a child process (as an
operator's SQLite installation would be), then copied into the test database,
which is SQLite or PostgreSQL (CI's .ci/run runs the suite on PostgreSQL). After
the copy every row of every table is what the source holds, read through Django
on both sides; encrypted content is the same ciphertext and still decrypts; the
audit chain verifies with the same head; new rows continue after the copied ids.
Refusals write nothing, and a copy that fails half-way leaves nothing either.
"""

import hashlib
import io
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from allauth.mfa.models import Authenticator
from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, models

from tests.processes import database_url
from tidsnok import crypto
from tidsnok.audit.models import AuditEvent
from tidsnok.audit.services import head, record, verify_chain
from tidsnok.org import services as org_services
from tidsnok.org.models import Organisation, Person, Role, RoleAssignment, Unit
from tidsnok.web.management.commands.copydb import SOURCE_ALIAS, source_database, stored_as
from tidsnok.whistleblowing.models import Attachment

ROOT = Path(__file__).resolve().parents[2]
ATTACHMENT = bytes(range(256)) * 4  # every byte value
SESSION_KEY = "copydbtestsession0000000000000000"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """An operator's SQLite database: a generated organisation of 60 people with a
    year of history (about 2,700 rows, 800 audit events), plus an encrypted
    attachment and a session. Made once by `tidsnok generate` in a child process
    with the test keys; tests copy it, and change only copies of it."""
    directory = tmp_path_factory.mktemp("copydb")
    path = directory / "source.sqlite3"
    env = {
        **os.environ,
        "DATABASE_URL": sqlite_url(path),
        "DJANGO_SETTINGS_MODULE": "tests.settings",  # the test keys and the fast password hasher
        "SECRET_KEY": settings.SECRET_KEY,
        "AUDIT_KEY": settings.AUDIT_KEY,
        "ENCRYPTION_KEYS": settings.ENCRYPTION_KEYS,
        "TIDSNOK_DATA_DIR": str(directory),
        "LOG_LEVEL": "WARNING",
    }
    done = subprocess.run(
        [sys.executable, "-m", "tidsnok", "generate", "--people", "60", "--years", "1", "--seed", "3",
         "--password", "copydb-test-password"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    with sqlite3.connect(path) as db:
        report_id = db.execute("SELECT id FROM whistleblowing_report ORDER BY id").fetchone()[0]
        db.execute(
            "INSERT INTO whistleblowing_attachment (report_id, filename_enc, content_type, size, data_enc, added_on)"
            " VALUES (?, ?, 'application/octet-stream', ?, ?, '2026-01-02')",
            (report_id, crypto.encrypt("bilag.bin"), len(ATTACHMENT), crypto.encrypt_bytes(ATTACHMENT)),
        )
        db.execute("INSERT INTO django_session VALUES (?, 'data', '2099-01-01 00:00:00')", (SESSION_KEY,))
    db.close()
    return path


@pytest.fixture
def changed_source(source, tmp_path):
    """A copy of the source, to change with SQL before it is copied."""

    def change(*statements) -> Path:
        path = tmp_path / "changed.sqlite3"
        shutil.copyfile(source, path)
        db = sqlite3.connect(path)  # foreign keys off: a broken source is possible
        with db:
            for statement in statements:
                db.execute(statement)
        db.close()
        return path

    return change


def copydb(path: Path, **options) -> str:
    out = io.StringIO()
    call_command("copydb", "--from", sqlite_url(path), stdout=out, **options)
    return out.getvalue()


def copied_models(sessions=False):
    for model in apps.get_models(include_auto_created=True):
        if model._meta.proxy or not model._meta.managed:
            continue
        if model is Session and not sessions:
            continue
        yield model


def every_row(model, using):
    columns = [f.attname for f in model._meta.local_concrete_fields]
    return [
        tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)
        for row in model._base_manager.using(using).order_by("pk").values_list(*columns)
    ]


def the_target_is_as_migrate_left_it(content_types):
    """Nothing but the content types and permissions `migrate` wrote, with their ids."""
    assert sorted(ContentType.objects.values_list("pk", "app_label", "model")) == content_types
    for model in copied_models(sessions=True):
        if model not in (ContentType, Permission):
            assert not model._base_manager.exists(), model._meta.label


@pytest.mark.django_db(transaction=True)
def test_every_row_of_every_table_is_copied_with_its_key_and_stored_value(source):
    before = sha256(source)
    db = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    source_head = db.execute("SELECT seq, hash FROM audit_audithead").fetchone()
    db.close()

    output = copydb(source)

    assert sha256(source) == before  # only read
    # Every value of every table, read through Django from both databases (names, dates,
    # ciphertext, JSON, the audit columns...), in primary key order.
    copied = 0
    with source_database(sqlite_url(source)):
        for model in copied_models():
            expected = every_row(model, SOURCE_ALIAS)
            assert every_row(model, "default") == expected, model._meta.label
            copied += len(expected)
    assert copied > 2000
    assert not Session.objects.exists()  # skipped by default
    # What it printed: the source and the target counted table by table, and what it skipped.
    events = AuditEvent.objects.count()
    assert re.search(rf"audit_auditevent +{events:,} +{events:,}\n", output)
    assert re.search(rf"total +{copied:,} +{copied:,}\n", output)
    assert "django_session (logins in progress" in output and "tidsnok_cache (the database cache" in output

    # Values as the people who use it will see them.
    organisation = Organisation.objects.get(name="Generert kommune 3")
    assert Person.objects.filter(organisation=organisation).count() == 64
    # Ciphertext stayed ciphertext, and the keys still open it.
    attachment = Attachment.objects.get()
    assert crypto.decrypt_bytes(bytes(attachment.data_enc)) == ATTACHMENT
    assert crypto.decrypt(attachment.filename_enc) == "bilag.bin"
    assert crypto.decrypt(attachment.report.description_enc)
    totp = Authenticator.objects.filter(type=Authenticator.Type.TOTP).first()
    assert totp is not None and crypto.decrypt(totp.data["secret"])
    # The audit chain: every event hashes as before, and the head is the source's.
    result = verify_chain()
    assert result.ok, result.reason
    assert head() == tuple(source_head) and result.checked == source_head[0]


@pytest.mark.django_db(transaction=True)
def test_new_rows_continue_after_the_copied_ids_and_sessions_are_copied_when_asked(source):
    copydb(source, sessions=True)

    assert Session.objects.filter(session_key=SESSION_KEY).exists()
    organisation = Organisation.objects.get(name="Generert kommune 3")
    admin = RoleAssignment.objects.get(person__organisation=organisation, role=Role.ADMIN).person.user
    highest_unit = Unit.objects.order_by("-pk").values_list("pk", flat=True).first()
    highest_event = AuditEvent.objects.order_by("-pk").values_list("pk", "seq").first()
    root = Unit.objects.get(organisation=organisation, parent=None)

    unit, _ = org_services.save_unit(admin, organisation, "NY", "Ny enhet etter flyttingen", root)
    event = record(None, "test.after_copy", data={"step": 1})

    if connection.vendor == "postgresql":
        assert unit.pk == highest_unit + 1  # the sequence was set to the highest copied id
    else:
        # SQLite's AUTOINCREMENT continues after the highest id it has ever given in this
        # file, which earlier tests on the same test database may have raised.
        assert unit.pk > highest_unit
    assert event.pk > highest_event[0] and event.seq > highest_event[1]
    assert verify_chain().ok


@pytest.mark.django_db
def test_a_target_that_holds_data_is_refused_and_left_as_it_was(source, world):
    people = sorted(Person.objects.values_list("pk", "name"))
    content_types = sorted(ContentType.objects.values_list("pk", "app_label", "model"))
    events = AuditEvent.objects.count()

    with pytest.raises(CommandError, match=r"The target holds data already \(.*org_person"):
        copydb(source)

    assert sorted(Person.objects.values_list("pk", "name")) == people
    assert sorted(ContentType.objects.values_list("pk", "app_label", "model")) == content_types
    assert AuditEvent.objects.count() == events and verify_chain().ok


@pytest.mark.django_db
def test_a_source_with_other_migrations_is_refused_and_nothing_is_written(changed_source):
    content_types = sorted(ContentType.objects.values_list("pk", "app_label", "model"))
    older = changed_source(
        "DELETE FROM django_migrations WHERE app = 'whistleblowing' AND name = '0002_routine_version'")

    with pytest.raises(CommandError, match=r"not applied the same migrations.*Only in the target: "
                                           r"whistleblowing\.0002_routine_version"):
        copydb(older)

    the_target_is_as_migrate_left_it(content_types)


@pytest.mark.django_db
def test_the_target_itself_and_sources_that_are_not_tidsnok_databases_are_refused(changed_source, tmp_path):
    content_types = sorted(ContentType.objects.values_list("pk", "app_label", "model"))

    with pytest.raises(CommandError, match="The source is the target database itself"):
        call_command("copydb", "--from", database_url(), stdout=io.StringIO())
    with pytest.raises(CommandError, match="There is no SQLite database at"):
        copydb(tmp_path / "missing.sqlite3")
    with pytest.raises(CommandError, match=r"tables this release of tidsnok does not know \(private_notes\)"):
        copydb(changed_source("CREATE TABLE private_notes (id integer primary key, note text)",
                              "INSERT INTO private_notes VALUES (1, 'would be lost')"))
    empty = tmp_path / "empty.sqlite3"
    sqlite3.connect(empty).close()
    with pytest.raises(CommandError, match="no django_migrations table"):
        copydb(empty)

    the_target_is_as_migrate_left_it(content_types)


@pytest.mark.django_db(transaction=True)
def test_a_copy_that_fails_half_way_leaves_nothing_behind(changed_source):
    content_types = sorted(ContentType.objects.values_list("pk", "app_label", "model"))
    # A person in a unit that does not exist: found only after every table is written.
    broken = changed_source("UPDATE org_person SET unit_id = 999999 WHERE id = (SELECT max(id) FROM org_person)")

    with pytest.raises(CommandError, match="refers to a row that does not exist, nothing was written"):
        copydb(broken)

    the_target_is_as_migrate_left_it(content_types)


class EncryptedText(models.TextField):
    """What a field that encrypts by itself would look like (tidsnok has none)."""

    def from_db_value(self, value, expression, connection):
        return None if value is None else crypto.decrypt(value)

    def get_prep_value(self, value):
        return None if value is None else crypto.encrypt(value)


def test_a_field_class_that_transforms_values_is_copied_as_stored_not_decrypted_and_encrypted_again():
    field = EncryptedText()
    field.set_attributes_from_name("secret_enc")
    field.model = Person
    stored = crypto.encrypt("hemmelig")

    plain = stored_as(field)

    assert type(plain) is models.TextField and plain.column == "secret_enc"
    assert plain.get_db_converters(connection) == [] and plain.get_db_prep_save(stored, connection) == stored
    assert field.get_db_prep_save(stored, connection) != stored  # what copying through the field itself would do
    name = Person._meta.get_field("name")
    assert stored_as(name) is name  # Django's own fields are used as they are
