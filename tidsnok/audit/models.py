from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditEvent(models.Model):
    """One link of the append-only, hash-chained audit log.

    `hash` = HMAC-SHA256(AUDIT_KEY, prev_hash + canonical JSON of the event),
    so changing, removing or reordering any event breaks every later link.
    Nothing in tidsnok updates or deletes these rows.
    """

    seq = models.BigIntegerField(unique=True)
    time = models.DateTimeField()
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    role = models.CharField(max_length=40, blank=True)
    action = models.CharField(max_length=60)
    object_type = models.CharField(max_length=60, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    data = models.JSONField(default=dict)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        indexes = [
            models.Index(fields=["object_type", "object_id", "-seq"]),
            models.Index(fields=["actor", "-seq"]),
            models.Index(fields=["action", "-seq"]),
        ]
        verbose_name = _("audit event")


class AuditHead(models.Model):
    """The single row that holds the end of the chain. Writers lock it
    (SELECT ... FOR UPDATE on PostgreSQL; the IMMEDIATE transaction does the same
    on SQLite), so there is one writer at a time and the chain never forks."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64, default="0" * 64)
    # The key (chain.key_id) new events are hashed with; moved only by a rotation event.
    key_id = models.CharField(max_length=16, blank=True, default="")


class AuditCheckpoint(models.Model):
    """A signed note that the chain was verified up to event `seq`, whose hash
    was then `hash`: later verifications start from it instead of event 1.

    `mac` = HMAC-SHA256(AUDIT_KEY, the other fields), so a row edited or
    inserted in the database without the key is ignored. Rows are only ever
    added (two verifiers may add one each at the same moment); readers take
    the highest `seq` whose mac holds.

    `verified_at` is when the events up to `seq` were last checked. An
    incremental verification only checks the events after the checkpoint it
    started from, so `full_seq` and `full_verified_at` carry forward the last
    verification that recomputed every event from the first: events 1..full_seq
    at full_verified_at, the rest up to `seq` in later steps, the last at
    verified_at.
    """

    seq = models.BigIntegerField()
    hash = models.CharField(max_length=64)
    verified_at = models.DateTimeField()
    full_seq = models.BigIntegerField()
    full_verified_at = models.DateTimeField()
    mac = models.CharField(max_length=64)

    class Meta:
        indexes = [models.Index(fields=["-seq", "-id"])]
        verbose_name = _("audit checkpoint")
