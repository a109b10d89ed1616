"""Verified checkpoints: a verification may start from the newest signed
checkpoint instead of event 1, and still catches every change after it, at it,
and to the checkpoint itself."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.audit.conftest import KEY, chained_rows, delete_event, flip_action, python, replace_in_data
from tidsnok.audit import chain
from tidsnok.audit.models import AuditCheckpoint, AuditEvent, AuditHead
from tidsnok.audit.services import (
    head,
    latest_checkpoint,
    record,
    save_checkpoint,
    verify_chain,
    verify_since_checkpoint,
)


def more(count: int, start: int = 100) -> None:
    for i in range(start, start + count):
        record(None, "thing.later", data={"n": i, "comment": f"later {i}"}, object_type="test.thing", object_id="9")


@pytest.fixture
def checkpointed(events):
    """The twelve events, a full verification that wrote a checkpoint at
    event 12, and five events after it."""
    result = verify_chain(checkpoint=True)
    assert result.ok and result.saved_checkpoint.seq == 12
    more(5)
    return result.saved_checkpoint


def count_hashes(monkeypatch) -> list:
    """Count the links the verifier recomputes from now on."""
    calls = []
    real = chain.link_hash

    def counting(key, prev_hash, body):
        calls.append(body["seq"])
        return real(key, prev_hash, body)

    monkeypatch.setattr(chain, "link_hash", counting)
    return calls


# --- writing checkpoints --------------------------------------------------------------------------


def test_a_successful_full_verify_writes_a_checkpoint_at_the_head(events):
    result = verify_chain(checkpoint=True)
    checkpoint = AuditCheckpoint.objects.get()
    assert checkpoint == result.saved_checkpoint == latest_checkpoint()
    assert (checkpoint.seq, checkpoint.hash) == head() == (12, AuditEvent.objects.get(seq=12).hash)
    assert (checkpoint.full_seq, checkpoint.full_verified_at) == (12, checkpoint.verified_at)


def test_a_plain_full_verify_writes_no_checkpoint(events):
    assert verify_chain().ok
    assert not AuditCheckpoint.objects.exists()


def test_a_failed_full_verify_writes_no_checkpoint(events):
    flip_action(5)
    assert not verify_chain(checkpoint=True).ok
    assert not AuditCheckpoint.objects.exists()


def test_an_empty_log_gets_no_checkpoint(db):
    result = verify_chain(checkpoint=True)
    assert result.ok and result.saved_checkpoint is None
    assert not AuditCheckpoint.objects.exists()


# --- verifying from a checkpoint ------------------------------------------------------------------


def test_incremental_verification_reads_and_hashes_only_the_checkpoint_event_and_those_after_it(
    checkpointed, monkeypatch
):
    hashed = count_hashes(monkeypatch)
    with CaptureQueriesContext(connection) as queries:
        result = verify_since_checkpoint(advance=False)
    assert result.ok, result.reason
    assert (result.checked, result.start_seq, result.head_seq) == (5, 12, 17)
    assert result.checkpoint == checkpointed
    # The checkpoint's own event is recomputed, then the five after it; events 1-11 never.
    assert hashed == [12, 13, 14, 15, 16, 17]
    reads = [q["sql"] for q in queries if "audit_auditevent" in q["sql"] and '"prev_hash"' in q["sql"]]
    assert len(reads) == 1 and '"seq" >= 12' in reads[0], reads


def test_incremental_verification_without_a_checkpoint_verifies_in_full(events, monkeypatch):
    hashed = count_hashes(monkeypatch)
    result = verify_since_checkpoint(advance=False)
    assert result.ok and result.checkpoint is None
    assert (result.checked, result.start_seq) == (12, 0)
    assert hashed == list(range(1, 13))


def test_incremental_verification_advances_the_checkpoint_and_carries_the_full_run_forward(checkpointed):
    result = verify_since_checkpoint()
    newest = latest_checkpoint()
    assert newest == result.saved_checkpoint
    assert (newest.seq, newest.hash) == head() == (17, AuditEvent.objects.get(seq=17).hash)
    # Events 1-12 were recomputed by the full run; 13-17 by this one.
    assert (newest.full_seq, newest.full_verified_at) == (12, checkpointed.verified_at)
    # The next run starts from there and has nothing left to read.
    again = verify_since_checkpoint()
    assert (again.ok, again.checked, again.start_seq, again.saved_checkpoint) == (True, 0, 17, None)
    assert AuditCheckpoint.objects.count() == 2


def test_incremental_verification_without_a_checkpoint_writes_one_as_a_full_run(events):
    result = verify_since_checkpoint()
    assert (result.saved_checkpoint.seq, result.saved_checkpoint.full_seq) == (12, 12)


def test_a_tampered_event_after_the_checkpoint_is_named(checkpointed):
    replace_in_data(15, '"n": 102', '"n": 103')
    result = verify_since_checkpoint()
    assert (result.ok, result.first_bad_seq, result.problem, result.checked) == (False, 15, "content", 2)
    assert result.bad_event.seq == 15 and result.start_seq == 12
    assert latest_checkpoint() == checkpointed  # a failed run writes no checkpoint


def test_a_deleted_event_after_the_checkpoint_is_named(checkpointed):
    delete_event(14)
    result = verify_since_checkpoint()
    assert (result.ok, result.first_bad_seq, result.problem) == (False, 15, "missing")


def test_a_changed_event_at_the_checkpoint_is_caught(checkpointed):
    flip_action(12)
    result = verify_since_checkpoint()
    assert (result.ok, result.first_bad_seq, result.problem) == (False, 12, "checkpoint_changed")
    assert result.bad_event.action == "Thing.step2"
    assert AuditCheckpoint.objects.count() == 1


def test_a_replaced_hash_at_the_checkpoint_is_caught(checkpointed):
    AuditEvent.objects.filter(seq=12).update(hash="f" * 64)
    result = verify_since_checkpoint()
    assert (result.ok, result.first_bad_seq, result.problem) == (False, 12, "checkpoint_changed")


def test_a_deleted_event_at_the_checkpoint_is_caught(checkpointed):
    delete_event(12)
    result = verify_since_checkpoint()
    assert (result.ok, result.first_bad_seq, result.problem) == (False, 12, "checkpoint_missing")
    assert result.reason == "event 12, verified at a checkpoint, is no longer in the log"


def test_a_head_moved_back_behind_the_checkpoint_is_caught(checkpointed):
    AuditHead.objects.filter(pk=1).update(seq=10, hash=AuditEvent.objects.get(seq=10).hash)
    result = verify_since_checkpoint()
    assert (result.ok, result.first_bad_seq, result.problem) == (False, 11, "past_head")


def test_an_event_before_the_checkpoint_is_left_to_the_full_verification(checkpointed):
    # The honest limit: the incremental run does not re-read events before the
    # checkpoint (the result says from where it checked); the daily full run does.
    flip_action(3)
    incremental = verify_since_checkpoint(advance=False)
    assert incremental.ok and incremental.start_seq == 12
    full = verify_chain(checkpoint=True)
    assert (full.ok, full.first_bad_seq, full.saved_checkpoint) == (False, 3, None)


# --- tampered checkpoints -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"seq": 16},
        {"hash": "a" * 64},
        {"full_seq": 99},
        {"mac": "0" * 64},
    ],
    ids=["seq", "hash", "full_seq", "mac"],
)
def test_a_checkpoint_row_edited_in_the_database_is_ignored_and_the_chain_verified_in_full(
    checkpointed, monkeypatch, change
):
    AuditCheckpoint.objects.filter(pk=checkpointed.pk).update(**change)
    assert latest_checkpoint() is None
    hashed = count_hashes(monkeypatch)
    result = verify_since_checkpoint(advance=False)
    assert result.ok and result.checkpoint is None
    assert result.checked == 17 and hashed == list(range(1, 18))


def test_a_moved_checkpoint_time_is_ignored(checkpointed):
    moved = checkpointed.verified_at + timedelta(days=1)
    AuditCheckpoint.objects.filter(pk=checkpointed.pk).update(verified_at=moved)
    assert latest_checkpoint() is None


def test_a_forged_newer_checkpoint_is_passed_over_for_the_newest_valid_one(checkpointed):
    # Inserted without the key, pointing past a tampered event so the check would skip it.
    replace_in_data(15, '"n": 102', '"n": 103')
    forged = AuditEvent.objects.get(seq=16)
    AuditCheckpoint.objects.create(
        seq=16, hash=forged.hash, verified_at=forged.time, full_seq=16, full_verified_at=forged.time, mac="b" * 64,
    )
    assert latest_checkpoint() == checkpointed
    result = verify_since_checkpoint()
    assert (result.ok, result.first_bad_seq, result.start_seq) == (False, 15, 12)


def test_two_checkpoints_written_at_once_are_both_valid_and_the_newest_wins(checkpointed):
    seq, digest = head()
    first = verify_since_checkpoint(advance=False)
    one = save_checkpoint(seq, digest, first.checkpoint.verified_at, full_seq=12,
                          full_verified_at=checkpointed.full_verified_at)
    two = save_checkpoint(seq, digest, first.checkpoint.verified_at, full_seq=12,
                          full_verified_at=checkpointed.full_verified_at)
    assert latest_checkpoint() == two and one.seq == two.seq == 17
    assert verify_since_checkpoint().ok


# A verifier process: set up Django, say it is ready, wait for the go, then
# append and verify incrementally in turns (each verify writes a checkpoint).
VERIFIER = """
import sys
import django

