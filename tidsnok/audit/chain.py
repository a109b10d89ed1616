"""The pure part of the audit chain: canonical form, hashing, verification."""

import hashlib
import hmac
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

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
    """The outcome of recomputing the chain.

    On failure `first_bad_seq` names the first event where the chain breaks,
    `problem` says how (one of PROBLEMS, for callers that word it themselves,
    e.g. translated in the web interface), `detail` holds the numbers that
    wording needs and `reason` is the same in plain English."""

    ok: bool
    checked: int
    first_bad_seq: int | None = None
    reason: str = ""
    head_seq: int = 0
    head_hash: str = GENESIS
    problem: str = ""
    detail: dict = field(default_factory=dict)
    # Filled in by audit.services: the stored event at first_bad_seq, if it exists.
    bad_event: object = None


# How a chain can break, as named in VerifyResult.problem.
PROBLEMS = {
    "missing": "events {missing_from}-{missing_to} are missing before this event",
    "sequence": "unexpected sequence number (expected event {expected})",
    "link": "its link to the previous event does not match",
    "content": "its content does not match its hash",
    "tail_missing": "the chain head says the log runs to event {head_seq}, but it ends at event {last_seq}",
    "head_mismatch": "the chain head does not match this event",
    "past_head": "the log runs past the chain head (event {head_seq}) to event {last_seq}",
}


def _broken(checked: int, seq: int, problem: str, **detail) -> VerifyResult:
    reason = PROBLEMS[problem].format(**detail)
    if problem == "missing" and detail["missing_from"] == detail["missing_to"]:
        reason = "event {missing_from} is missing before this event".format(**detail)
    return VerifyResult(False, checked, seq, reason, problem=problem, detail=detail)


def verify(
    key: bytes,
    rows: Iterable[tuple],
    head: tuple[int, str],
    head_after: Callable[[], tuple[int, str]] | None = None,
) -> VerifyResult:
    """Recompute the chain over rows of (seq, body, prev_hash, hash) in seq order.

    Names the first event whose sequence, link or hash does not match.

    `head` is the chain head (seq, hash) read *before* the rows: every event up to
    it was committed with it, so the log must reach it exactly (this catches a
    removed tail). Writers may append while the rows are read, so events past
    that head are verified as well, and then `head_after()` (the head read *after*
    the rows; by default `head` again) must have caught up with them: a genuine
    event never exists without the head having moved to it in the same
    transaction, so an event past the later head was not written by tidsnok.
    """
    head_seq, head_hash = head
    expected_prev = GENESIS
    expected_seq = 1
    checked = 0
    for seq, body, prev_hash, stored_hash in rows:
        if seq != expected_seq:
            if seq > expected_seq:
                return _broken(checked, seq, "missing", missing_from=expected_seq, missing_to=seq - 1)
            return _broken(checked, seq, "sequence", expected=expected_seq)
        if prev_hash != expected_prev:
            return _broken(checked, seq, "link")
        if link_hash(key, prev_hash, body) != stored_hash:
            return _broken(checked, seq, "content")
        if seq == head_seq and stored_hash != head_hash:
            return _broken(checked, seq, "head_mismatch")
        expected_prev = stored_hash
        expected_seq += 1
        checked += 1
    last_seq = checked
    if last_seq < head_seq:
        return _broken(checked, last_seq + 1, "tail_missing", head_seq=head_seq, last_seq=last_seq)
    if last_seq > head_seq:
        later_seq, later_hash = head_after() if head_after is not None else head
        if last_seq > later_seq:
            return _broken(checked, later_seq + 1, "past_head", head_seq=later_seq, last_seq=last_seq)
        if last_seq == later_seq and later_hash != expected_prev:
            return _broken(checked, last_seq, "head_mismatch")
        # later_seq > last_seq: more events were appended after the rows were
        # read; they are checked next time.
    return VerifyResult(True, checked, head_seq=last_seq, head_hash=expected_prev)
