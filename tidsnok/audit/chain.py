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


# The event that moves the chain to another key: hashed with the key it names (its data's "key"),
# as is every event after it, until the next one. Its link (prev_hash) is the last hash made with
# the key before, so a leak of an earlier key can no longer rewrite what came before the rotation.
ROTATION = "audit.key_rotated"
KEY_ID_DOMAIN = b"tidsnok.audit.key-id:"


def key_id(key: bytes) -> str:
    """A key's public name in the chain (a rotation event names its key by it)."""
    return hashlib.sha256(KEY_ID_DOMAIN + key).hexdigest()[:16]


# Prefixed to a checkpoint's canonical form before it is signed. A link's
# message starts with 64 hex digits (the previous hash), so no checkpoint MAC
# can ever be passed off as an event hash or the other way round.
CHECKPOINT_DOMAIN = b"tidsnok.audit.checkpoint:"


def checkpoint_body(seq, hash_, verified_at_iso, full_seq, full_verified_at_iso) -> dict:
    return {
        "seq": seq,
        "hash": hash_,
        "verified_at": verified_at_iso,
        "full_seq": full_seq,
        "full_verified_at": full_verified_at_iso,
    }


def checkpoint_mac(key: bytes, body: dict) -> str:
    return hmac.new(key, CHECKPOINT_DOMAIN + canonical(body), hashlib.sha256).hexdigest()


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
    # Set when the run started from a checkpoint: events up to and including
    # this one were verified earlier; `checked` counts the events after it.
    # 0 means the run recomputed the chain from the first event.
    start_seq: int = 0
    # Filled in by audit.services: the stored event at first_bad_seq, if it exists.
    bad_event: object = None
    # Filled in by audit.services: the checkpoint this run started from (None
    # for a full run), and the checkpoint it wrote on success (None if none).
    checkpoint: object = None
    saved_checkpoint: object = None
    # On success: the key (key_id) the last event was hashed with, "" for an empty chain.
    key_id: str = ""


# How a chain can break, as named in VerifyResult.problem.
PROBLEMS = {
    "missing": "events {missing_from}-{missing_to} are missing before this event",
    "sequence": "unexpected sequence number (expected event {expected})",
    "link": "its link to the previous event does not match",
    "content": "its content does not match its hash",
    "tail_missing": "the chain head says the log runs to event {head_seq}, but it ends at event {last_seq}",
    "head_mismatch": "the chain head does not match this event",
    "past_head": "the log runs past the chain head (event {head_seq}) to event {last_seq}",
    "checkpoint_missing": "event {checkpoint_seq}, verified at a checkpoint, is no longer in the log",
    "checkpoint_changed": "it no longer matches the checkpoint verified at this event",
    "unknown_key": "it moves the chain to key {key}, which is neither AUDIT_KEY nor in AUDIT_KEY_FALLBACKS",
    "key_order": "it moves the chain back to key {key}, which is not newer than the key before it",
}


def _broken(checked: int, seq: int, problem: str, **detail) -> VerifyResult:
    reason = PROBLEMS[problem].format(**detail)
    if problem == "missing" and detail["missing_from"] == detail["missing_to"]:
        reason = "event {missing_from} is missing before this event".format(**detail)
    return VerifyResult(False, checked, seq, reason, problem=problem, detail=detail)


