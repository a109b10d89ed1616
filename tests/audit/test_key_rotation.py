"""Rotating AUDIT_KEY: `tidsnok audit rotate-key` appends the event that moves the chain to the new
key, every later event is hashed with it, and the whole chain still verifies with the old key kept
in AUDIT_KEY_FALLBACKS. Whoever learns the old key afterwards can no longer rewrite history: the
rotation event, made with the new key, links to the last event made with the old one."""

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from tidsnok.audit import chain, services
from tidsnok.audit.models import AuditEvent, AuditHead

from .conftest import sql

OLD = "test-audit-key-not-for-production-0123456789"  # tests/settings.py
NEW = "the-new-audit-key-after-a-suspected-leak-0123"
NEWER = "and-one-more-rotation-a-year-later-0123456789"


def key_id(key: str) -> str:
    return chain.key_id(key.encode())


def new_key_with_old_as_fallback():
    return override_settings(AUDIT_KEY=NEW, AUDIT_KEY_FALLBACKS=[OLD])


def write(count: int, start: int = 0) -> None:
    for n in range(start, start + count):
        services.record(None, "test.event", data={"n": n})


def rows() -> list[tuple]:
    return list(services.chain_rows())


# --- the pure chain ------------------------------------------------------------------------------


def chained(spec) -> list[tuple]:
    """Rows chained by hand: spec is a list of (key, action, data)."""
    out, prev = [], chain.GENESIS
    for seq, (key, action, data) in enumerate(spec, start=1):
        body = chain.event_body(seq, f"2027-01-01T00:00:{seq:02d}+00:00", None, "", action, "", "", data)
        digest = chain.link_hash(key, prev, body)
        out.append((seq, body, prev, digest))
        prev = digest
    return out


K1, K2, K3 = b"first-key", b"second-key", b"third-key"


def rotation(to: bytes, previous: bytes) -> tuple:
    return to, chain.ROTATION, {"key": chain.key_id(to), "previous": chain.key_id(previous)}


def test_a_chain_that_moved_to_a_new_key_verifies_with_both_keys_oldest_first():
    rows_ = chained([(K1, "a", {}), (K1, "a", {}), rotation(K2, K1), (K2, "a", {}), rotation(K3, K2), (K3, "a", {})])
    head = (6, rows_[-1][3])
    assert chain.verify([K1, K2, K3], rows_, head).ok
    # Without the first key, the first stretch cannot be checked.
    result = chain.verify([K2, K3], rows_, head)
    assert not result.ok and result.first_bad_seq == 1 and result.problem == "content"
    # Without the newest key, its rotation names a key nobody gave the verifier.
    result = chain.verify([K1, K2], rows_, head)
    assert not result.ok and result.first_bad_seq == 5 and result.problem == "unknown_key"
    assert chain.key_id(K3) in result.reason


def test_a_leaked_old_key_cannot_move_the_chain_back_to_it():
    """The attack the order rule stops: rotate back to the leaked key, then rewrite the tail with it."""
    genuine = chained([(K1, "a", {}), rotation(K2, K1), (K2, "a", {})])
    forged = chained([(K1, "a", {}), rotation(K2, K1), rotation(K1, K2), (K1, "a", {"forged": True})])
    forged[1] = genuine[1]  # the real rotation event, which the attacker cannot make
    # Re-link what follows it, with the leaked key only.
    seq, body, _prev, _digest = forged[2]
    forged[2] = (seq, body, genuine[1][3], chain.link_hash(K1, genuine[1][3], body))
    seq, body, _prev, _digest = forged[3]
    forged[3] = (seq, body, forged[2][3], chain.link_hash(K1, forged[2][3], body))
    result = chain.verify([K1, K2], forged, (4, forged[3][3]))
    assert not result.ok and result.first_bad_seq == 3 and result.problem == "key_order"


def test_a_leaked_old_key_cannot_rewrite_the_events_before_the_rotation():
    rows_ = chained([(K1, "a", {"amount": 1}), (K1, "a", {}), rotation(K2, K1), (K2, "a", {})])
    # Rewrite event 1 and re-chain events 1-2 with the leaked K1: the rotation event's link breaks.
    forged = chained([(K1, "a", {"amount": 1000}), (K1, "a", {})]) + rows_[2:]
    result = chain.verify([K1, K2], forged, (4, rows_[-1][3]))
    assert not result.ok and result.first_bad_seq == 3 and result.problem == "link"


# --- the services and the command ----------------------------------------------------------------


def test_the_chain_moves_to_the_new_key_only_when_rotated(db):
    write(3)
    assert AuditHead.objects.get().key_id == key_id(OLD)
    with new_key_with_old_as_fallback():
        write(2, start=3)  # every process has the new key now, but the chain is still at the old one
        assert AuditHead.objects.get().key_id == key_id(OLD)
        event = services.rotate_key()
        assert event.action == chain.ROTATION and event.data == {"key": key_id(NEW), "previous": key_id(OLD)}
        write(2, start=5)
        assert AuditHead.objects.get().key_id == key_id(NEW)
        assert services.verify_chain().ok
        last = rows()[-1]
        assert chain.link_hash(NEW.encode(), last[2], last[1]) == last[3]
        first = rows()[0]
        assert chain.link_hash(OLD.encode(), first[2], first[1]) == first[3]
    # A process still on the old key alone must not write: its events would not verify.
    with pytest.raises(services.UnknownAuditKey):
        write(1)
    # Dropping the old key loses the full verification of the events before the rotation.
    with override_settings(AUDIT_KEY=NEW, AUDIT_KEY_FALLBACKS=[]):
        result = services.verify_chain()
        assert not result.ok and result.first_bad_seq == 1


