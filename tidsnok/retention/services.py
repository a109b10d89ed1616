"""Setting and applying the organisation's retention policy (DOMAIN §8).

The retention room decides which cases, episodes and risk assessments a rule reaches; each room
below deletes or restricts its own rows of them (cases, absence, whistleblowing, notify and risk
services). A class is
applied in batches, each one transaction with one `retention.applied` audit event that says what
class, by which rule, up to which day and which object ids: never names, texts or dates of
absence. The audit events that pointed to deleted objects stay (the log is hash-chained and
append-only), so the log still verifies after a deletion.
"""

import logging
import time
from dataclasses import dataclass
from datetime import date

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from tidsnok.absence import services as absence_services
from tidsnok.access.policy import AccessDenied
from tidsnok.audit.services import lock_chain, record
from tidsnok.cases import services as case_services
from tidsnok.cases.models import Kind
from tidsnok.deadlines.rules import add_months
from tidsnok.notify import services as notify_services
from tidsnok.org import scope
from tidsnok.org.models import Organisation
from tidsnok.retention.models import DataClass, Mode, RetentionRule, RetentionRun
from tidsnok.risk import services as risk_services
from tidsnok.versioning import StaleVersion, check_and_bump
from tidsnok.whistleblowing import services as whistleblowing_services

log = logging.getLogger("tidsnok.retention")

# The law's own 12-month rules (the count of recurring absence, protection against dismissal
# during sick leave, what an inspection may ask for) need the records at least this long.
MINIMUM_MONTHS = 12
MAXIMUM_MONTHS = 1200
# Items per batch (one transaction, one audit event). A case takes its entries, measures,
# deadlines, notifications and the rooms' rows with it: 500 sick-leave cases held SQLite's write
# lock for 950 ms at 50,000 employees (`tidsnok bench retention`), 100 hold it for a fifth of that.
# An episode or a prompt is one row or two.
BATCH_SIZE = 100
ROW_BATCH_SIZE = 500

# The case kinds of each class of cases; DataClass.EPISODES is absence episodes outside any case,
# DataClass.PROMPTS the frequent-absence prompts a manager has handled.
CASE_KINDS = {
    DataClass.PSYCHOSOCIAL: (Kind.PSYCHOSOCIAL, Kind.CONFLICT, Kind.VIOLENCE),
    DataClass.HARASSMENT: (Kind.HARASSMENT,),
    DataClass.SICK_LEAVE: (Kind.SICK_LEAVE,),
    DataClass.WHISTLEBLOWING: (Kind.WHISTLEBLOWING,),
}
# The classes whose items are rows of a room rather than cases, by what they are called.
ROW_CLASSES = {DataClass.EPISODES: "episodes", DataClass.PROMPTS: "prompts", DataClass.RISK: "assessments"}
# Classes whose absence records the frequent-absence count looks back over.
ABSENCE_CLASSES = (DataClass.SICK_LEAVE, DataClass.EPISODES, DataClass.PROMPTS)


# --- who ----------------------------------------------------------------------------------------


def may_edit(user) -> bool:
    """Setting the policy is the administrator's."""
    return scope.person_of(user) is not None and scope.is_admin(user)


def may_view(user) -> bool:
    """HR for the whole organisation reads the policy (it answers employees' questions about
    what is kept); managers and everyone else do not see it."""
    return may_edit(user) or (scope.person_of(user) is not None and scope.hr_scope(user) == scope.ALL)


# --- the rules ----------------------------------------------------------------------------------


def rules_of(organisation) -> dict[str, RetentionRule]:
    return {rule.data_class: rule for rule in RetentionRule.objects.filter(organisation=organisation)}


def minimum_months(organisation, data_class: str) -> int:
    if data_class in ABSENCE_CLASSES:
        return max(MINIMUM_MONTHS, absence_services.recurrence_window_months(organisation.pk))
    return MINIMUM_MONTHS


