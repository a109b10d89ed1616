"""Writing to and checking the audit chain."""

import hashlib
import hmac
import json

from django.conf import settings
from django.db import connection, transaction
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


def _lock_head() -> AuditHead:
    head, _ = AuditHead.objects.get_or_create(pk=1)
    if connection.features.has_select_for_update:
        head = AuditHead.objects.select_for_update().get(pk=1)
    return head


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
    masked = json.loads(json.dumps(mask(data, sensitive), default=str))
    with transaction.atomic():
        head = _lock_head()
        seq = head.seq + 1
        now = timezone.now()
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


def _body_of(event: AuditEvent) -> dict:
    return chain.event_body(
        event.seq, event.time.isoformat(), event.actor_id, event.role, event.action,
        event.object_type, event.object_id, event.data,
    )


def verify_chain() -> chain.VerifyResult:
    rows = (
        (e.seq, _body_of(e), e.prev_hash, e.hash)
        for e in AuditEvent.objects.order_by("seq").iterator(chunk_size=2000)
    )
    head = AuditHead.objects.filter(pk=1).values_list("seq", "hash").first() or (0, chain.GENESIS)
    return chain.verify(_key(), rows, head)


def head() -> tuple[int, str]:
    return AuditHead.objects.filter(pk=1).values_list("seq", "hash").first() or (0, chain.GENESIS)
