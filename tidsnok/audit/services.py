"""Writing to and checking the audit chain."""

import contextvars
import hashlib
import hmac
import json
import logging
from collections.abc import Iterable, Mapping
from contextlib import contextmanager
from datetime import UTC

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from tidsnok.audit import chain
from tidsnok.audit.models import AuditCheckpoint, AuditEvent, AuditHead

logger = logging.getLogger(__name__)

# Fields whose values never go into the log in clear. Their presence and a keyed
# fingerprint are recorded, so a later dispute can check "was it this text?"
# without the log itself holding the text.
SENSITIVE_KEYS = frozenset(
    {
        "description", "summary", "text", "body", "note", "comment", "reason", "evaluation",
        "what", "content", "message", "justification", "minutes", "name", "email",
    }
)


def _key() -> bytes:
    return settings.AUDIT_KEY.encode()


def current_key_id() -> str:
    """AUDIT_KEY's public name in the chain (chain.key_id)."""
    return chain.key_id(_key())


def _keys() -> list[bytes]:
    """Every configured audit key, oldest first (AUDIT_KEY_FALLBACKS are listed newest first)."""
    return [key.encode() for key in reversed(settings.AUDIT_KEY_FALLBACKS)] + [_key()]


class UnknownAuditKey(ImproperlyConfigured):
    """The chain is at a key this process was not given."""


def _chain_key(head: AuditHead) -> bytes:
    """The key the next event is hashed with: the one the chain is at (the head says which)."""
    if not head.key_id:
        return _key()  # an empty chain starts with AUDIT_KEY
    for key in _keys():
        if chain.key_id(key) == head.key_id:
            return key
    raise UnknownAuditKey(
        f"The audit chain is at key {head.key_id}, which is neither AUDIT_KEY nor in AUDIT_KEY_FALLBACKS "
        "of this process: give it the same keys as the other servers (docs/deployment.md, Keys)."
    )


def fingerprint(value) -> str:
    digest = hmac.new(_key(), str(value).encode(), hashlib.sha256).hexdigest()
    return f"hmac:{digest[:16]}"


def mask(data: dict | None, sensitive: frozenset | set = frozenset()) -> dict:
    """Replace the values of sensitive keys (recursively) with a fingerprint."""
    if not data:
        return {}
    hidden = SENSITIVE_KEYS | set(sensitive)
    out = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out[key] = mask(value, sensitive)
        elif key in hidden and value not in (None, ""):
            if isinstance(value, (list, tuple)) and len(value) == 2 and key.endswith("_change"):
                out[key] = [fingerprint(value[0]), fingerprint(value[1])]
            else:
                out[key] = fingerprint(value)
        else:
            out[key] = value
    return out


def _stored_float(text: str) -> float | int:
    """A JSON number as the database gives it back, so that what is hashed is
    what verify will read. PostgreSQL's jsonb writes 1e+16 and larger out in
    digits, which read back as an int, and has no negative zero."""
    number = float(text)
    if number == 0:
        return 0.0
    return int(number) if number.is_integer() and abs(number) >= 1e16 else number


def _lock_head() -> AuditHead:
    # One locked read on PostgreSQL (FOR UPDATE waits for the writer before us
    # and then sees its head). SQLite drops FOR UPDATE: its IMMEDIATE
    # transaction already holds the database's write lock.
    head = AuditHead.objects.select_for_update().filter(pk=1).first()
    if head is None:
        # The very first event. Two first writers may race to insert the row:
        # get_or_create lets the loser read the winner's row, which it then locks.
        AuditHead.objects.get_or_create(pk=1)
        head = AuditHead.objects.select_for_update().get(pk=1)
    return head


# Inside day_only(), events carry the date only (midnight, local time): the
# anonymous reporting channel, where a time of day could tell who wrote.
_day_only = contextvars.ContextVar("tidsnok_audit_day_only", default=False)


@contextmanager
def day_only():
    """Stamp the events recorded inside this block with the day only."""
    token = _day_only.set(True)
    try:
        yield
    finally:
        _day_only.reset(token)


def now():
    """The time to stamp a record with: the day only (midnight) inside day_only()."""
    return _now()


def stamping_day_only() -> bool:
    """Whether this is inside day_only(): what an anonymous report causes."""
    return _day_only.get()


def _now():
    now = timezone.now()
    if _day_only.get():
        midnight = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
        # In UTC like timezone.now(), so the hashed time is the one read back.
        now = midnight.astimezone(UTC)
    return now