@transaction.atomic
def set_rule(actor, organisation, data_class: str, *, months: int | None, mode: str, version: int) -> RetentionRule:
    """Set (or, with `months` None, clear) the rule of one class. `version` is the one the form
    showed, 0 when the class had no rule yet: an edit based on an older one is refused."""
    if not may_edit(actor) or scope.organisation_id_of(actor) != organisation.pk:
        raise AccessDenied("retention.rule")
    if data_class not in DataClass.values:
        raise ValidationError({"data_class": [_("Choose a class of data.")]})
    errors = {}
    if mode not in Mode.values:
        errors["mode"] = [_("Choose whether to delete or restrict.")]
    least = minimum_months(organisation, data_class)
    if months is not None and months < least:
        errors["months"] = [_(
            "Keep them at least %(months)d months: the law's 12-month rules (the count of recurring "
            "absence, protection against dismissal, inspection) need the records that long."
        ) % {"months": least}]
    elif months is not None and months > MAXIMUM_MONTHS:
        errors["months"] = [_("At most %(months)d months; leave it empty to keep them indefinitely.")
                            % {"months": MAXIMUM_MONTHS}]
    if errors:
        raise ValidationError(errors)
    now = timezone.now()
    rule = RetentionRule.objects.filter(organisation=organisation, data_class=data_class).first()
    before = {"months": rule.months, "mode": rule.mode} if rule else {"months": None, "mode": None}
    if rule is None:
        if version != 0:
            raise StaleVersion()
        try:
            with transaction.atomic():
                rule = RetentionRule.objects.create(organisation=organisation, data_class=data_class, months=months,
                                                    mode=mode, updated_at=now, updated_by=actor)
        except IntegrityError:
            raise StaleVersion() from None  # another administrator set the first rule meanwhile
    else:
        check_and_bump(RetentionRule, rule.pk, version, months=months, mode=mode, updated_at=now,
                       updated_by_id=actor.pk)
        rule.refresh_from_db()
    record(actor, "retention.rule_changed", organisation, {
        "class": data_class, "old_months": before["months"], "new_months": months,
        "old_mode": before["mode"], "new_mode": mode,
    }, role=scope.role_label(actor))
    return rule


# --- applying -----------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What a rule did (or, in a dry run, would do) on one day."""

    data_class: str
    mode: str
    months: int
    cutoff: date
    count: int

    @property
    def label(self) -> str:
        return DataClass(self.data_class).label


def unit_of(data_class: str) -> str:
    """What a class's items are counted as: "cases", "episodes", "prompts" or "assessments"."""
    return ROW_CLASSES.get(data_class, "cases")


def cutoff_of(today: date, months: int) -> date:
    """Items whose anchor day is before this day are due."""
    return add_months(today, -months)


def select(organisation, data_class: str, mode: str, cutoff: date, today: date, among=None) -> list[int]:
    """The ids a rule reaches: case ids, episode ids for DataClass.EPISODES, prompt ids for
    DataClass.PROMPTS. The preview and the run both count through here. Restricted items are not
    selected again for restriction, and a case whose retaliation watch still runs is kept."""
    restrict = mode == Mode.RESTRICT
    if data_class == DataClass.EPISODES:
        return absence_services.standalone_ended_before(organisation, cutoff, unrestricted_only=restrict, among=among)
    if data_class == DataClass.PROMPTS:
        return absence_services.flags_handled_before(organisation, cutoff, unrestricted_only=restrict, among=among)
    if data_class == DataClass.RISK:
        return risk_services.replaced_before(organisation, cutoff, unrestricted_only=restrict, among=among)
    ids = case_services.closed_before(organisation, CASE_KINDS[data_class], cutoff, unrestricted_only=restrict,
                                      among=among)
    watched = whistleblowing_services.cases_under_protection(organisation, today)
    return [pk for pk in ids if pk not in watched]


def _apply_batch(organisation, rule: RetentionRule, cutoff: date, today: date, batch: list[int], actor) -> int:
    with transaction.atomic():
        # The chain's lock before any row: every writer takes it first (cases.models.DeadlineVersion),
        # so locking the cases below cannot deadlock with a change to one of them.
        lock_chain()
        ids = select(organisation, rule.data_class, rule.mode, cutoff, today, among=batch)
        if not ids:
            return 0
        now = timezone.now()
        if rule.data_class == DataClass.EPISODES:
            if rule.mode == Mode.DELETE:
                absence_services.delete_episodes(organisation, ids)
            else:
                absence_services.restrict_episodes(organisation, ids, now)
        elif rule.data_class == DataClass.PROMPTS:
            if rule.mode == Mode.DELETE:
                absence_services.delete_flags(organisation, ids)
            else:
                absence_services.restrict_flags(organisation, ids, now)
        elif rule.data_class == DataClass.RISK:
            if rule.mode == Mode.DELETE:
                risk_services.delete_assessments(organisation, ids)
            else:
                risk_services.restrict_assessments(organisation, ids, now)
        elif rule.mode == Mode.DELETE:
            # The rooms above the spine first: their rows protect the cases (or would outlive them).
            absence_services.delete_case_rows(organisation, ids)
            whistleblowing_services.delete_case_rows(organisation, ids)
            notify_services.delete_for_cases(ids)
            case_services.delete_cases(organisation, ids)
        else:
            absence_services.restrict_case_rows(organisation, ids, now)
            case_services.restrict_cases(organisation, ids, now)
        record(actor, "retention.applied", organisation, {
            "class": rule.data_class, "mode": rule.mode, "months": rule.months, "cutoff": cutoff.isoformat(),
            "count": len(ids), "ids": ids,
        }, role=scope.role_label(actor))
        return len(ids)


