"""One sweep round: what is due now, done once, however many workers run.

Like healthchecks' `sendalerts`, every unit of work is claimed with a
conditional UPDATE before it is done, so two workers never do the same thing:

1. plan     open deadlines whose next stage has begun (or whose due date moved)
            get their Reminder rows. The unique key (deadline, kind, recipient,
            day the stage began) makes planning idempotent: two workers planning
            the same deadline insert the same rows, and the second insert is
            ignored. DeadlineWatch remembers when to look at a deadline again.
2. process  Reminder rows are claimed (processed_at empty -> now) in batches;
            in the claiming transaction each becomes an in-app notification, an
            outbox e-mail (for people who want them at once) and, for an
            escalation, an entry on the case timeline and an audit event.
3. digest   once per organisation and working day, after the digest hour, one
            e-mail per person with anything due this week or overdue. The day is
            claimed by inserting its DigestRun row in the same transaction.
4. send     outbox e-mails are claimed (claimed_at empty or stale -> now),
            sent outside any transaction, and marked sent; a failed send is
            retried with exponential backoff and, after too many attempts,
            marked failed and shown to the administrators.

On PostgreSQL the candidate rows are read with SELECT ... FOR UPDATE SKIP LOCKED
so that workers share the work instead of queueing; the conditional UPDATE is
what guarantees "once" on both databases. On SQLite, IMMEDIATE transactions
serialise the writers.
"""

import logging
import os
import socket
import uuid
from collections import defaultdict
from dataclasses import dataclass, fields
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import mailers
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from tidsnok.cases import hooks
from tidsnok.cases import services as case_services
from tidsnok.cases.models import DeadlineStatus, Exclusion, Handler, Status
from tidsnok.deadlines.queries import calendar_for
from tidsnok.notify import messages
from tidsnok.notify.models import (
    DeadlineWatch,
    DigestRun,
    Mail,
    MailKind,
    Mode,
    Notification,
    Reminder,
    ReminderKind,
)
from tidsnok.notify.responsibility import OrgStructure, escalation_targets, reminded_deadlines, responsible_people
from tidsnok.notify.schedule import Planner
from tidsnok.notify.services import language_of, mail_data, modes_of, notify_admins_of_failure, org_settings
from tidsnok.org.models import Organisation, Person

log = logging.getLogger("tidsnok.notify")

PLAN_CHUNK = 2000
ESCALATION_CAUSE = "overdue"


def _process_batch() -> int:
    return getattr(settings, "TIDSNOK_SWEEP_BATCH", 500)


def _send_batch() -> int:
    return min(_process_batch(), 50)


def default_worker() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _token(worker: str) -> str:
    """A claim mark unique to one batch of one worker."""
    return f"{worker}:{uuid.uuid4().hex[:12]}"[:100]


@dataclass
class RoundStats:
    looked_at: int = 0
    reminders: int = 0
    notifications: int = 0
    escalations: int = 0
    digests: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    upkept: int = 0

    def __bool__(self):
        return any(getattr(self, f.name) for f in fields(self))

    def line(self) -> str:
        return " ".join(f"{f.name}={getattr(self, f.name)}" for f in fields(self))


class Organisations:
    """Per-organisation calendars, settings, planners and structures for one round."""

    def __init__(self, today):
        self.today = today
        self._planners: dict[int, Planner] = {}
        self._structures: dict[int, OrgStructure] = {}

    def planner(self, org_id: int) -> Planner:
        planner = self._planners.get(org_id)
        if planner is None:
            s = org_settings(org_id)
            planner = Planner(self.today, calendar_for(org_id), s.reminder_lead_days, s.escalate_after_days)
            self._planners[org_id] = planner
        return planner

    def structure(self, org_id: int) -> OrgStructure:
        structure = self._structures.get(org_id)
        if structure is None:
            structure = self._structures[org_id] = OrgStructure.load(org_id, self.today)
        return structure

    def horizon(self):
        ids = list(Organisation.objects.values_list("id", flat=True))
        if not ids:
            return None
        return max(self.planner(org_id).horizon() for org_id in ids)


ROW = ("id", "due", "responsible", "case_id", "case__organisation_id", "case__owner_id", "case__restricted",
       "case__unit_id")


def due_rows(today, horizon):
    """The deadlines a round must look at: open, reminding someone, due by the
    horizon, and either never looked at or with a stage (or due date) that has
    changed since. This is the query `tidsnok bench sweep` compares a round with."""
    settled = DeadlineWatch.objects.filter(deadline=OuterRef("pk"), due=OuterRef("due"), next_on__gt=today)
    return reminded_deadlines().filter(due__lte=horizon).exclude(Exists(settled)).order_by("id").values_list(*ROW)


