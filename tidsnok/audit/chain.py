"""The pure part of the audit chain: canonical form, hashing, verification."""

import hashlib
import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass

GENESIS = "0" * 64


def canonical(event: dict) -> bytes:
    """A stable byte form of an event: sorted keys, no whitespace, UTF-8."""
    return json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def link_hash(key: bytes, prev_hash: str, event: dict) -> str:
    return hmac.new(key, prev_hash.encode() + canonical(event), hashlib.sha256).hexdigest()


def event_body(seq, time_iso, actor_id, role, action, object_type, object_id, data) -> dict:
    return {
        "seq": seq,
        "time": time_iso,
        "actor": actor_id,
        "role": role,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "data": data,
    }


@dataclass
class VerifyResult:
    ok: bool
    checked: int
    first_bad_seq: int | None = None
    reason: str = ""
    head_seq: int = 0
    head_hash: str = GENESIS


def verify(key: bytes, rows: Iterable[tuple], head: tuple[int, str] | None) -> VerifyResult:
    """Recompute the chain over rows of (seq, body, prev_hash, hash) in seq order.

    Names the first event whose sequence, link or hash does not match, and checks
    that the stored head is the last event (which catches a removed tail)."""
    expected_prev = GENESIS
    expected_seq = 1
    checked = 0
    for seq, body, prev_hash, stored_hash in rows:
        if seq != expected_seq:
            return VerifyResult(False, checked, seq, f"expected event {expected_seq}, found {seq} (an event is missing or out of order)")
        if prev_hash != expected_prev:
            return VerifyResult(False, checked, seq, "link to the previous event does not match")
        if link_hash(key, prev_hash, body) != stored_hash:
            return VerifyResult(False, checked, seq, "content does not match its hash")
        expected_prev = stored_hash
        expected_seq += 1
        checked += 1
    if head is not None:
        head_seq, head_hash = head
        if head_seq != checked or head_hash != expected_prev:
            return VerifyResult(
                False, checked, checked + 1 if head_seq > checked else head_seq,
                f"the chain head says event {head_seq}, the log ends at event {checked}",
            )
    return VerifyResult(True, checked, head_seq=checked, head_hash=expected_prev)