def _prepare(actor, action: str, obj=None, data: dict | None = None, *, role: str = "",
             object_type: str = "", object_id: str = "", sensitive=frozenset()) -> tuple:
    """An event's columns before it is chained: (actor_id, role, action,
    object_type, object_id, masked data). Shared by record and record_many so
    both write events of exactly the same form."""
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
    actor_id = actor.pk if actor is not None and getattr(actor, "is_authenticated", False) else None
    # Dates and decimals become strings now, so the stored JSON and the hashed
    # JSON are the same bytes when read back.
    masked = json.loads(json.dumps(mask(data, sensitive), default=str), parse_float=_stored_float)
    return actor_id, role, action, object_type, str(object_id), masked


def _chained(prev_hash: str, seq: int, prepared: tuple, key: bytes) -> AuditEvent:
    """The event at `seq` after `prev_hash`, stamped now (after the head lock,
    so times follow the chain's order), hashed with `key`, not yet saved."""
    actor_id, role, action, object_type, object_id, masked = prepared
    now = _now()
    body = chain.event_body(seq, now.isoformat(), actor_id, role, action, object_type, object_id, masked)
    digest = chain.link_hash(key, prev_hash, body)
    return AuditEvent(
        seq=seq, time=now, actor_id=actor_id, role=role, action=action, object_type=object_type,
        object_id=object_id, data=masked, prev_hash=prev_hash, hash=digest,
    )


def record(actor, action: str, obj=None, data: dict | None = None, *, role: str = "",
           object_type: str = "", object_id: str = "", sensitive=frozenset()) -> AuditEvent:
    """Append one event. Call it inside the transaction of the change it records,
    so the event exists exactly when the change does."""
    prepared = _prepare(actor, action, obj, data, role=role, object_type=object_type,
                        object_id=object_id, sensitive=sensitive)
    if action == chain.ROTATION:
        raise ValueError("only rotate_key() moves the chain to another key")
    with transaction.atomic():
        head = _lock_head()
        key = _chain_key(head)
        event = _chained(head.hash, head.seq + 1, prepared, key)
        event.save(force_insert=True)
        AuditHead.objects.filter(pk=1).update(seq=event.seq, hash=event.hash, key_id=chain.key_id(key))
    return event


def record_many(events: Iterable[Mapping]) -> list[AuditEvent]:
    """Append several events in one go, in the order given: one head lock, the
    hashes chained in Python, one bulk insert, one head update. Each item holds
    `record`'s arguments by name (actor, action, obj, data, role, object_type,
    object_id, sensitive), and the events are exactly those `record` would
    write one by one. For bulk writers such as the synthetic-data generator;
    call it inside the transaction of the changes it records."""
    # Masked before the lock, as in record: the lock is held only for chaining.
    prepared = [_prepare(**spec) for spec in events]
    if not prepared:
        return []
    if any(item[2] == chain.ROTATION for item in prepared):
        raise ValueError("only rotate_key() moves the chain to another key")
    with transaction.atomic():
        head = _lock_head()
        key = _chain_key(head)
        created, prev_hash, seq = [], head.hash, head.seq
        for item in prepared:
            seq += 1
            event = _chained(prev_hash, seq, item, key)
            created.append(event)
            prev_hash = event.hash
        AuditEvent.objects.bulk_create(created)
        AuditHead.objects.filter(pk=1).update(seq=seq, hash=prev_hash, key_id=chain.key_id(key))
    return created


class NothingToRotate(Exception):
    """The chain is already at AUDIT_KEY."""


def rotate_key(actor=None) -> AuditEvent:
    """Move the chain to AUDIT_KEY: one event, hashed with AUDIT_KEY and naming it, after which
    every event is hashed with it. Run it once every process has AUDIT_KEY=new and the old key
    in AUDIT_KEY_FALLBACKS (a process without the new key can no longer write events)."""
    with transaction.atomic():
        head = _lock_head()
        previous = chain.key_id(_chain_key(head))  # refuses when this process lacks the key in use
        key = _key()
        if chain.key_id(key) == previous:
            raise NothingToRotate(previous)
        prepared = _prepare(actor, chain.ROTATION, data={"key": chain.key_id(key), "previous": previous})
        event = _chained(head.hash, head.seq + 1, prepared, key)
        event.save(force_insert=True)
        AuditHead.objects.filter(pk=1).update(seq=event.seq, hash=event.hash, key_id=chain.key_id(key))
    return event