def _by_case(model_rows):
    grouped = defaultdict(list)
    for case_id, *rest in model_rows:
        grouped[case_id].append(tuple(rest) if len(rest) > 1 else rest[0])
    return grouped


def _chunks(items, size=5000):
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start:start + size]


def active_handlers(case_ids) -> dict[int, list[tuple[int, str]]]:
    grouped = defaultdict(list)
    for chunk in _chunks(case_ids):
        rows = Handler.objects.filter(case_id__in=chunk, removed_at__isnull=True).values_list("case_id", "person_id", "role")
        for case_id, person_id, role in rows:
            grouped[case_id].append((person_id, role))
    return grouped


def plan_reminders(today, stats: RoundStats, orgs: Organisations | None = None) -> None:
    orgs = orgs or Organisations(today)
    horizon = orgs.horizon()
    if horizon is None:
        return
    # One scan for the ids, then the rows chunk by chunk (by primary key), so that
    # memory stays small and no cursor stays open while the chunks are written.
    ids = list(due_rows(today, horizon).values_list("id", flat=True))
    for chunk in _chunks(ids, PLAN_CHUNK):
        rows = list(due_rows(today, horizon).filter(id__in=chunk))
        stats.looked_at += len(rows)
        _plan_chunk(rows, orgs, stats)


def _plan_chunk(rows, orgs: Organisations, stats: RoundStats) -> None:
    handlers = active_handlers({row[3] for row in rows})
    plans = [(row, orgs.planner(row[4])(row[1])) for row in rows]
    escalating = {row[3] for row, plan in plans if plan.escalate_on}
    excluded = defaultdict(set)
    for chunk in _chunks(escalating):
        for case_id, person_id in Exclusion.objects.filter(case_id__in=chunk).values_list("case_id", "person_id"):
            excluded[case_id].add(person_id)
    reminders, watches = [], []
    for row, plan in plans:
        deadline_id, due, responsible, case_id, org_id, owner_id, restricted, unit_id = row
        watches.append(DeadlineWatch(deadline_id=deadline_id, due=due, stage=plan.stage, next_on=plan.next_on))
        if not plan.reminders:
            continue
        people = responsible_people(responsible, owner_id, handlers[case_id])
        for kind, on_date in plan.reminders:
            reminders += [Reminder(deadline_id=deadline_id, case_id=case_id, kind=kind, recipient_id=p, on_date=on_date)
                          for p in people]
        if plan.escalate_on:
            targets = escalation_targets(
                orgs.structure(org_id), unit_id=unit_id, restricted=restricted, deadline_responsible=responsible,
                handlers=handlers[case_id], responsible=people, excluded=excluded[case_id],
            )
            if not targets:
                log.warning("deadline %s is overdue but has no one to escalate to", deadline_id)
            reminders += [Reminder(deadline_id=deadline_id, case_id=case_id, kind=ReminderKind.ESCALATION,
                                   recipient_id=p, on_date=plan.escalate_on) for p in targets]
    with transaction.atomic():
        Reminder.objects.bulk_create(reminders, ignore_conflicts=True, batch_size=500)
        DeadlineWatch.objects.bulk_create(
            watches, update_conflicts=True, unique_fields=["deadline"], update_fields=["due", "stage", "next_on"],
            batch_size=500,
        )
    stats.reminders += len(reminders)


def process_reminders(worker: str, stats: RoundStats, orgs: Organisations) -> None:
    while True:
        token = _token(worker)
        with transaction.atomic():
            ids = list(
                Reminder.objects.select_for_update(skip_locked=True).filter(processed_at__isnull=True)
                .order_by("id").values_list("id", flat=True)[:_process_batch()]
            )
            if not ids:
                return
            # The claim: only rows nobody else has processed become ours.
            Reminder.objects.filter(pk__in=ids, processed_at__isnull=True).update(
                processed_at=timezone.now(), processed_by=token
            )
            mine = list(
                Reminder.objects.filter(pk__in=ids, processed_by=token)
                .select_related("deadline", "case", "recipient__user").order_by("id")
            )
            try:
                with transaction.atomic():
                    _apply(mine, stats, orgs)
            except Exception:
                log.exception("reminder batch failed; processing one by one")
                for reminder in mine:
                    try:
                        with transaction.atomic():
                            _apply([reminder], stats, orgs)
                    except Exception as exc:  # recorded, logged, never retried in a loop
                        log.exception("reminder %s failed", reminder.pk)
                        Reminder.objects.filter(pk=reminder.pk).update(error=f"{type(exc).__name__}: {exc}"[:2000])


