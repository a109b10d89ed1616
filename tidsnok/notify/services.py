"""State changes in notify: preferences, the organisation's reminder settings,
calendar feeds, reading notifications, and what the spine's hooks trigger.

Each function is one transaction; changes an administrator or HR must be able
to trace are audited."""

import hashlib
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from tidsnok.access.policy import AccessDenied
from tidsnok.audit.services import now as stamp
from tidsnok.audit.services import record, stamping_day_only
from tidsnok.cases.models import Handler, HandlerRole
from tidsnok.notify.models import (
    MAX_WORKING_DAYS,
    CalendarFeed,
    DeadlineWatch,
    Mail,
    MailKind,
    Mode,
    Notification,
    NotificationKind,
    OrganisationSettings,
    Preference,
    Reminder,
)
from tidsnok.org import scope
from tidsnok.org.models import Organisation, Role, RoleAssignment, User
from tidsnok.versioning import check_and_bump

# --- reading settings ---------------------------------------------------------------------------


def org_settings(organisation_id: int) -> OrganisationSettings:
    """The organisation's settings, or the defaults (unsaved) if HR never changed them."""
    found = OrganisationSettings.objects.filter(organisation_id=organisation_id).first()
    return found or OrganisationSettings(organisation_id=organisation_id)


def mode_of(user) -> str:
    pref = Preference.objects.filter(user=user).values_list("mode", flat=True).first()
    return pref or Mode.IMMEDIATE


def modes_of(user_ids) -> dict[int, str]:
    found = dict(Preference.objects.filter(user_id__in=list(user_ids)).values_list("user_id", "mode"))
    return {uid: found.get(uid, Mode.IMMEDIATE) for uid in user_ids}


def language_of(user) -> str:
    lang = (getattr(user, "language", "") or settings.LANGUAGE_CODE or "nb").split("-")[0]
    return lang if lang in dict(settings.LANGUAGES) else "nb"


# --- changing them ------------------------------------------------------------------------------


def can_edit_org_settings(user) -> bool:
    return scope.hr_scope(user) == scope.ALL or scope.is_admin(user)


@transaction.atomic
def update_org_settings(actor, organisation: Organisation, *, reminder_lead_days: int, escalate_after_days: int,
                        version: int | None = None) -> OrganisationSettings:
    """HR (organisation-wide) or an administrator sets when reminders go out."""
    if not can_edit_org_settings(actor) or scope.organisation_id_of(actor) != organisation.pk:
        raise AccessDenied("notify.settings")
    errors = {}
    if not 0 <= reminder_lead_days <= MAX_WORKING_DAYS:
        errors["reminder_lead_days"] = [_("Choose between 0 and %(max)d working days.") % {"max": MAX_WORKING_DAYS}]
    if not 1 <= escalate_after_days <= MAX_WORKING_DAYS:
        errors["escalate_after_days"] = [_("Choose between 1 and %(max)d working days.") % {"max": MAX_WORKING_DAYS}]
    if errors:
        raise ValidationError(errors)
    current, created = OrganisationSettings.objects.get_or_create(organisation=organisation)
    before = {"reminder_lead_days": current.reminder_lead_days, "escalate_after_days": current.escalate_after_days}
    after = {"reminder_lead_days": reminder_lead_days, "escalate_after_days": escalate_after_days}
    check_and_bump(OrganisationSettings, current.pk, current.version if version is None or created else version,
                   **after, updated_at=timezone.now(), updated_by_id=actor.pk)
    record(actor, "notify.settings_changed", organisation, {"before": before, "after": after},
           role=scope.role_label(actor))
    current.refresh_from_db()
    return current


@transaction.atomic
def set_mode(actor, mode: str) -> Preference:
    if mode not in Mode.values:
        raise ValidationError({"mode": [_("Choose how you want reminders.")]})
    pref, _created = Preference.objects.update_or_create(user=actor, defaults={"mode": mode, "updated_at": timezone.now()})
    return pref


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def new_calendar_feed(actor) -> str:
    """Make a new secret calendar address (revoking the old one); returns the token, shown once."""
    now = timezone.now()
    CalendarFeed.objects.filter(user=actor, revoked_at__isnull=True).update(revoked_at=now)
    token = secrets.token_urlsafe(32)
    feed = CalendarFeed.objects.create(user=actor, token_hash=_hash(token), created_at=now)
    record(actor, "notify.calendar_feed_created", feed, {})
    return token