def record_access(actor, obj, *, role: str = "", reason: str = "") -> AuditEvent:
    """Log that `actor` read a sensitive object (an ACCESS event)."""
    return record(actor, "ACCESS", obj, {"reason": reason} if reason else None, role=role)


# The columns a link's hash covers, in the order chain_rows() unpacks them.
_CHAIN_COLUMNS = ("seq", "time", "actor_id", "role", "action", "object_type", "object_id", "data", "prev_hash", "hash")


def chain_rows(from_seq: int = 1):
    """Every event from `from_seq` on as (seq, body, prev_hash, hash), in seq
    order, read in chunks.

    Plain tuples rather than model instances: verifying reads every event, and
    building 100,000 model objects would cost more than the hashing."""
    events = AuditEvent.objects.order_by("seq")
    if from_seq > 1:
        events = events.filter(seq__gte=from_seq)
    events = events.values_list(*_CHAIN_COLUMNS).iterator(chunk_size=2000)
    for seq, time, actor_id, role, action, object_type, object_id, data, prev_hash, stored_hash in events:
        body = chain.event_body(seq, time.isoformat(), actor_id, role, action, object_type, object_id, data)
        yield seq, body, prev_hash, stored_hash


def verify_chain(*, checkpoint: bool = False) -> chain.VerifyResult:
    """Recompute the whole chain, from the first event. Safe while others write:
    the head is read before the events and again after them (see chain.verify).

    With `checkpoint=True` a successful run writes a checkpoint at the last
    event it verified (`tidsnok audit verify` does), so that
    verify_since_checkpoint() can start from there."""
    started = timezone.now()
    before = head()
    result = chain.verify(_keys(), chain_rows(), before, head_after=head)
    if not result.ok:
        _attach_bad_event(result)
    elif checkpoint:
        result.saved_checkpoint = save_checkpoint(
            result.head_seq, result.head_hash, started, full_seq=result.head_seq, full_verified_at=started,
        )
    return result


def verify_since_checkpoint(*, advance: bool = True) -> chain.VerifyResult:
    """Verify the chain from the newest valid checkpoint to the head.

    Checks that the checkpoint's event is still there with the checkpoint's
    hash (and still hashes to it), then every event after it exactly as
    verify_chain does. The events before the checkpoint are not read again:
    they were verified when the checkpoint was written; `result.checkpoint`
    says up to which event and when, and `result.start_seq` is its seq.
    Without a valid checkpoint this is verify_chain() (`result.checkpoint` is
    None). With `advance`, a successful run writes a checkpoint at the last
    event it verified, so the next run only reads the events after that
    (best effort: a checkpoint that cannot be written is logged, not raised)."""
    base = latest_checkpoint()
    started = timezone.now()
    before = head()
    if base is None:
        result = chain.verify(_keys(), chain_rows(), before, head_after=head)
    else:
        result = chain.verify(
            _keys(), chain_rows(from_seq=base.seq), before, head_after=head, checkpoint=(base.seq, base.hash),
            key_at_checkpoint=_key_at(base.seq),
        )
        result.checkpoint = base
    if not result.ok:
        _attach_bad_event(result)
        return result
    if advance and result.head_seq > (base.seq if base else 0):
        # A checkpoint resting on a full run carries that run forward; a run
        # from no checkpoint was itself a full run.
        full_seq, full_at = (base.full_seq, base.full_verified_at) if base else (result.head_seq, started)
        try:
            result.saved_checkpoint = save_checkpoint(
                result.head_seq, result.head_hash, started, full_seq=full_seq, full_verified_at=full_at,
            )
        except DatabaseError:
            # Only an optimisation: the verification itself stands, and the
            # next run starts from the older checkpoint.
            logger.warning("audit checkpoint not written", exc_info=True)
    return result


def _attach_bad_event(result: chain.VerifyResult) -> None:
    # For the report: when, what and by whom (None if the event is gone).
    result.bad_event = AuditEvent.objects.select_related("actor").filter(seq=result.first_bad_seq).first()


def _key_at(seq: int) -> str | None:
    """The key the chain was at with event `seq`: the one the last rotation up to it named, or
    None before any rotation (the chain's first key, which verification finds by trying)."""
    data = (AuditEvent.objects.filter(action=chain.ROTATION, seq__lte=seq).order_by("-seq")
            .values_list("data", flat=True).first())
    return data.get("key") if isinstance(data, dict) else None