def _apply(reminders, stats: RoundStats, orgs: Organisations) -> None:
    users = {r.recipient.user for r in reminders if r.recipient.user is not None and r.recipient.user.is_active}
    modes = modes_of({u.pk for u in users})
    notifications, mails = [], []
    for r in reminders:
        deadline, case = r.deadline, r.case
        if deadline.status != DeadlineStatus.OPEN or case.status != Status.OPEN:
            continue  # met (or closed) since it was planned
        if r.kind == ReminderKind.ESCALATION:
            case_services.record_escalation(case, deadline, r.recipient, ESCALATION_CAUSE)
            stats.escalations += 1
        user = r.recipient.user
        if user is None or not user.is_active:
            continue
        data = {}
        if r.kind == ReminderKind.BEFORE:
            calendar = orgs.planner(case.organisation_id).calendar
            data["days"] = max(calendar.working_days_between(orgs.today, deadline.due), 1)
        key = f"reminder:{r.pk}"
        notifications.append(Notification(user=user, kind=r.kind, case=case, deadline=deadline, data=data, key=key))
        if modes.get(user.pk) == Mode.IMMEDIATE and user.email:
            mails.append(Mail(key=key, user=user, to=user.email, language=language_of(user), kind=r.kind,
                              data=mail_data(case, deadline, data)))
    Notification.objects.bulk_create(notifications, ignore_conflicts=True, batch_size=500)
    Mail.objects.bulk_create(mails, ignore_conflicts=True, batch_size=500)
    stats.notifications += len(notifications)


# --- digests ------------------------------------------------------------------------------------


def plan_digests(now: datetime, worker: str, stats: RoundStats) -> None:
    local = timezone.localtime(now)
    if local.hour < settings.TIDSNOK_DIGEST_HOUR:
        return
    today = local.date()
    done = set(DigestRun.objects.filter(date=today).values_list("organisation_id", flat=True))
    made_any = False
    for org_id in Organisation.objects.exclude(pk__in=done).values_list("id", flat=True):
        if not calendar_for(org_id).is_working_day(today):
            continue
        try:
            with transaction.atomic():
                run = DigestRun.objects.create(organisation_id=org_id, date=today, created_by=worker[:100])
                made = make_digests(org_id, today)
                DigestRun.objects.filter(pk=run.pk).update(digests=made)
        except IntegrityError:
            continue  # another worker made them
        stats.digests += made
        made_any = True
    if made_any:
        prune(now)


def prune(now: datetime) -> int:
    """Sent e-mails are kept for a while (to trace a delivery), then deleted: the
    outbox holds addresses. Once a day, by the worker that made the day's digests."""
    keep = timedelta(days=getattr(settings, "TIDSNOK_MAIL_KEEP_DAYS", 30))
    deleted, _ = Mail.objects.filter(sent_at__lt=now - keep).delete()
    return deleted


def make_digests(org_id: int, today) -> int:
    """One digest e-mail per person with anything overdue, due this week, or escalated to her."""
    week_end = today + timedelta(days=6)
    rows = list(
        reminded_deadlines().filter(case__organisation_id=org_id, due__lte=week_end)
        .values_list("id", "due", "responsible", "case_id", "case__owner_id")
    )
    handlers = active_handlers({row[3] for row in rows})
    counts = defaultdict(lambda: {"overdue": set(), "overdue_cases": set(), "soon": set(), "soon_cases": set(),
                                  "escalated": set(), "escalated_cases": set()})
    for deadline_id, due, responsible, case_id, owner_id in rows:
        bucket = "overdue" if due < today else "soon"
        for person in responsible_people(responsible, owner_id, handlers[case_id]):
            counts[person][bucket].add(deadline_id)
            counts[person][bucket + "_cases"].add(case_id)
    escalated = Reminder.objects.filter(
        kind=ReminderKind.ESCALATION, case__organisation_id=org_id, processed_at__isnull=False,
        deadline__status=DeadlineStatus.OPEN, case__status=Status.OPEN,
    ).values_list("recipient_id", "deadline_id", "case_id")
    for person, deadline_id, case_id in escalated:
        counts[person]["escalated"].add(deadline_id)
        counts[person]["escalated_cases"].add(case_id)
    if not counts:
        return 0
    people = Person.objects.filter(pk__in=list(counts), user__is_active=True).select_related("user")
    mails = []
    for person in people:
        user = person.user
        if not user.email:
            continue
        data = {name: len(values) for name, values in counts[person.pk].items()}
        mails.append(Mail(key=f"digest:{person.pk}:{today.isoformat()}", user=user, to=user.email,
                          language=language_of(user), kind=MailKind.DIGEST, data=data))
    Mail.objects.bulk_create(mails, ignore_conflicts=True, batch_size=500)
    return len(mails)


