"""Writing to and checking the audit chain."""

import contextvars
import hashlib
import hmac
import json
from contextlib import contextmanager
from datetime import UTC

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from tidsnok.audit import chain
from tidsnok.audit.models import AuditEvent, AuditHead

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


def _now():
    now = timezone.now()
    if _day_only.get():
        midnight = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
        # In UTC like timezone.now(), so the hashed time is the one read back.
        now = midnight.astimezone(UTC)
    return now


def record(actor, action: str, obj=None, data: dict | None = None, *, role: str = "",
           object_type: str = "", object_id: str = "", sensitive=frozenset()) -> AuditEvent:
    """Append one event. Call it inside the transaction of the change it records,
    so the event exists exactly when the change does."""
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
    actor_id = actor.pk if actor is not None and getattr(actor, "is_authenticated", False) else None
    # Dates and decimals become strings now, so the stored JSON and the hashed
    # JSON are the same bytes when read back.
    masked = json.loads(json.dumps(mask(data, sensitive), default=str), parse_float=_stored_float)
    with transaction.atomic():
        head = _lock_head()
        seq = head.seq + 1
        now = _now()
        body = chain.event_body(seq, now.isoformat(), actor_id, role, action, object_type, str(object_id), masked)
        digest = chain.link_hash(_key(), head.hash, body)
        event = AuditEvent.objects.create(
            seq=seq, time=now, actor_id=actor_id, role=role, action=action, object_type=object_type,
            object_id=str(object_id), data=masked, prev_hash=head.hash, hash=digest,
        )
        AuditHead.objects.filter(pk=1).update(seq=seq, hash=digest)
    return event


def record_access(actor, obj, *, role: str = "", reason: str = "") -> AuditEvent:
    """Log that `actor` read a sensitive object (an ACCESS event)."""
    return record(actor, "ACCESS", obj, {"reason": reason} if reason else None, role=role)


# The columns a link's hash covers, in the order chain_rows() unpacks them.
_CHAIN_COLUMNS = ("seq", "time", "actor_id", "role", "action", "object_type", "object_id", "data", "prev_hash", "hash")


def chain_rows():
    """Every event as (seq, body, prev_hash, hash), in seq order, read in chunks.

    Plain tuples rather than model instances: verifying reads every event, and
    building 100,000 model objects would cost more than the hashing."""
    events = AuditEvent.objects.order_by("seq").values_list(*_CHAIN_COLUMNS).iterator(chunk_size=2000)
    for seq, time, actor_id, role, action, object_type, object_id, data, prev_hash, stored_hash in events:
        body = chain.event_body(seq, time.isoformat(), actor_id, role, action, object_type, object_id, data)
        yield seq, body, prev_hash, stored_hash


def verify_chain() -> chain.VerifyResult:
    """Recompute the whole chain. Safe while others write: the head is read
    before the events and again after them (see chain.verify)."""
    before = head()
    result = chain.verify(_key(), chain_rows(), before, head_after=head)
    if not result.ok:
        # For the report: when, what and by whom (None if the event is gone).
        result.bad_event = AuditEvent.objects.select_related("actor").filter(seq=result.first_bad_seq).first()
    return result


def head() -> tuple[int, str]:
    return AuditHead.objects.filter(pk=1).values_list("seq", "hash").first() or (0, chain.GENESIS)