class _Keys:
    """The configured keys, oldest first, and which of them the chain is at.

    The chain may only move to newer keys: otherwise whoever learnt an old key could add a
    rotation back to it and rewrite every event after that with it."""

    def __init__(self, keys, at_id: str | None):
        self.keys = [keys] if isinstance(keys, bytes) else list(keys)
        self.ids = [key_id(key) for key in self.keys]
        self.at = self.ids.index(at_id) if at_id in self.ids else None
        self.named = None  # the key the last rotation named, for the problem's wording

    def check(self, body: dict, prev_hash: str, stored_hash: str) -> str | None:
        """None if the event hashes to `stored_hash` under the key it must have been made
        with, else the problem; a rotation moves to its key first."""
        if body["action"] == ROTATION:
            target = self.named = body["data"].get("key") if isinstance(body["data"], dict) else None
            if target not in self.ids:
                return "unknown_key"
            if self.at is not None and self.ids.index(target) <= self.at:
                return "key_order"
            self.at = self.ids.index(target)
        elif self.at is None:
            # The chain's first key (or, from a checkpoint, one not yet known): the one this
            # event was made with; the order of later rotations is checked from it.
            for index, key in enumerate(self.keys):
                if link_hash(key, prev_hash, body) == stored_hash:
                    self.at = index
                    return None
            return "content"
        return None if link_hash(self.keys[self.at], prev_hash, body) == stored_hash else "content"


def verify(
    key: bytes | list[bytes],
    rows: Iterable[tuple],
    head: tuple[int, str],
    head_after: Callable[[], tuple[int, str]] | None = None,
    checkpoint: tuple[int, str] | None = None,
    key_at_checkpoint: str | None = None,
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

    With `checkpoint` = (seq, hash) of an earlier verification, the rows start
    at the checkpoint's event instead of the first one. That event must still
    be there, hash to its own stored hash and carry the checkpoint's hash; the
    events after it are then checked exactly as in a full run. The events
    before it are not read: the result says so (`start_seq`).

    `key` is the key, or the configured keys oldest first: each event must hash under the key
    of its stretch of the chain (see ROTATION), and the first event (or the checkpoint's, whose
    key `key_at_checkpoint` names when the services know it) decides the first stretch's.
    """
    result = _verify(_Keys(key, key_at_checkpoint), rows, head, head_after, checkpoint)
    result.start_seq = checkpoint[0] if checkpoint is not None else 0
    return result


def _verify(keys: _Keys, rows, head, head_after, checkpoint) -> VerifyResult:
    head_seq, head_hash = head
    expected_prev = GENESIS
    expected_seq = 1
    checked = 0
    rows = iter(rows)
    if checkpoint is not None:
        start_seq, start_hash = checkpoint
        first = next(rows, None)
        if first is None or first[0] != start_seq:
            return _broken(0, start_seq, "checkpoint_missing", checkpoint_seq=start_seq)
        _seq, body, prev_hash, stored_hash = first
        # Its own hash is recomputed too: otherwise its content (or the link
        # to the event before it) could be edited while the hash column stays.
        if stored_hash != start_hash:
            return _broken(0, start_seq, "checkpoint_changed", checkpoint_seq=start_seq)
        problem = keys.check(body, prev_hash, stored_hash)
        if problem == "content":
            return _broken(0, start_seq, "checkpoint_changed", checkpoint_seq=start_seq)
        if problem is not None:
            return _broken(0, start_seq, problem, key=keys.named)
        if start_seq == head_seq and stored_hash != head_hash:
            return _broken(0, start_seq, "head_mismatch")
        expected_prev = stored_hash
        expected_seq = start_seq + 1
    for seq, body, prev_hash, stored_hash in rows:
        if seq != expected_seq:
            if seq > expected_seq:
                return _broken(checked, seq, "missing", missing_from=expected_seq, missing_to=seq - 1)
            return _broken(checked, seq, "sequence", expected=expected_seq)
        if prev_hash != expected_prev:
            return _broken(checked, seq, "link")
        problem = keys.check(body, prev_hash, stored_hash)
        if problem == "content":
            return _broken(checked, seq, "content")
        if problem is not None:
            return _broken(checked, seq, problem, key=keys.named)
        if seq == head_seq and stored_hash != head_hash:
            return _broken(checked, seq, "head_mismatch")
        expected_prev = stored_hash
        expected_seq += 1
        checked += 1
    last_seq = expected_seq - 1
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
    return VerifyResult(True, checked, head_seq=last_seq, head_hash=expected_prev,
                        key_id=keys.ids[keys.at] if keys.at is not None else "")