# --- sending ------------------------------------------------------------------------------------


def _backoff(attempts: int) -> timedelta:
    seconds = settings.TIDSNOK_MAIL_RETRY_SECONDS * (2 ** max(attempts - 1, 0))
    return timedelta(seconds=min(seconds, 6 * 3600))


def send_outbox(worker: str, stats: RoundStats, now: datetime | None = None) -> None:
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.TIDSNOK_CLAIM_TIMEOUT)
    claimable = Q(claimed_at__isnull=True) | Q(claimed_at__lt=stale)
    pending = Q(sent_at__isnull=True, failed_at__isnull=True)
    connection = None
    failed_users = set()
    try:
        while True:
            token = _token(worker)
            with transaction.atomic():
                ids = list(
                    Mail.objects.select_for_update(skip_locked=True).filter(pending, claimable, next_attempt_at__lte=now)
                    .order_by("next_attempt_at", "id").values_list("id", flat=True)[:_send_batch()]
                )
                if not ids:
                    break
                Mail.objects.filter(pending, claimable, pk__in=ids).update(claimed_at=timezone.now(), claimed_by=token)
            batch = list(Mail.objects.filter(pk__in=ids, claimed_by=token).order_by("id"))
            sent = []
            for mail in batch:
                try:
                    if connection is None:
                        connection = mailers.default
                        connection.open()
                    if connection.send_messages([messages.build_message(mail)]) != 1:
                        raise RuntimeError("the mail backend did not accept the message")
                except Exception as exc:
                    if connection is not None:
                        _close(connection)
                        connection = None
                    if _failed(mail, token, exc):
                        stats.failed += 1
                        failed_users.add(mail.user_id)
                    else:
                        stats.retried += 1
                else:
                    sent.append(mail.pk)
            # One write per batch: a worker that dies mid-batch leaves its claim to go
            # stale, and only that batch's e-mails can then go out a second time.
            Mail.objects.filter(pk__in=sent, claimed_by=token).update(sent_at=timezone.now())
            stats.sent += len(sent)
    finally:
        if connection is not None:
            _close(connection)
    if failed_users:
        org_ids = set(Person.objects.filter(user_id__in=[u for u in failed_users if u]).values_list("organisation_id", flat=True))
        notify_admins_of_failure(org_ids or Organisation.objects.values_list("id", flat=True), timezone.localdate(now))


def _close(connection) -> None:
    try:
        connection.close()
    except Exception:  # a broken connection may fail to close; it is dropped either way
        log.debug("closing the mail connection failed", exc_info=True)


def _failed(mail: Mail, token: str, exc: Exception) -> bool:
    """Record a failed attempt; True if the mail has now failed for good."""
    attempts = mail.attempts + 1
    now = timezone.now()
    final = attempts >= settings.TIDSNOK_MAIL_MAX_ATTEMPTS
    error = f"{type(exc).__name__}: {exc}"[:2000]
    Mail.objects.filter(pk=mail.pk, claimed_by=token).update(
        attempts=attempts, last_error=error, next_attempt_at=now + _backoff(attempts),
        claimed_at=None, claimed_by="", failed_at=now if final else None,
    )
    if final:
        log.error("mail %s (%s) failed for good after %d attempts: %s", mail.pk, mail.kind, attempts, error)
    else:
        log.warning("mail %s (%s) attempt %d failed, retrying: %s", mail.pk, mail.kind, attempts, error)
    return final


# --- the round ----------------------------------------------------------------------------------


def run_round(worker: str | None = None, now: datetime | None = None) -> RoundStats:
    """One round. `now` is for the benchmark, which pins the day it measures."""
    worker = worker or default_worker()
    now = now or timezone.now()
    today = timezone.localdate(now)
    stats = RoundStats()
    orgs = Organisations(today)
    plan_reminders(today, stats, orgs)
    process_reminders(worker, stats, orgs)
    plan_digests(now, worker, stats)
    send_outbox(worker, stats)  # from this moment: the mail queued above is due now
    run_upkeep(stats, worker)
    return stats


def run_upkeep(stats: RoundStats, worker: str = "") -> None:
    """The rooms' background upkeep (cases.hooks.sweep_upkeep). One failing task must not
    stop reminders from going out next round, nor the other tasks."""
    for task in hooks.sweep_upkeep:
        try:
            stats.upkept += task(worker)
        except Exception:
            log.exception("sweep upkeep %s failed", getattr(task, "__qualname__", task))