@transaction.atomic
def revoke_calendar_feed(actor) -> int:
    revoked = CalendarFeed.objects.filter(user=actor, revoked_at__isnull=True).update(revoked_at=timezone.now())
    if revoked:
        record(actor, "notify.calendar_feed_revoked", actor, {"revoked": revoked})
    return revoked


def feed_user(token: str) -> User | None:
    """The user of an active calendar address, or None."""
    if not token or len(token) > 200:
        return None
    feed = (
        CalendarFeed.objects.filter(token_hash=_hash(token), revoked_at__isnull=True, user__is_active=True)
        .select_related("user")
        .first()
    )
    return feed.user if feed else None


def has_calendar_feed(user) -> bool:
    return CalendarFeed.objects.filter(user=user, revoked_at__isnull=True).exists()


def mark_read(actor, ids=None) -> int:
    """Mark the actor's own notifications read (all unread ones when `ids` is None)."""
    rows = Notification.objects.shown().filter(user=actor, read_at__isnull=True)
    if ids is not None:
        rows = rows.filter(pk__in=list(ids))
    return rows.update(read_at=timezone.now())


@transaction.atomic
def retry_mail(actor, mail_ids) -> int:
    """An administrator sends failed e-mails again."""
    if not scope.is_admin(actor):
        raise AccessDenied("notify.retry_mail")
    count = Mail.objects.filter(pk__in=list(mail_ids), failed_at__isnull=False, sent_at__isnull=True).update(
        failed_at=None, attempts=0, next_attempt_at=timezone.now(), claimed_at=None, claimed_by="",
    )
    if count:
        record(actor, "notify.mail_retried", None, {"mails": sorted(int(i) for i in mail_ids)},
               object_type="notify.mail", object_id="")
    return count


# --- notifications and the outbox ---------------------------------------------------------------


def address_of(user) -> str:
    """Where a user's e-mail goes: her login address (people without a login get none)."""
    if user is None or not user.is_active:
        return ""
    return user.email or ""


def queue(user, kind: str, key: str, *, case=None, deadline=None, data=None, mail: bool = True) -> None:
    """One in-app notification and, if the user wants it, one e-mail; each at most once per key."""
    data = data or {}
    # What an anonymous report causes: stamped with the day only (audit.services.day_only), and
    # shown, like its e-mail sent, at the hour of the day's mail, never the minute it came.
    anonymous = stamping_day_only()
    due = anonymous_mail_time(timezone.now()) if anonymous else timezone.now()
    Notification.objects.bulk_create(
        [Notification(user=user, kind=kind, case=case, deadline=deadline, data=data, key=key, created_at=stamp(),
                      shown_from=due if anonymous else None)],
        ignore_conflicts=True,
    )
    to = address_of(user)
    if mail and to and mode_of(user) == Mode.IMMEDIATE:
        Mail.objects.bulk_create(
            [Mail(key=key, user=user, to=to, language=language_of(user), kind=kind, data=mail_data(case, deadline, data),
                  created_at=stamp(), next_attempt_at=due)],
            ignore_conflicts=True,
        )


def queue_many(kind: str, items, *, batch_size: int = 500) -> int:
    """`queue` for many users at once, each with her own key and data: [(user, key, data), ...].
    The same rows as `queue` in a few statements, however many there are (a survey opened for a
    sector of thousands). Returns how many items it was given."""
    items = list(items)
    anonymous = stamping_day_only()
    due = anonymous_mail_time(timezone.now()) if anonymous else timezone.now()
    now = stamp()
    modes = modes_of({user.pk for user, _key, _data in items})
    notifications, mails = [], []
    for user, key, data in items:
        notifications.append(Notification(user=user, kind=kind, data=data or {}, key=key, created_at=now,
                                          shown_from=due if anonymous else None))
        to = address_of(user)
        if to and modes[user.pk] == Mode.IMMEDIATE:
            mails.append(Mail(key=key, user=user, to=to, language=language_of(user), kind=kind,
                              data=mail_data(None, None, data), created_at=now, next_attempt_at=due))
    Notification.objects.bulk_create(notifications, batch_size=batch_size, ignore_conflicts=True)
    Mail.objects.bulk_create(mails, batch_size=batch_size, ignore_conflicts=True)
    return len(items)


