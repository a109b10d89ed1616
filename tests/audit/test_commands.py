"""`tidsnok audit verify`, `tidsnok bench audit`, and two writers at once."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from tests.audit.conftest import delete_event, flip_action, python, tidsnok
from tidsnok.audit.models import AuditCheckpoint, AuditEvent
from tidsnok.audit.services import head, latest_checkpoint, record, verify_chain


def test_verify_prints_count_and_head_and_the_checkpoint_it_wrote(events):
    out = StringIO()
    call_command("audit", "verify", stdout=out)
    assert out.getvalue().splitlines() == [f"OK: 12 events, head {head()[1][:16]}", "checkpoint written at event 12"]


def test_verify_writes_a_checkpoint_at_the_head_when_the_chain_holds(events):
    call_command("audit", "verify", stdout=StringIO())
    checkpoint = latest_checkpoint()
    assert (checkpoint.seq, checkpoint.hash) == head()
    assert checkpoint.full_seq == 12


def test_verify_writes_no_checkpoint_when_the_chain_is_broken(events):
    flip_action(5)
    with pytest.raises(CommandError):
        call_command("audit", "verify")
    assert not AuditCheckpoint.objects.exists()


def test_verify_names_seq_time_action_and_reason_of_the_first_bad_event(events):
    flip_action(5)
    with pytest.raises(CommandError) as failure:
        call_command("audit", "verify")
    event = AuditEvent.objects.get(seq=5)
    when = timezone.localtime(event.time).strftime("%d.%m.%Y %H:%M:%S")
    assert str(failure.value) == (
        f"FAILED after 4 good events: event 5 at {when}, action Thing.step1: its content does not match its hash"
    )
    assert failure.value.returncode == 1


def test_verify_names_a_removed_last_event(events):
    delete_event(12)
    expected = r"event 12 \(not in the log\): the chain head says the log runs to event 12"
    with pytest.raises(CommandError, match=expected):
        call_command("audit", "verify")


@pytest.mark.django_db(transaction=True)
def test_verify_exits_0_when_the_chain_holds_and_1_when_not():
    for i in range(3):
        record(None, "thing.done", data={"i": i})
    process = tidsnok("audit", "verify")
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    assert stdout.startswith("OK: 3 events, head ")

    delete_event(2)
    process = tidsnok("audit", "verify")
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 1
    assert "event 3 at " in stderr and "event 2 is missing before this event" in stderr


# A writer process: set up Django, say it is ready, wait for the go, append.
WRITER = """
import sys
import django

django.setup()
from tidsnok.audit.services import record

print("ready", flush=True)
sys.stdin.readline()
for i in range(int(sys.argv[2])):
    record(None, "thing.written", data={"i": i}, object_type="test.writer", object_id=sys.argv[1])
"""


@pytest.mark.django_db(transaction=True)
def test_two_writers_at_once_never_fork_the_chain():
    """Two OS processes append 300 events each to the same database, starting
    at the same moment: the result is one chain, numbered 1..601 without gaps."""
    record(None, "thing.first")
    writers = [python("-c", WRITER, name, "300") for name in ("a", "b")]
    for writer in writers:  # both have started Django before either writes
        assert writer.stdout.readline() == "ready\n", writer.stderr.read()
    for writer in writers:
        writer.stdin.write("go\n")
        writer.stdin.flush()
    for writer in writers:
        _, stderr = writer.communicate(timeout=600)
        assert writer.returncode == 0, stderr

    seqs = list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, 602))
    for name in ("a", "b"):
        written = AuditEvent.objects.filter(object_id=name).order_by("seq").values_list("data__i", flat=True)
        assert list(written) == list(range(300))
    result = verify_chain()
    assert result.ok, result.reason
    assert (result.checked, result.head_hash) == head() == (601, AuditEvent.objects.get(seq=601).hash)


@pytest.mark.django_db(transaction=True)
def test_bench_can_append_to_the_configured_database():
    process = tidsnok("bench", "audit", "--events", "30", "--configured-db", "--append-only")
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr
    assert "append: 30 events in " in stdout
    assert AuditEvent.objects.count() == 30 and verify_chain().ok


def test_bench_appends_and_verifies_in_a_throwaway_database(db):
    before = AuditEvent.objects.count()
    out = StringIO()
    call_command("bench", "audit", "--events", "40", stdout=out)
    lines = out.getvalue()
    assert "append: 40 events in " in lines
    assert "verify: 40 events in " in lines and "(OK, head " in lines
    assert "floor:  bare HMAC-SHA256 over the same 40 canonical events" in lines
    assert "verify / floor: " in lines
    assert "incremental: 100 events after the checkpoint at event 40 in " in lines and "(OK, head 140;" in lines
    assert AuditEvent.objects.count() == before  # nothing was written here


def test_bench_refuses_to_append_only_to_a_throwaway_database():
    with pytest.raises(CommandError, match="--append-only needs"):
        call_command("bench", "audit", "--events", "5", "--append-only")
