"""record_many: several events in one go, chained exactly as record chains them."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import time_machine
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from tidsnok.audit.models import AuditEvent
from tidsnok.audit.services import head, record, record_many, verify_chain

COLUMNS = ("seq", "time", "actor_id", "role", "action", "object_type", "object_id", "data", "prev_hash", "hash")


def specs(user):
    return [
        {"actor": user, "action": "thing.made", "object_type": "test.thing", "object_id": 1,
         "data": {"n": 1, "comment": "fritekst", "on": date(2026, 3, 2), "amount": Decimal("1.50")}},
        {"actor": None, "action": "thing.checked", "obj": user, "role": "hr", "data": {"big": 1e20, "zero": -0.0}},
        {"actor": user, "action": "thing.named", "data": {"label": "Kari"}, "sensitive": {"label"}},
        {"actor": user, "action": "thing.bare"},
    ]


def stored():
    return list(AuditEvent.objects.order_by("seq").values_list(*COLUMNS))


def test_record_many_writes_the_same_events_as_record_one_by_one(world):
    user = world.user("marte")
    # The same clock for both, so the times and therefore the hashes must match too.
    with time_machine.travel(datetime(2026, 3, 4, 9, 0, tzinfo=UTC), tick=False):
        with transaction.atomic():
            one_by_one = [record(**spec) for spec in specs(user)]
            by_record = stored()
            head_by_record = head()
            transaction.set_rollback(True)
        with transaction.atomic():
            returned = record_many(specs(user))
            by_record_many = stored()
            head_by_record_many = head()
            transaction.set_rollback(True)
    assert by_record_many == by_record
    assert head_by_record_many == head_by_record
    assert [(e.seq, e.hash) for e in returned] == [(e.seq, e.hash) for e in one_by_one]


def test_a_chain_written_with_record_many_between_records_verifies(events):
    record_many({"actor": None, "action": "thing.bulk", "data": {"i": i, "note": f"n{i}"}} for i in range(250))
    record(None, "thing.after")
    result = verify_chain()
    assert result.ok, result.reason
    assert result.checked == head()[0] == 12 + 250 + 1
    assert list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True)) == list(range(1, 264))
    assert AuditEvent.objects.get(seq=13).data["note"].startswith("hmac:")


def test_record_many_locks_the_head_once_and_inserts_in_bulk(events):
    with CaptureQueriesContext(connection) as queries:
        record_many({"actor": None, "action": "thing.bulk", "data": {"i": i}} for i in range(50))
    inserts = [q for q in queries if q["sql"].startswith("INSERT") and "audit_auditevent" in q["sql"]]
    head_reads = [q for q in queries if "audit_audithead" in q["sql"] and q["sql"].startswith("SELECT")]
    head_writes = [q for q in queries if q["sql"].startswith("UPDATE") and "audit_audithead" in q["sql"]]
    assert (len(inserts), len(head_reads), len(head_writes)) == (1, 1, 1)


def test_record_many_with_nothing_writes_nothing(events):
    before = head()
    assert record_many([]) == []
    assert head() == before


def test_record_many_refuses_an_unknown_argument_before_writing(events):
    before = head()
    with pytest.raises(TypeError):
        record_many([{"actor": None, "action": "thing.ok"}, {"actor": None, "action": "x", "colour": "red"}])
    assert head() == before
