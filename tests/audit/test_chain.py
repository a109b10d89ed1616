"""The audit chain holds for real use, and every kind of tampering is caught at
the right event."""

from datetime import timedelta
from io import StringIO

from django.core.management import call_command

from tests.audit.conftest import KEY, chained_rows, delete_event, flip_action, replace_in_data, swap_events
from tidsnok.audit import chain
from tidsnok.audit.models import AuditEvent, AuditHead
from tidsnok.audit.services import head, record, verify_chain


def test_empty_log_verifies(db):
    result = verify_chain()
    assert result.ok and result.checked == 0 and result.head_hash == chain.GENESIS


def test_chain_verifies_after_building_the_world(world):
    result = verify_chain()
    assert result.ok, result.reason
    assert result.checked == AuditEvent.objects.count() > 50
    assert (result.checked, result.head_hash) == head()


def test_chain_verifies_after_the_demo(db):
    call_command("demo", stdout=StringIO())
    call_command("demo", stdout=StringIO())  # running it again appends to the same chain
    result = verify_chain()
    assert result.ok, result.reason
    assert result.checked == AuditEvent.objects.count() > 100


def test_sensitive_values_are_stored_as_fingerprints(events):
    stored = AuditEvent.objects.get(seq=1).data
    assert stored["n"] == 0
    assert stored["comment"].startswith("hmac:") and "secret" not in stored["comment"]


def test_it_names_an_event_whose_action_was_changed(events):
    flip_action(5)
    result = verify_chain()
    assert not result.ok
    assert (result.first_bad_seq, result.problem, result.checked) == (5, "content", 4)
    assert result.bad_event.seq == 5 and result.bad_event.action == "Thing.step1"


def test_it_names_an_event_whose_data_was_changed(events):
    assert AuditEvent.objects.get(seq=7).data["n"] == 6
    replace_in_data(7, '"n": 6', '"n": 7')  # one byte of the stored JSON text
    assert AuditEvent.objects.get(seq=7).data["n"] == 7
    result = verify_chain()
    assert (result.ok, result.first_bad_seq, result.problem) == (False, 7, "content")


def test_it_names_an_event_whose_time_was_moved(events):
    moved = AuditEvent.objects.get(seq=3).time + timedelta(microseconds=1)
    AuditEvent.objects.filter(seq=3).update(time=moved)
    result = verify_chain()
    assert (result.ok, result.first_bad_seq, result.problem) == (False, 3, "content")


def test_it_names_an_event_whose_hash_was_replaced(events):
    AuditEvent.objects.filter(seq=9).update(hash="f" * 64)
    result = verify_chain()
    # Event 9's own hash no longer matches its content (and event 10 no longer links to it).
    assert (result.ok, result.first_bad_seq, result.problem) == (False, 9, "content")


def test_it_names_the_event_after_a_deleted_one(events):
    delete_event(6)
    result = verify_chain()
    assert (result.ok, result.first_bad_seq, result.problem) == (False, 7, "missing")
    assert result.detail == {"missing_from": 6, "missing_to": 6}
    assert result.reason == "event 6 is missing before this event"
    assert result.bad_event.seq == 7


def test_it_names_a_run_of_deleted_events(events):
    for seq in (4, 5, 6):
        delete_event(seq)
    result = verify_chain()
    assert (result.first_bad_seq, result.problem, result.detail) == (7, "missing", {"missing_from": 4, "missing_to": 6})


def test_it_names_a_deleted_first_event(events):
    delete_event(1)
    result = verify_chain()
    assert (result.ok, result.first_bad_seq, result.problem, result.checked) == (False, 2, "missing", 0)


def test_it_names_a_deleted_last_event(events):
    delete_event(12)
    result = verify_chain()
    assert (result.ok, result.first_bad_seq, result.problem) == (False, 12, "tail_missing")
    assert result.bad_event is None
    assert result.reason == "the chain head says the log runs to event 12, but it ends at event 11"


def test_it_names_the_first_of_two_swapped_events(events):
    swap_events(4, 5)
    result = verify_chain()
    assert (result.ok, result.first_bad_seq, result.problem) == (False, 4, "link")
    assert result.bad_event.action == "thing.step1"  # what used to be event 5


def test_it_names_the_first_of_two_swapped_events_when_only_their_content_moves(events):
    swap_events(8, 10, columns=("time", "actor_id", "action", "object_id", "data"))
    result = verify_chain()
    assert (result.ok, result.first_bad_seq, result.problem) == (False, 8, "content")


def test_it_names_the_last_event_when_the_head_hash_was_changed(events):
    AuditHead.objects.filter(pk=1).update(hash="a" * 64)
    result = verify_chain()
    assert (result.ok, result.first_bad_seq, result.problem) == (False, 12, "head_mismatch")


def test_it_names_events_past_a_head_that_was_moved_back(events):
    # Moving the head back is how one would hide events from a truncation check.
    last = AuditEvent.objects.get(seq=10)
    AuditHead.objects.filter(pk=1).update(seq=10, hash=last.hash)
    result = verify_chain()
    assert (result.ok, result.first_bad_seq, result.problem) == (False, 11, "past_head")


def test_events_with_no_head_row_are_caught(events):
    AuditHead.objects.all().delete()
    result = verify_chain()
    assert (result.ok, result.first_bad_seq, result.problem) == (False, 1, "past_head")


def test_the_chain_goes_on_after_a_verify(events):
    assert verify_chain().ok
    record(None, "thing.more")
    result = verify_chain()
    assert result.ok and result.checked == 13


# The pure verifier, with rows built by hand.



def test_events_appended_while_verifying_are_not_an_error():
    rows = chained_rows(5)
    # The head was read when the log had 3 events; 2 more were committed before
    # the rows were read, and the head read afterwards has moved on to them.
    result = chain.verify(KEY, rows, (3, rows[2][3]), head_after=lambda: (5, rows[4][3]))
    assert result.ok and result.checked == 5 and result.head_hash == rows[4][3]
    # ... or even further, to events committed after the rows were read.
    assert chain.verify(KEY, rows, (3, rows[2][3]), head_after=lambda: (7, "x" * 64)).ok


def test_events_past_the_later_head_are_an_error():
    rows = chained_rows(5)
    result = chain.verify(KEY, rows, (3, rows[2][3]), head_after=lambda: (4, rows[3][3]))
    assert (result.ok, result.first_bad_seq, result.problem) == (False, 5, "past_head")


def test_a_wrong_key_fails_at_the_first_event():
    result = chain.verify(b"other", chained_rows(3), (3, chained_rows(3)[2][3]))
    assert (result.ok, result.first_bad_seq, result.problem) == (False, 1, "content")


def test_an_unexpected_sequence_number_is_named():
    rows = chained_rows(2)
    zero = (0, rows[0][1], rows[0][2], rows[0][3])
    result = chain.verify(KEY, [zero, *rows], (2, rows[1][3]))
    assert (result.ok, result.first_bad_seq, result.problem) == (False, 0, "sequence")


def test_numbers_survive_the_round_trip_through_the_database(db):
    # jsonb (PostgreSQL) prints 1e20 in digits and gives back an int, and turns -0.0 into 0.0.
    record(None, "thing.measured", data={"big": 1e20, "small": 1e-05, "plain": 0.1, "whole": 2.0, "zero": -0.0, "n": 7})
    result = verify_chain()
    assert result.ok, result.reason
    stored = AuditEvent.objects.get().data
    assert stored == {"big": 10**20, "small": 1e-05, "plain": 0.1, "whole": 2.0, "zero": 0.0, "n": 7}