def apply(organisation, today: date, *, actor=None, dry_run: bool = False, on_batch=None) -> list[Outcome]:
    """Apply every rule of the organisation as of `today`; `dry_run` only counts. One transaction
    per batch of BATCH_SIZE cases or assessments (ROW_BATCH_SIZE episodes or prompts), so a large first run
    neither holds the audit chain's lock for long nor is lost as a whole when it fails halfway.
    `on_batch(data_class, count, seconds)` is told of each batch (`tidsnok bench retention`)."""
    rules = rules_of(organisation)
    return [_apply_rule(organisation, rules[data_class], today, actor=actor, dry_run=dry_run, on_batch=on_batch)
            for data_class in DataClass.values if data_class in rules and rules[data_class].months is not None]


def _apply_rule(organisation, rule: RetentionRule, today: date, *, actor=None, dry_run=False, on_batch=None) -> Outcome:
    cutoff = cutoff_of(today, rule.months)
    ids = select(organisation, rule.data_class, rule.mode, cutoff, today)
    count = len(ids)
    if not dry_run:
        count = 0
        # An assessment, like a case, takes its rows with it: batches of cases' size.
        size = ROW_BATCH_SIZE if unit_of(rule.data_class) in ("episodes", "prompts") else BATCH_SIZE
        for start in range(0, len(ids), size):
            began = time.perf_counter()
            done = _apply_batch(organisation, rule, cutoff, today, ids[start:start + size], actor)
            count += done
            if on_batch is not None:
                on_batch(rule.data_class, done, time.perf_counter() - began)
    return Outcome(rule.data_class, rule.mode, rule.months, cutoff, count)


def preview(organisation, today: date) -> dict[str, Outcome]:
    """What the next run would do, per class with a rule: counts only."""
    return {outcome.data_class: outcome for outcome in apply(organisation, today, dry_run=True)}


@dataclass
class ClassPolicy:
    """One class of data as the policy page and the API show it."""

    data_class: str
    rule: RetentionRule | None  # None: no rule was ever set (a cleared rule has months None)
    minimum: int
    outcome: Outcome | None  # what the next run would do; None while nothing is due to go

    @property
    def label(self) -> str:
        return DataClass(self.data_class).label


def policy_of(organisation, today: date, only: str | None = None) -> list[ClassPolicy]:
    """Every class of data (or `only` the one), in the catalogue's order, with its rule, its
    minimum and what the next run would do."""
    rules = rules_of(organisation)
    rows = []
    for data_class in [only] if only else DataClass.values:
        rule = rules.get(data_class)
        outcome = _apply_rule(organisation, rule, today, dry_run=True) if rule and rule.months is not None else None
        rows.append(ClassPolicy(data_class, rule, minimum_months(organisation, data_class), outcome))
    return rows


def apply_due(worker: str = "") -> int:
    """Sweep upkeep: apply each organisation's policy once a day. The day is claimed by inserting
    the organisation's RetentionRun row first: a second worker's insert fails and it moves on.
    A worker that dies halfway leaves the rest for tomorrow's run (each batch is complete).
    Returns how many organisations it ran."""
    today = timezone.localdate()
    with_rules = set(RetentionRule.objects.filter(months__isnull=False).values_list("organisation_id", flat=True))
    done = set(RetentionRun.objects.filter(date=today).values_list("organisation_id", flat=True))
    ran = 0
    for org_id in sorted(with_rules - done):
        try:
            with transaction.atomic():
                run = RetentionRun.objects.create(organisation_id=org_id, date=today, worker=worker[:100])
        except IntegrityError:
            continue  # another worker has it
        outcomes = apply(Organisation.objects.get(pk=org_id), today)
        RetentionRun.objects.filter(pk=run.pk).update(finished_at=timezone.now(),
                                                      count=sum(o.count for o in outcomes))
        ran += 1
    return ran