def test_only_the_rotation_service_writes_a_rotation_event(db):
    with pytest.raises(ValueError):
        services.record(None, chain.ROTATION, data={"key": key_id(NEW)})
    with pytest.raises(ValueError):
        services.record_many([{"actor": None, "action": chain.ROTATION, "data": {"key": key_id(NEW)}}])


def test_checkpoints_from_before_the_rotation_still_count_and_verification_crosses_it(db):
    write(3)
    assert services.verify_chain(checkpoint=True).saved_checkpoint.seq == 3
    with new_key_with_old_as_fallback():
        services.rotate_key()
        write(2)
        result = services.verify_since_checkpoint()
        assert result.ok and result.start_seq == 3 and result.checked == 3
        # The next run starts after the rotation, at a checkpoint signed with the new key.
        write(1)
        result = services.verify_since_checkpoint()
        assert result.ok and result.start_seq == 6 and result.checked == 1
        assert chain.checkpoint_mac(NEW.encode(), chain.checkpoint_body(
            6, result.checkpoint.hash, result.checkpoint.verified_at.isoformat(), result.checkpoint.full_seq,
            result.checkpoint.full_verified_at.isoformat())) == result.checkpoint.mac
    # An event changed after the rotation is found from the checkpoint too.
    with new_key_with_old_as_fallback():
        sql("UPDATE {table} SET object_id = 'x' WHERE seq = 7")
        result = services.verify_since_checkpoint(advance=False)
        assert not result.ok and result.first_bad_seq == 7


def test_the_command_rotates_once_and_says_what_to_keep(db, capsys):
    write(2)
    with pytest.raises(CommandError, match="already at AUDIT_KEY"):
        call_command("audit", "rotate-key")
    with new_key_with_old_as_fallback():
        call_command("audit", "verify")
        assert f"the chain is at key {key_id(OLD)}, not at AUDIT_KEY ({key_id(NEW)})" in capsys.readouterr().out
        call_command("audit", "rotate-key")
        out = capsys.readouterr().out
        assert f"from key {key_id(OLD)} to key {key_id(NEW)} at event 3" in out
        assert "AUDIT_KEY_FALLBACKS" in out
        with pytest.raises(CommandError, match="already at AUDIT_KEY"):
            call_command("audit", "rotate-key")
        call_command("audit", "verify")
        out = capsys.readouterr().out
        assert "OK: 3 events" in out and "NOTE" not in out
    # A second rotation a year later: both earlier keys as fallbacks, newest first.
    with override_settings(AUDIT_KEY=NEWER, AUDIT_KEY_FALLBACKS=[NEW, OLD]):
        call_command("audit", "rotate-key")
        write(1)
        assert services.verify_chain().ok
    # The fallbacks in the wrong order put the keys in the wrong order: the rotation to NEW looks
    # like a step back, and verification says so rather than trusting it.
    with override_settings(AUDIT_KEY=NEWER, AUDIT_KEY_FALLBACKS=[OLD, NEW]):
        result = services.verify_chain()
        assert not result.ok and result.problem == "key_order" and result.first_bad_seq == 3


def test_a_process_without_the_key_in_use_cannot_rotate(db):
    write(1)
    with override_settings(AUDIT_KEY=NEW, AUDIT_KEY_FALLBACKS=[]):
        with pytest.raises(CommandError, match="neither AUDIT_KEY nor in AUDIT_KEY_FALLBACKS"):
            call_command("audit", "rotate-key")
    assert not AuditEvent.objects.filter(action=chain.ROTATION).exists()


def test_every_way_a_chain_can_break_is_worded_for_the_audit_page_and_the_pdf():
    from tidsnok.reports.case_pdf import CHAIN_PROBLEMS
    from tidsnok.web.audit_views import PROBLEM_TEXT

    checkpoint_only = {"checkpoint_missing", "checkpoint_changed"}  # the page always verifies in full
    assert set(chain.PROBLEMS) - checkpoint_only <= set(PROBLEM_TEXT)
    assert set(chain.PROBLEMS) <= set(CHAIN_PROBLEMS["nb"])


def test_the_audit_page_names_a_rotation_to_an_unknown_key(db, client, world):
    from tests.conftest import enrol_totp

    write(2)
    with new_key_with_old_as_fallback():
        services.rotate_key()
    # Verified by a server that was given neither the new key nor its id: nothing to trust it by.
    enrol_totp(world.user("ada"))
    client.force_login(world.user("ada"))
    page = client.post("/audit/", follow=True, HTTP_ACCEPT_LANGUAGE="nb").content.decode()
    assert f"den flytter kjeden til nøkkel {key_id(NEW)}, som verken er AUDIT_KEY" in page
