"""Helpers for the audit tests: run `tidsnok` in another process against the
test database, and tamper with stored events the way someone with database
access would (plain SQL, never through the model)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from tidsnok.audit import chain
from tidsnok.audit.models import AuditEvent

from tests.processes import database_url

ROOT = Path(__file__).resolve().parents[2]
# The key of the chains built by hand for the pure verifier (chained_rows).
KEY = b"k"


def chained_rows(count: int) -> list[tuple]:
    """`count` events chained under KEY, as audit.services.chain_rows yields them:
    (seq, body, prev_hash, hash)."""
    rows, prev = [], chain.GENESIS
    for seq in range(1, count + 1):
        body = chain.event_body(seq, f"2026-01-01T00:00:{seq:02d}+00:00", None, "", "a", "", "", {"i": seq})
        digest = chain.link_hash(KEY, prev, body)
        rows.append((seq, body, prev, digest))
        prev = digest
    return rows


def python(*args: str) -> subprocess.Popen:
    """Start `python ARGS` with the test settings on the test database (which
    sees committed data only: use it from tests marked django_db(transaction=True))."""
    env = {**os.environ, "DATABASE_URL": database_url(), "DJANGO_SETTINGS_MODULE": "tests.settings"}
    return subprocess.Popen(
        [sys.executable, *args], cwd=ROOT, env=env, text=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


def tidsnok(*args: str) -> subprocess.Popen:
    """Start `python -m tidsnok ARGS` on the test database."""
    return python("-m", "tidsnok", *args)


def sql(statement: str, params=()) -> None:
    table = connection.ops.quote_name(AuditEvent._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(statement.format(table=table), params)


def flip_action(seq: int) -> None:
    """Change one byte of the stored action."""
    sql("UPDATE {table} SET action = UPPER(SUBSTR(action, 1, 1)) || SUBSTR(action, 2) WHERE seq = %s", [seq])


def replace_in_data(seq: int, old: str, new: str) -> None:
    """Edit the stored JSON text of an event's data."""
    if connection.vendor == "postgresql":
        sql("UPDATE {table} SET data = replace(data::text, %s, %s)::jsonb WHERE seq = %s", [old, new, seq])
    else:
        sql("UPDATE {table} SET data = replace(data, %s, %s) WHERE seq = %s", [old, new, seq])


def delete_event(seq: int) -> None:
    sql("DELETE FROM {table} WHERE seq = %s", [seq])


CONTENT = ("time", "actor_id", "role", "action", "object_type", "object_id", "data", "prev_hash", "hash")


def swap_events(a: int, b: int, columns=CONTENT) -> None:
    """Swap two events' stored columns, keeping their seq: the order of the log changes."""
    rows = {
        row["seq"]: row for row in AuditEvent.objects.filter(seq__in=[a, b]).values("seq", *columns)
    }
    for target, source in ((a, b), (b, a)):
        values = {column: rows[source][column] for column in columns}
        AuditEvent.objects.filter(seq=target).update(**values)


@pytest.fixture
def events(db):
    """Twelve events from two actors on a few objects, recorded through the service."""
    from tidsnok.audit.services import record

    recorded = []
    for i in range(12):
        recorded.append(
            record(None, f"thing.step{i % 3}", data={"n": i, "comment": f"secret {i}"},
                   object_type="test.thing", object_id=str(i % 4))
        )
    return recorded