def anonymous_mail_time(now: datetime) -> datetime:
    """When to e-mail the handlers of an anonymous report: with the day's mail, at the next
    TIDSNOK_DIGEST_HOUR (local time), never at once. An e-mail sent a minute after the report would tell its time,
    and with it perhaps who was at a keyboard then; every other trace of the report keeps the
    day only (audit.services.day_only). The e-mail waits at most a day; the acknowledgement of
    receipt is an internal target of 7 days unless the organisation chose otherwise (aml § 2 A-3
    says "within reasonable time"); the in-app notification is shown at the same hour."""
    local = timezone.localtime(now)
    send_at = local.replace(hour=settings.TIDSNOK_DIGEST_HOUR, minute=0, second=0, microsecond=0)
    if send_at <= local:
        send_at = (local + timedelta(days=1)).replace(hour=settings.TIDSNOK_DIGEST_HOUR, minute=0, second=0, microsecond=0)
    return send_at


def mail_data(case, deadline, extra=None) -> dict:
    """What an e-mail may say: numbers, dates and the case number. Never names or text."""
    data = dict(extra or {})
    if case is not None:
        data.update(case_id=case.pk, case_number=case.number)
    if deadline is not None:
        data["due"] = deadline.due.isoformat()
    return data


def on_handler_added(case, person, reason) -> None:
    """The spine added a handler: she hears of it in the app (and by e-mail),
    unless she registered the case herself. HR involved = HR notified."""
    user = person.user
    if user is None or not user.is_active or case.created_by_id == user.pk:
        return
    handler = (
        Handler.objects.filter(case=case, person=person, removed_at__isnull=True).order_by("-id").values("id", "role").first()
    )
    if handler is None:
        return
    kind = NotificationKind.HR_INVOLVED if handler["role"] == HandlerRole.HR else NotificationKind.HANDLER_ADDED
    queue(user, kind, f"handler:{handler['id']}", case=case)


def notify_admins_of_failure(organisation_ids, today) -> None:
    """E-mails that keep failing are shown to the administrators: one notification a day."""
    admins = (
        User.objects.filter(is_active=True, person__organisation_id__in=list(organisation_ids))
        .filter(person__roles__in=RoleAssignment.objects.active().filter(role=Role.ADMIN))
        .distinct()
    )
    Notification.objects.bulk_create(
        [Notification(user=admin, kind=NotificationKind.MAIL_FAILED, key=f"mail_failed:{today.isoformat()}")
         for admin in admins],
        ignore_conflicts=True,
    )


__all__ = [
    "org_settings", "update_org_settings", "set_mode", "new_calendar_feed", "revoke_calendar_feed", "mark_read",
    "retry_mail", "queue", "on_handler_added", "MailKind",
]


@transaction.atomic
def delete_by_data(kinds, key: str, ids) -> int:
    """Delete the notifications and e-mails of `kinds` whose data[key] is one of `ids`: a room
    above this one deleting its own objects (retention). Returns how many notifications went."""
    ids = list(ids)
    if not ids:
        return 0
    notifications = Notification.objects.filter(kind__in=kinds, **{f"data__{key}__in": ids})
    count = notifications.count()
    notifications.delete()
    Mail.objects.filter(kind__in=kinds, **{f"data__{key}__in": ids}).delete()
    return count


@transaction.atomic
def delete_for_cases(case_ids) -> int:
    """Delete the notifications and reminders of cases that are being deleted (retention).
    A notification only points to its case with SET_NULL: left alone it would outlive it as a
    bell entry about nothing. Returns how many notifications went."""
    ids = list(case_ids)
    Reminder.objects.filter(case_id__in=ids).delete()
    DeadlineWatch.objects.filter(deadline__case_id__in=ids).delete()
    notifications = Notification.objects.filter(Q(case_id__in=ids) | Q(deadline__case_id__in=ids))
    count = notifications.count()
    notifications.delete()
    # The outbox too, sent or not: an e-mail's data holds the case number, which would otherwise
    # outlive the case until the outbox is pruned (TIDSNOK_MAIL_KEEP_DAYS).
    Mail.objects.filter(data__case_id__in=ids).delete()
    return count
