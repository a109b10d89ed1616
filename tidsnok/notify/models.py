"""Reminders and notifications.

Three kinds of rows, each created at most once thanks to a unique key, so that
any number of sweep workers may run at the same time:

- Reminder: "this person is reminded of this deadline at this stage, as of this
  day" (before / due / overdue / escalation). A unit of work: a worker claims it
  with a conditional UPDATE (processed_at empty -> now) and, in the same
  transaction, writes the in-app notification, queues the e-mail and, for an
  escalation, records it on the case timeline and in the audit log.
- Notification: what the bell shows. Holds a kind and ids, never text: the text
  is rendered when it is shown, in the reader's language.
- Mail: the outbox. Claimed with a conditional UPDATE before sending, retried
  with exponential backoff, and marked failed (visible to administrators) after
  too many attempts.

None of them holds sensitive text: no names, no descriptions, no case content.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tidsnok.cases.models import Case, Deadline
from tidsnok.org.models import Organisation, Person

DEFAULT_LEAD_DAYS = 2
DEFAULT_ESCALATE_AFTER_DAYS = 2
MAX_WORKING_DAYS = 20


class OrganisationSettings(models.Model):
    """When reminders go out and when an overdue deadline climbs, per organisation."""

    organisation = models.OneToOneField(Organisation, on_delete=models.CASCADE, related_name="notify_settings")
    reminder_lead_days = models.PositiveSmallIntegerField(
        _("remind this many working days before the due date"), default=DEFAULT_LEAD_DAYS,
        help_text=_("0 sends no reminder before the due date."),
    )
    escalate_after_days = models.PositiveSmallIntegerField(
        _("escalate when overdue by this many working days"), default=DEFAULT_ESCALATE_AFTER_DAYS,
    )
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    version = models.PositiveIntegerField(default=1)

    class Meta:
        verbose_name = _("reminder settings")


class Mode(models.TextChoices):
    IMMEDIATE = "immediate", _("Each reminder at once, and the daily digest")
    DIGEST = "digest", _("The daily digest only")


class Preference(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notify_preference")
    mode = models.CharField(_("e-mail"), max_length=20, choices=Mode.choices, default=Mode.IMMEDIATE)
    updated_at = models.DateTimeField(default=timezone.now)


class CalendarFeed(models.Model):
    """A secret calendar address. Only the SHA-256 of the token is stored: the
    address is shown once, when it is made, and can be revoked at any time."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feeds")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "revoked_at"])]


class ReminderKind(models.TextChoices):
    BEFORE = "before", _("Due soon")
    DUE = "due", _("Due today")
    OVERDUE = "overdue", _("Overdue")
    ESCALATION = "escalation", _("Escalated")


class Reminder(models.Model):
    """One reminder of one deadline to one person, at one stage. `on_date` is the
    day the stage began (not the day a worker happened to get to it), so a
    reminder is created once however many workers run, and however late."""

    deadline = models.ForeignKey(Deadline, on_delete=models.CASCADE, related_name="+")
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20, choices=ReminderKind.choices)
    recipient = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+")
    on_date = models.DateField()
    created_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)
    processed_by = models.CharField(max_length=100, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["deadline", "kind", "recipient", "on_date"], name="notify_reminder_once"),
        ]
        indexes = [
            models.Index(fields=["id"], condition=Q(processed_at__isnull=True), name="notify_reminder_pending"),
            models.Index(fields=["recipient", "kind"], name="notify_reminder_recipient"),
        ]


class Stage(models.TextChoices):
    WAITING = "waiting", _("Waiting")
    BEFORE = "before", _("Due soon")
    DUE = "due", _("Due today")
    OVERDUE = "overdue", _("Overdue")
    ESCALATED = "escalated", _("Escalated")


class DeadlineWatch(models.Model):
    """How far the sweep has come with a deadline, and the day it must look again.

    It keeps the sweep's selection narrow: a deadline is looked at again only
    when its next stage begins (`next_on`) or its due date moved (`due`)."""

    deadline = models.OneToOneField(Deadline, on_delete=models.CASCADE, primary_key=True, related_name="+")
    due = models.DateField()
    stage = models.CharField(max_length=20, choices=Stage.choices)
    next_on = models.DateField()