django.setup()
from tidsnok.audit.services import record, verify_since_checkpoint

print("ready", flush=True)
sys.stdin.readline()
for i in range(int(sys.argv[2])):
    record(None, "thing.written", data={"i": i}, object_type="test.verifier", object_id=sys.argv[1])
    result = verify_since_checkpoint()
    assert result.ok, result.reason
"""


@pytest.mark.django_db(transaction=True)
def test_two_processes_verifying_and_writing_checkpoints_at_once_leave_valid_checkpoints():
    for i in range(5):
        record(None, "thing.first", data={"i": i})
    assert verify_chain(checkpoint=True).ok
    workers = [python("-c", VERIFIER, name, "40") for name in ("a", "b")]
    for worker in workers:
        assert worker.stdout.readline() == "ready\n", worker.stderr.read()
    for worker in workers:
        worker.stdin.write("go\n")
        worker.stdin.flush()
    for worker in workers:
        _, stderr = worker.communicate(timeout=600)
        assert worker.returncode == 0, stderr

    from tidsnok.audit.services import checkpoint_is_valid

    checkpoints = list(AuditCheckpoint.objects.all())
    assert len(checkpoints) > 1 and all(checkpoint_is_valid(c) for c in checkpoints)
    for checkpoint in checkpoints:
        assert AuditEvent.objects.get(seq=checkpoint.seq).hash == checkpoint.hash
    assert verify_since_checkpoint().ok
    assert verify_chain().ok and head()[0] == 85


# --- the pure verifier from a checkpoint ----------------------------------------------------------



def test_the_verifier_starts_at_the_checkpoint_event():
    rows = chained_rows(8)
    result = chain.verify(KEY, rows[4:], (8, rows[7][3]), checkpoint=(5, rows[4][3]))
    assert (result.ok, result.checked, result.start_seq, result.head_seq) == (True, 3, 5, 8)


def test_the_verifier_needs_the_checkpoint_event_first():
    rows = chained_rows(8)
    result = chain.verify(KEY, rows[5:], (8, rows[7][3]), checkpoint=(5, rows[4][3]))
    assert (result.ok, result.first_bad_seq, result.problem) == (False, 5, "checkpoint_missing")


def test_the_verifier_refuses_a_checkpoint_event_with_another_hash():
    rows = chained_rows(8)
    result = chain.verify(KEY, rows[4:], (8, rows[7][3]), checkpoint=(5, rows[3][3]))
    assert (result.ok, result.first_bad_seq, result.problem) == (False, 5, "checkpoint_changed")


def test_a_checkpoint_mac_is_not_an_event_hash():
    body = chain.checkpoint_body(5, "a" * 64, "2026-01-01T00:00:00+00:00", 5, "2026-01-01T00:00:00+00:00")
    assert chain.checkpoint_mac(KEY, body) != chain.checkpoint_mac(b"other", body)
    assert chain.checkpoint_mac(KEY, body) != chain.link_hash(KEY, "", body)