def _checkpoint_mac(seq: int, hash_: str, verified_at, full_seq: int, full_verified_at, key=None) -> str:
    body = chain.checkpoint_body(seq, hash_, verified_at.isoformat(), full_seq, full_verified_at.isoformat())
    return chain.checkpoint_mac(key or _key(), body)


def checkpoint_is_valid(checkpoint: AuditCheckpoint) -> bool:
    """Signed with AUDIT_KEY, or with an earlier key before it was rotated."""
    return any(
        hmac.compare_digest(_checkpoint_mac(checkpoint.seq, checkpoint.hash, checkpoint.verified_at,
                                            checkpoint.full_seq, checkpoint.full_verified_at, key), checkpoint.mac)
        for key in reversed(_keys())
    )


def save_checkpoint(seq: int, hash_: str, verified_at, *, full_seq: int, full_verified_at) -> AuditCheckpoint | None:
    """Add a signed checkpoint: the chain was verified up to event `seq` (hash
    `hash_`) at `verified_at`, resting on a full verification of events
    1..full_seq at `full_verified_at`. Only call it after a verification that
    succeeded. Nothing to note for an empty log (returns None).

    A plain insert, no lock: two verifiers saving at once add two rows, each
    true, and readers take the highest seq."""
    if seq <= 0:
        return None
    # Microseconds as the database keeps them, in UTC: the mac is checked
    # against the times read back, which must give the same isoformat.
    verified_at = verified_at.astimezone(UTC)
    full_verified_at = full_verified_at.astimezone(UTC)
    mac = _checkpoint_mac(seq, hash_, verified_at, full_seq, full_verified_at)
    with transaction.atomic():
        return AuditCheckpoint.objects.create(
            seq=seq, hash=hash_, verified_at=verified_at, full_seq=full_seq,
            full_verified_at=full_verified_at, mac=mac,
        )


# How many checkpoints latest_checkpoint() reads at most before giving up:
# rows with a bad mac only come from tampering, and should not make every
# verification scan an ever longer table.
_CHECKPOINT_SCAN = 100


def latest_checkpoint() -> AuditCheckpoint | None:
    """The checkpoint with the highest seq whose mac holds, or None. Rows whose
    mac does not hold (edited or inserted without AUDIT_KEY) are skipped."""
    for checkpoint in AuditCheckpoint.objects.order_by("-seq", "-id")[:_CHECKPOINT_SCAN]:
        if checkpoint_is_valid(checkpoint):
            return checkpoint
        logger.warning("audit checkpoint %s (event %s) has a bad mac: ignored", checkpoint.pk, checkpoint.seq)
    return None


def lock_chain() -> None:
    """Take the chain head's lock now, until the transaction ends, as its first event would.

    For a service that also bumps a version of its own (cases.models.DeadlineVersion): taking
    the head first keeps one order of locks for every writer, and the versions then commit in
    the order they were bumped, as events do."""
    _lock_head()


def head() -> tuple[int, str]:
    return AuditHead.objects.filter(pk=1).values_list("seq", "hash").first() or (0, chain.GENESIS)


def last_event(actions: Iterable[str]) -> tuple[int, str]:
    """The seq and hash of the newest event with one of these actions, (0, "") if there is none.

    A version for figures derived from what those actions change, that costs one index seek
    per action (the (action, -seq) index) at any size of the chain. The seq only ever grows
    when such a change commits: every append holds the chain head's lock until its transaction
    ends, so events commit in the order of their seq, and a later reader never sees a seq below
    one it has already seen. The hash names the whole history up to that event, so a database
    restored from a backup, whose new events reuse seqs, never matches a version taken before."""
    actions = sorted(set(actions))
    if not actions:
        return 0, ""
    table = connection.ops.quote_name(AuditEvent._meta.db_table)
    # One MAX per action, not MAX(...) WHERE action IN (...), which PostgreSQL answers by
    # reading every matching row.
    newest = " UNION ALL ".join(f"SELECT MAX(seq) AS seq FROM {table} WHERE action = %s" for _ in actions)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT seq, hash FROM {table} WHERE seq = (SELECT MAX(seq) FROM ({newest}) newest)", actions)
        row = cursor.fetchone()
    return (row[0], row[1]) if row else (0, "")