class NotificationKind(models.TextChoices):
    BEFORE = "before", _("Due soon")
    DUE = "due", _("Due today")
    OVERDUE = "overdue", _("Overdue")
    ESCALATION = "escalation", _("Escalated to you")
    HR_INVOLVED = "hr_involved", _("HR involved")
    HANDLER_ADDED = "handler_added", _("New case to handle")
    MAIL_FAILED = "mail_failed", _("E-mail not delivered")
    ACCESS_REQUEST = "access_request", _("Request for an access copy")
    ACCESS_DUE = "access_due", _("Access copy due")
    # Queued by the risk room (above this one): the kinds are known here as values only.
    RISK_ACTION = "risk_action", _("Measure in an action plan")
    RISK_ACTION_DUE = "risk_action_due", _("Action plan measure due")
    RISK_REVIEW = "risk_review", _("Risk assessment due for review")
    RISK_SURVEY = "risk_survey", _("Survey about the work environment")


class NotificationQuerySet(models.QuerySet):
    def shown(self):
        """Those their user may see now (see Notification.shown_from)."""
        return self.filter(models.Q(shown_from__isnull=True) | models.Q(shown_from__lte=timezone.now()))


class Notification(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=20, choices=NotificationKind.choices)
    case = models.ForeignKey(Case, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    deadline = models.ForeignKey(Deadline, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # Numbers only (working days, counts): never text.
    data = models.JSONField(default=dict, blank=True)
    key = models.CharField(max_length=100)
    created_at = models.DateTimeField(default=timezone.now)
    # Not shown before this (None: at once): what an anonymous report causes waits, like its
    # e-mail, for the hour the day's mail goes out (services.anonymous_mail_time), so the bell
    # does not date it.
    shown_from = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="notify_notification_once")]
        indexes = [
            # The bell on every page counts the unread ones shown now: shown_from is in the index
            # so that the count never reads the rows (HR has hundreds unread at 50,000 employees).
            models.Index(fields=["user", "read_at", "shown_from"], name="notify_notification_unread_now"),
            models.Index(fields=["user", "-created_at", "-id"], name="notify_notification_list"),
        ]
        ordering = ["-created_at", "-id"]


class MailKind(models.TextChoices):
    BEFORE = "before", _("Due soon")
    DUE = "due", _("Due today")
    OVERDUE = "overdue", _("Overdue")
    ESCALATION = "escalation", _("Escalated")
    HR_INVOLVED = "hr_involved", _("HR involved")
    HANDLER_ADDED = "handler_added", _("New case to handle")
    DIGEST = "digest", _("Daily digest")
    ACCESS_REQUEST = "access_request", _("Request for an access copy")
    ACCESS_DUE = "access_due", _("Access copy due")
    # Queued by the risk room (above this one): the kinds are known here as values only.
    RISK_ACTION = "risk_action", _("Measure in an action plan")
    RISK_ACTION_DUE = "risk_action_due", _("Action plan measure due")
    RISK_REVIEW = "risk_review", _("Risk assessment due for review")
    RISK_SURVEY = "risk_survey", _("Survey about the work environment")


class Mail(models.Model):
    """The outbox: one e-mail, rendered from `kind` and `data` when it is sent."""

    key = models.CharField(max_length=100, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+")
    to = models.EmailField()
    language = models.CharField(max_length=8, default="nb")
    kind = models.CharField(max_length=20, choices=MailKind.choices)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=100, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["next_attempt_at", "id"], condition=Q(sent_at__isnull=True, failed_at__isnull=True),
                         name="notify_mail_pending"),
            models.Index(fields=["-failed_at"], condition=Q(failed_at__isnull=False), name="notify_mail_failed"),
        ]

    @property
    def status(self) -> str:
        if self.sent_at:
            return "sent"
        if self.failed_at:
            return "failed"
        return "pending"


class DigestRun(models.Model):
    """One organisation's digests of one day: inserted by the worker that makes
    them, in the same transaction, so a day's digests are made once."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    date = models.DateField()
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.CharField(max_length=100, blank=True)
    digests = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organisation", "date"], name="notify_digest_once")]
