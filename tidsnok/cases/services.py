"""State changes on the case spine.

Every function here is one transaction: it checks access, changes state, writes
the audit event, evaluates the escalation rules and recomputes the deadlines.
Bad input raises django.core.exceptions.ValidationError with a message per field.
"""

from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from tidsnok.access.policy import AccessDenied, can, visible
from tidsnok.audit.services import lock_chain, record
from tidsnok.cases import hooks, rules
from tidsnok.cases.models import (
    MANAGER_KINDS,
    OPEN_MEASURE_STATUSES,
    RESTRICTED_KINDS,
    Case,
    CaseNumber,
    Deadline,
    DeadlineStatus,
    DeadlineVersion,
    Entry,
    EntryKind,
    Exclusion,
    Factor,
    Handler,
    HandlerRole,
    Kind,
    Measure,
    MeasureKind,
    MeasureStatus,
    Party,
    PartyRole,
    Source,
    Status,
    Visibility,
)
from tidsnok.deadlines.queries import calendar_for, overrides_map
from tidsnok.deadlines.rules import compute_due, rules_for
from tidsnok.org import scope
from tidsnok.org.models import Person, Role, RoleAssignment
from tidsnok.versioning import StaleVersion, check_and_bump

# Entry kinds a handler writes, and those the concerned employee writes.
HANDLER_ENTRY_KINDS = {
    EntryKind.CONVERSATION, EntryKind.ASSESSMENT, EntryKind.FOLLOW_UP, EntryKind.DECISION,
    EntryKind.CONCLUSION, EntryKind.NOTE,
}
EMPLOYEE_ENTRY_KINDS = {EntryKind.COMMENT}
# Conversation summaries, measures and evaluations are shared by default (participation);
# assessments and notes are internal unless the handler shares them.
SHARED_BY_DEFAULT = {EntryKind.CONVERSATION, EntryKind.FOLLOW_UP, EntryKind.DECISION, EntryKind.EVALUATION}

HEALTH_RISKS = ("low", "medium", "high")
WORK_RELATED = ("yes", "no", "uncertain")


# --- helpers ------------------------------------------------------------------------------------


def _actor_person(actor) -> Person:
    person = scope.person_of(actor)
    if person is None:
        raise AccessDenied("no person")
    return person


def _require(actor, action, case):
    if not can(actor, action, case):
        raise AccessDenied(action)


def _audit(actor, action, obj, data=None, case=None):
    event = record(actor, action, obj, data, role=scope.role_label(actor))
    target = case if case is not None else obj
    for fn in hooks.on_case_event:
        fn(target, actor, action, data or {})
    return event


def _deadlines_changed(organisation_id: int) -> None:
    """Bump the organisation's DeadlineVersion: call it after the change, in its transaction
    (outside one, the bump commits just after the change, which only costs a needless recount)."""
    with transaction.atomic(savepoint=False):  # no savepoint: a failure here fails the change anyway
        lock_chain()
        _bump_deadline_version(organisation_id)


def _bump_deadline_version(organisation_id: int) -> None:
    """The bump itself, for a caller that holds the chain's lock already."""
    if not DeadlineVersion.objects.filter(pk=organisation_id).update(version=F("version") + 1):
        # The organisation's first change; the chain's lock keeps a second writer out until we commit.
        DeadlineVersion.objects.create(pk=organisation_id, version=1)


def deadlines_version(organisation_id: int) -> int:
    """What cached counts of the organisation's deadlines are checked against (see DeadlineVersion)."""
    return DeadlineVersion.objects.filter(pk=organisation_id).values_list("version", flat=True).first() or 0


def _today() -> date:
    return timezone.localdate()


def needs_known_at_reason(known_at: date) -> bool:
    """Whether a case first known on `known_at` needs a reason for being registered only now."""
    return known_at < _today() - timedelta(days=settings.TIDSNOK_KNOWN_AT_REASON_DAYS)


def _check_not_future(field, value: date, errors: dict):
    if value > _today():
        errors.setdefault(field, []).append(_("The date cannot be in the future."))


def _next_number(organisation_id: int, year: int) -> str:
    row, _created = CaseNumber.objects.get_or_create(organisation_id=organisation_id, year=year)
    CaseNumber.objects.filter(pk=row.pk).update(last=F("last") + 1)
    row.refresh_from_db(fields=["last"])
    return f"SAK-{year}-{row.last:04d}"


def _is_manager_or_hr(person: Person) -> bool:
    return RoleAssignment.objects.active().filter(
        person=person, role__in=[Role.MANAGER, Role.DEPUTY, Role.HR]
    ).exists()


def _excluded_ids(case) -> set[int]:
    return set(case.exclusions.values_list("person_id", flat=True))


def _hr_candidates(case) -> list[Person]:
    """HR people whose scope covers the case's unit, most specific scope first."""
    ancestors = case.unit.ancestor_ids
    rows = (
        RoleAssignment.objects.active()
        .filter(role=Role.HR, person__organisation_id=case.organisation_id)
        .filter(models_q_unit_in_or_null(ancestors))
        .select_related("person", "unit")
    )
    excluded = _excluded_ids(case)
    ranked = sorted(
        (r for r in rows if r.person_id not in excluded),
        key=lambda r: (-(r.unit.depth + 1) if r.unit_id else 0, r.person_id),
    )
    seen, people = set(), []
    for r in ranked:
        if r.person_id not in seen:
            seen.add(r.person_id)
            people.append(r.person)
    return people


def models_q_unit_in_or_null(unit_ids):
    return Q(unit__isnull=True) | Q(unit_id__in=unit_ids)


def _responsible_manager(case, concerned: Person) -> tuple[Person | None, str]:
    """The nearest manager of the concerned person who is not excluded: her own
    unit's manager, else the next manager up (habilitet moves the case upwards)."""
    excluded = _excluded_ids(case) | {concerned.pk}
    ancestors = concerned.unit.ancestor_ids
    rows = (
        RoleAssignment.objects.active()
        .filter(role__in=[Role.MANAGER, Role.DEPUTY], unit_id__in=ancestors)
        .select_related("person")
    )
    by_unit: dict[int, list] = {}
    for r in rows:
        by_unit.setdefault(r.unit_id, []).append(r)
    for unit_id in reversed(ancestors):
        # A deputy reports to the manager: when the manager is excluded, the
        # whole unit is, and the case goes to the next level up.
        if any(r.role == Role.MANAGER and r.person_id in excluded for r in by_unit.get(unit_id, [])):
            continue
        candidates = [r for r in by_unit.get(unit_id, []) if r.person_id not in excluded]
        if candidates:
            by_unit[unit_id] = candidates
            best = min(by_unit[unit_id], key=lambda r: (r.role != Role.MANAGER, r.person_id))
            role = HandlerRole.MANAGER if unit_id == concerned.unit_id else HandlerRole.NEXT_MANAGER
            return best.person, role
    return None, HandlerRole.MANAGER


def _add_handler(case, person: Person, role: str, reason: str = "") -> Handler:
    return _add_handlers(case, [(person, role)], reason)[person.pk]


def _add_handlers(case, people: list[tuple[Person, str]], reason: str) -> dict[int, Handler]:
    """Each person as an active handler of the case, by person id: the one she is already, or a
    new one, who hears of it (hooks.on_handler_added). New ones are one insert and one bump of
    the deadline version: a whistleblowing report without designated handlers gets every HR
    adviser with the whole organisation (50 at N = 50,000)."""
    if not people:
        return {}
    handlers: dict[int, Handler] = {}
    for handler in case.handlers.filter(person__in=[person for person, _role in people],
                                        removed_at__isnull=True).order_by("pk"):
        handlers.setdefault(handler.person_id, handler)
    new = []
    for person, role in people:
        if person.pk not in handlers:
            handlers[person.pk] = Handler(case=case, person=person, role=role, reason=reason)
            new.append(handlers[person.pk])
    if new:
        Handler.objects.bulk_create(new)
        _deadlines_changed(case.organisation_id)  # a handler may see the case's deadlines
        for handler in new:
            for fn in hooks.on_handler_added:
                fn(case, handler.person, reason)
    return handlers


def _system_entry(case, kind, text="", data=None, author=None, visibility=Visibility.INTERNAL, occurred_on=None):
    return Entry.objects.create(
        case=case, kind=kind, occurred_on=occurred_on or _today(), author=author,
        visibility=visibility, text=text, data=data or {},
    )


def _entry_facts(entries) -> list[rules.EntryFacts]:
    return [
        rules.EntryFacts(e.id, e.kind, e.occurred_on, e.author_id, e.measure_id, e.data or {}) for e in entries
    ]


# --- escalation and impartiality ----------------------------------------------------------------


def _exclude(case, person: Person, reason: str, actor=None):
    if case.exclusions.filter(person=person).exists():
        return
    Exclusion.objects.create(case=case, person=person, reason=reason)
    case.handlers.filter(person=person, removed_at__isnull=True).update(removed_at=timezone.now())
    _deadlines_changed(case.organisation_id)  # she no longer sees the case's deadlines
    _system_entry(case, EntryKind.EXCLUSION, data={"person": person.pk, "reason": reason})
    _audit(actor, "case.party_excluded", case, {"person": person.pk, "reason": reason})


def apply_impartiality(case, actor=None, assign_manager: bool = True) -> None:
    """A party (accused, or concerned) who would reach the case as a manager or
    HR is shut out of it, and the case moves to the next manager up."""
    for party in case.parties.select_related("person").filter(role__in=[PartyRole.ACCUSED, PartyRole.CONCERNED]):
        if party.role == PartyRole.ACCUSED or _is_manager_or_hr(party.person):
            _exclude(case, party.person, f"party_{party.role}", actor)
    if case.owner_id in _excluded_ids(case):
        case.owner = None
    if case.owner_id is None and assign_manager:
        concerned = case.parties.filter(role=PartyRole.CONCERNED).select_related("person__unit").first()
        if concerned is not None:
            manager, role = _responsible_manager(case, concerned.person)
            if manager is not None:
                _add_handler(case, manager, role, _("Responsible manager"))
                case.owner = manager
        Case.objects.filter(pk=case.pk).update(owner=case.owner)


def involve_hr(case, reason: str, actor=None, note: str = "") -> Handler | None:
    """HR involved = an HR handler assigned, notified, and given a deadline of her own."""
    existing = case.handlers.filter(role=HandlerRole.HR, removed_at__isnull=True).select_related("person").first()
    if existing is not None:
        return existing
    candidates = _hr_candidates(case)
    if not candidates:
        _system_entry(case, EntryKind.ESCALATION, data={"reason": reason, "hr_available": False})
        _audit(actor, "case.hr_unavailable", case, {"reason": reason})
        return None
    hr_person = candidates[0]
    handler = _add_handler(case, hr_person, HandlerRole.HR, reason)
    case.hr_involved_at = timezone.now()
    Case.objects.filter(pk=case.pk).update(hr_involved_at=case.hr_involved_at)
    _system_entry(case, EntryKind.HR_INVOLVED, text=note, data={"reason": reason, "hr_person": hr_person.pk})
    _audit(actor, "case.hr_involved", case, {"reason": reason, "hr_person": hr_person.pk, "note": note})
    return handler


def evaluate_escalation(case, actor=None) -> None:
    entries = _entry_facts(case.entries.all())
    manager_excluded = case.exclusions.exists()
    reasons = rules.hr_reasons(case.kind, entries, manager_excluded)
    for fn in hooks.hr_triggers.get(case.kind, []):
        reasons.extend(fn(case))
    if reasons and case.is_open:
        involve_hr(case, reasons[0], actor)


# --- deadlines ----------------------------------------------------------------------------------


def _room_trigger_dates(case) -> dict:
    """The trigger dates the rooms above supply for this case, asked once per
    recompute (each provider queries the database)."""
    merged: dict[str, list] = {}
    providers = [hooks.trigger_dates.get(case.kind), *hooks.extra_trigger_dates]
    for provider in providers:
        if provider is not None:
            for trigger, starts in provider(case).items():
                merged.setdefault(trigger, []).extend(starts)
    return merged


def _trigger_starts(case, rule, measures, hr_day, room_dates):
    """[(measure, sequence, start)] for one rule on this case."""
    if rule.trigger in ("known_at", "case_opened"):
        return [(None, 0, case.known_at)]
    if rule.trigger == "hr_involved":
        return [(None, 0, hr_day)] if hr_day else []
    if rule.trigger == "measure_due":
        return [(m, 0, m.due) for m in measures if m.status != MeasureStatus.CANCELLED]
    if rule.trigger == "review":
        return [(None, 0, case.known_at)]  # later windows are added as earlier ones are met
    return list(room_dates.get(rule.trigger, []))


_DEADLINE_STATE = ("rule_version", "title_nb", "title_en", "basis", "duty_basis", "responsible", "expected_event",
                   "start", "due", "explanation", "status", "met_on", "met_by_id", "status_reason",
                   "reason_code", "reason_data")


def _deadline_state(row: Deadline) -> tuple:
    return tuple(getattr(row, name) for name in _DEADLINE_STATE)


def recompute_deadlines(case) -> None:
    """Bring the case's Deadline rows in line with the rules and the entries.

    Rule versions are those in force when the manager first knew (case.known_at),
    with the organisation's overrides from that date: a later policy change never
    rewrites an old case."""
    with transaction.atomic(savepoint=False):  # no savepoint: a failure here fails the change anyway
        lock_chain()  # before the deadline rows: every writer takes the chain's lock first
        case.refresh_from_db()
        case._recompute_memo = {}  # see hooks.memo
        try:
            changed = _recompute_deadlines(case)
        finally:
            del case._recompute_memo
        if changed:
            _bump_deadline_version(case.organisation_id)


def _recompute_deadlines(case) -> bool:
    """Returns whether a row was written."""
    changed = False
    org_id = case.organisation_id
    rule_list = rules_for(case.kind, case.known_at, overrides_map(org_id))
    calendar = calendar_for(org_id)
    entries = list(case.entries.all())
    facts = _entry_facts(entries)
    by_id = {e.id: e for e in entries}
    measures = list(case.measures.all())
    parties = list(case.parties.values_list("person_id", "role"))
    concerned = {p for p, r in parties if r == PartyRole.CONCERNED}
    accused = {p for p, r in parties if r == PartyRole.ACCUSED}
    hr_people = set(case.handlers.filter(role=HandlerRole.HR).values_list("person_id", flat=True))
    hr_day = timezone.localdate(case.hr_involved_at) if case.hr_involved_at else None
    closed_on = timezone.localdate(case.closed_at) if case.closed_at and not case.is_open else None
    room_dates = _room_trigger_dates(case)
    existing = {(d.rule_id, d.measure_id, d.sequence): d for d in case.deadlines.all()}
    seen = set()

    for rule in rule_list:
        if rule.condition:
            check = hooks.conditions.get(rule.condition)
            if check is None or not check(case):
                continue
        starts = list(_trigger_starts(case, rule, measures, hr_day, room_dates))
        index = 0
        while index < len(starts):
            measure, sequence, start = starts[index]
            index += 1
            due = compute_due(rule, start, calendar)
            key = (rule.id, measure.pk if measure else None, sequence)
            seen.add(key)
            row = existing.get(key) or Deadline(case=case, rule_id=rule.id, measure=measure, sequence=sequence)
            before = _deadline_state(row) if row.pk else None
            row.rule_version = rule.version
            row.title_nb, row.title_en = rule.title_nb, rule.title_en
            row.basis, row.duty_basis = rule.basis, rule.duty_basis
            row.responsible, row.expected_event = rule.responsible, rule.expected_event
            row.start, row.due, row.explanation = start, due.due, due.explanation
            if row.status != DeadlineStatus.WAIVED:
                if rule.id in hooks.fulfilment:
                    entry, met_on = hooks.fulfilment[rule.id](row, case, entries)
                else:
                    fact, met_on = rules.fulfilling_entry(
                        rule.id, start, measure.pk if measure else None, facts, concerned, accused, hr_people
                    )
                    entry = by_id.get(fact.id) if fact else None
                reason = None
                if met_on is None and rule.id in hooks.not_required:
                    reason = hooks.not_required[rule.id](row, case)
                if measure is not None and measure.status == MeasureStatus.CANCELLED:
                    reason = ("measure_cancelled", {})
                if reason:
                    row.status, row.met_on, row.met_by = DeadlineStatus.NOT_REQUIRED, None, None
                    row.reason_code, row.reason_data, row.status_reason = reason[0], reason[1], ""
                else:
                    row.status = rules.status_for(row.due, met_on, closed_on, _today())
                    row.met_on, row.met_by = met_on, entry
                    closed = row.status in ("missed", "not_required")
                    row.reason_code, row.reason_data, row.status_reason = ("case_closed" if closed else ""), {}, ""
            # Most recomputes change nothing on most rows: write only what changed.
            if before is None or _deadline_state(row) != before:
                row.updated_at = timezone.now()
                row.save()
                changed = True
            if rule.repeat and row.met_on is not None and case.is_open:
                starts.append((None, sequence + 1, row.met_on))
    # Deadlines whose trigger disappeared (a cancelled measure removed, a condition no
    # longer true) are kept for the record and marked as no longer required.
    for key, row in existing.items():
        if key not in seen and row.status == DeadlineStatus.OPEN:
            row.status = DeadlineStatus.NOT_REQUIRED
            row.reason_code, row.reason_data, row.status_reason = "rule_gone", {}, ""
            row.updated_at = timezone.now()
            row.save(update_fields=["status", "status_reason", "reason_code", "reason_data", "updated_at"])
            changed = True
    return changed


def _after_change(case, actor):
    evaluate_escalation(case, actor)
    recompute_deadlines(case)


# --- opening ------------------------------------------------------------------------------------


def _validate_open(actor, kind, concerns, parties, factor_codes, known_at, known_at_reason, source, organisation_id):
    errors: dict[str, list[str]] = {}
    if kind not in MANAGER_KINDS:
        errors["kind"] = [_("Choose the kind of case.")]
    if not concerns:
        errors["concerns"] = [_("Choose at least one person the case concerns.")]
    if known_at is None:
        errors["known_at"] = [_("Say when you first knew.")]
    else:
        _check_not_future("known_at", known_at, errors)
        if needs_known_at_reason(known_at) and not (known_at_reason or "").strip():
            errors.setdefault("known_at_reason", []).append(
                _("You first knew more than %(days)d days ago: say why the case is registered only now.")
                % {"days": settings.TIDSNOK_KNOWN_AT_REASON_DAYS}
            )
    if source not in Source.values:
        errors["source"] = [_("Say how you learnt of it.")]
    known_codes = set(Factor.objects.filter(organisation_id=organisation_id, active=True).values_list("code", flat=True))
    unknown = [c for c in factor_codes if c not in known_codes]
    if unknown:
        errors["factors"] = [_("Unknown factor: %(codes)s") % {"codes": ", ".join(unknown)}]
    for _person, role in parties:
        if role not in (PartyRole.ACCUSED, PartyRole.WITNESS, PartyRole.OTHER, PartyRole.REPORTER):
            errors.setdefault("parties", []).append(_("Unknown party role: %(role)s") % {"role": role})
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def open_case(actor, *, kind: str, concerns: list[Person], parties: list[tuple[Person, str]] = (),
              factors: list[str] = (), description: str = "", source: str = Source.OTHER,
              known_at: date | None = None, known_at_reason: str = "", raised_by: Person | None = None) -> Case:
    """A manager (or HR) registers a case from a signal. The handler defaults to
    the manager of the concerned person's unit; deadlines run from when the
    manager first knew."""
    actor_person = _actor_person(actor)
    org_id = actor_person.organisation_id
    _validate_open(actor, kind, concerns, parties, list(factors), known_at, known_at_reason, source, org_id)
    # The actor must be responsible for everyone the case concerns (as their
    # manager or HR): an employee raises concerns through her manager or the
    # reporting channel, not by opening cases about colleagues.
    reachable = visible(actor, Person).filter(pk__in=[p.pk for p in concerns])
    if reachable.count() != len({p.pk for p in concerns}) or (
        not scope.managed_unit_ids(actor) and not scope.is_hr(actor)
    ):
        raise AccessDenied("open_case")
    return create_case(
        actor, org_id, kind=kind, concerns=concerns, parties=parties, factors=factors, description=description,
        source=source, known_at=known_at, known_at_reason=known_at_reason, raised_by=raised_by,
    )


def create_case(actor, organisation_id: int, *, kind: str, concerns: list[Person],
                parties: list[tuple[Person, str]] = (), factors: list[str] = (), description: str = "",
                source: str = Source.OTHER, known_at: date, known_at_reason: str = "",
                raised_by: Person | None = None, handlers: list[tuple[Person, str]] = (),
                unit=None, assign_manager: bool = True, day_only: bool = False, refresh: bool = True) -> Case:
    """Create a case of any kind on the spine. For rooms above the spine (sick
    leave, whistleblowing) whose own services have already checked the actor;
    `actor` may be None for what the system does by itself (an import, the
    anonymous reporting channel). Must run inside the caller's transaction.

    `day_only`: the case's timestamps (created, entries, handlers, parties,
    exclusions) keep the date only, midnight local time: an anonymous report,
    where a time of day could tell who wrote it. The caller wraps the call in
    audit.services.day_only() so that the audit events say no more.

    `refresh=False`: the caller links its own records to the case first and then
    calls refresh_case(); escalation and deadlines computed before that link would
    be thrown away at once."""
    actor_person = scope.person_of(actor) if actor is not None else None
    first = concerns[0] if concerns else None
    case = Case.objects.create(
        organisation_id=organisation_id,
        number=_next_number(organisation_id, _today().year),
        kind=kind,
        unit_id=unit.pk if unit is not None else first.unit_id,
        restricted=kind in RESTRICTED_KINDS,
        description=description,
        source=source,
        known_at=known_at,
        known_at_reason=known_at_reason,
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )
    if factors:
        case.factors.set(Factor.objects.filter(organisation_id=organisation_id, code__in=list(factors)))
    for person in concerns:
        Party.objects.get_or_create(case=case, person=person, role=PartyRole.CONCERNED)
    for person, role in parties:
        Party.objects.get_or_create(case=case, person=person, role=role)
    reporter = raised_by or (first if source == Source.EMPLOYEE_TOLD else None)
    if reporter is not None:
        Party.objects.get_or_create(case=case, person=reporter, role=PartyRole.REPORTER)
    for party in case.parties.select_related("person"):
        for fn in hooks.on_party_added:
            fn(case, party.person, party.role)
    _add_handlers(case, list(handlers), _("Designated handler"))
    apply_impartiality(case, actor, assign_manager=assign_manager)
    excluded = _excluded_ids(case)
    # The registering manager or HR adviser handles the case unless she is a party.
    if actor_person is not None and actor_person.pk not in excluded:
        if scope.is_hr(actor) and not scope.managed_unit_ids(actor):
            _add_handler(case, actor_person, HandlerRole.HR, _("Registered the case"))
            case.hr_involved_at = case.hr_involved_at or timezone.now()
            Case.objects.filter(pk=case.pk).update(hr_involved_at=case.hr_involved_at)
            _system_entry(case, EntryKind.HR_INVOLVED, data={"reason": "registered_by_hr", "hr_person": actor_person.pk})
        elif scope.managed_unit_ids(actor) and not case.handlers.filter(
            person=actor_person, removed_at__isnull=True
        ).exists():
            role = HandlerRole.MANAGER if case.unit_id in scope.managed_unit_ids(actor) else HandlerRole.ADDED
            _add_handler(case, actor_person, role, _("Registered the case"))
    _system_entry(
        case, EntryKind.SYSTEM, occurred_on=known_at,
        data={"event": "known", "source": source}, author=actor_person,
    )
    _audit(actor, "case.opened", case, {
        "kind": kind, "unit": case.unit_id, "known_at": known_at, "source": source,
        "concerns": [p.pk for p in concerns], "parties": [[p.pk, r] for p, r in parties],
        "factors": sorted(factors), "description": description, "reason": known_at_reason,
    })
    if refresh:
        _after_change(case, actor)
    if day_only:
        keep_day_only(case)
    return case


def _midnight():
    return timezone.localtime(timezone.now()).replace(hour=0, minute=0, second=0, microsecond=0)


def keep_day_only(case) -> None:
    """Cut the timestamps of everything on the case so far to the day (see create_case)."""
    midnight = _midnight()
    Case.objects.filter(pk=case.pk).update(created_at=midnight)
    Case.objects.filter(pk=case.pk, hr_involved_at__isnull=False).update(hr_involved_at=midnight)
    case.entries.update(recorded_at=midnight)
    case.handlers.update(added_at=midnight)
    case.parties.update(added_at=midnight)
    case.exclusions.update(created_at=midnight)
    case.refresh_from_db()


@transaction.atomic
def update_case(actor, case: Case, version: int, *, description: str | None = None,
                factors: list[str] | None = None) -> Case:
    _require(actor, "edit", case)
    fields = {}
    if description is not None:
        fields["description"] = description
    check_and_bump(Case, case.pk, version, **fields)
    if factors is not None:
        case.factors.set(Factor.objects.filter(organisation_id=case.organisation_id, code__in=list(factors)))
    case.refresh_from_db()
    _audit(actor, "case.changed", case, {"description": description, "factors": sorted(factors or [])})
    _after_change(case, actor)
    return case


# --- entries ------------------------------------------------------------------------------------


def _clean_entry_data(kind, data, case, errors):
    data = dict(data or {})
    clean = {}
    if kind == EntryKind.CONVERSATION:
        participants = [int(p) for p in data.get("participants", []) if str(p).isdigit()]
        known = set(Person.objects.filter(organisation_id=case.organisation_id, pk__in=participants).values_list("pk", flat=True))
        if not participants:
            errors.setdefault("participants", []).append(_("Who took part in the conversation?"))
        elif set(participants) - known:
            errors.setdefault("participants", []).append(_("Unknown participant."))
        clean["participants"] = sorted(set(participants))
    elif kind == EntryKind.ASSESSMENT:
        risk = data.get("health_risk")
        if risk not in HEALTH_RISKS:
            errors.setdefault("health_risk", []).append(_("Choose the health risk: low, medium or high."))
        related = data.get("work_related")
        if related not in WORK_RELATED:
            errors.setdefault("work_related", []).append(_("Is it work-related: yes, no or uncertain?"))
        clean.update(
            health_risk=risk, work_related=related,
            affects_work_ability=bool(data.get("affects_work_ability")),
            affects_several=bool(data.get("affects_several")),
            factors_confirmed=sorted(
                Factor.objects.filter(organisation_id=case.organisation_id, code__in=list(data.get("factors_confirmed", [])))
                .values_list("code", flat=True)
            ),
        )
    return clean


@transaction.atomic
def add_entry(actor, case: Case, *, kind: str, occurred_on: date, text: str = "", data: dict | None = None,
              visibility: str | None = None, about: Person | None = None, measure: Measure | None = None) -> Entry:
    """Document a conversation, assessment, follow-up, decision, conclusion or note
    (handlers), or a comment (the concerned employee)."""
    person = _actor_person(actor)
    if kind in EMPLOYEE_ENTRY_KINDS:
        if not can(actor, "participate", case):
            _require(actor, "edit", case)
        visibility = Visibility.SHARED
        about = None if can(actor, "edit", case) else person
    elif kind in HANDLER_ENTRY_KINDS:
        _require(actor, "edit", case)
    else:
        raise ValidationError({"kind": [_("This kind of entry cannot be added by hand.")]})
    if not case.is_open:
        raise ValidationError({"__all__": [_("The case is closed. Reopen it to add to it.")]})
    errors: dict[str, list[str]] = {}
    if occurred_on is None:
        errors["occurred_on"] = [_("When did it happen?")]
    else:
        _check_not_future("occurred_on", occurred_on, errors)
    if kind != EntryKind.ASSESSMENT and not (text or "").strip():
        errors.setdefault("text", []).append(_("Write what happened."))
    if measure is not None and measure.case_id != case.pk:
        errors.setdefault("measure", []).append(_("The measure belongs to another case."))
    if kind == EntryKind.FOLLOW_UP and measure is not None and measure.status == MeasureStatus.CANCELLED:
        errors.setdefault("measure", []).append(_("The measure was cancelled."))
    if about is not None and not case.parties.filter(person=about).exists():
        errors.setdefault("about", []).append(_("The person is not a party to the case."))
    clean = _clean_entry_data(kind, data, case, errors)
    if errors:
        raise ValidationError(errors)
    if visibility is None:
        visibility = Visibility.SHARED if kind in SHARED_BY_DEFAULT else Visibility.INTERNAL
    if visibility not in Visibility.values:
        raise ValidationError({"visibility": [_("Choose who may see the entry.")]})
    entry = Entry.objects.create(
        case=case, kind=kind, occurred_on=occurred_on, author=person, visibility=visibility,
        about=about, text=text, data=clean, measure=measure,
    )
    _audit(actor, "case.entry_added", entry, {
        "case": case.pk, "kind": kind, "occurred_on": occurred_on, "visibility": visibility,
        "text": text, "measure": measure.pk if measure else None, "data": clean,
    }, case=case)
    _after_change(case, actor)
    return entry


@transaction.atomic
def ask_hr(actor, case: Case, note: str) -> Entry:
    """"Jeg er usikker på prosess eller habilitet": involve HR with the manager's note."""
    _require(actor, "edit", case)
    if not (note or "").strip():
        raise ValidationError({"note": [_("Write a few words for HR about what you are unsure of.")]})
    entry = Entry.objects.create(
        case=case, kind=EntryKind.UNCERTAIN, occurred_on=_today(), author=_actor_person(actor),
        visibility=Visibility.INTERNAL, text=note,
    )
    _audit(actor, "case.uncertain", entry, {"case": case.pk, "note": note}, case=case)
    involve_hr(case, rules.HR_UNCERTAIN, actor, note)
    recompute_deadlines(case)
    return entry


# --- measures -----------------------------------------------------------------------------------


def _validate_measure(case, what, kind, owner, due, area, errors):
    if not (what or "").strip():
        errors["what"] = [_("Describe the measure.")]
    if kind not in MeasureKind.values:
        errors["kind"] = [_("Is the measure organisational (job-side) or individual?")]
    if owner is None or owner.organisation_id != case.organisation_id:
        errors["owner"] = [_("Choose who owns the measure.")]
    if due is None:
        errors["due"] = [_("Set a due date.")]
    if area and area not in dict(Measure._meta.get_field("area").choices):
        errors["area"] = [_("Unknown area.")]


@transaction.atomic
def add_measure(actor, case: Case, *, what: str, kind: str, owner: Person, due: date, area: str = "",
                visibility: str = Visibility.SHARED) -> Measure:
    _require(actor, "edit", case)
    if not case.is_open:
        raise ValidationError({"__all__": [_("The case is closed. Reopen it to add to it.")]})
    errors: dict[str, list[str]] = {}
    _validate_measure(case, what, kind, owner, due, area, errors)
    if errors:
        raise ValidationError(errors)
    person = _actor_person(actor)
    measure = Measure.objects.create(
        case=case, what=what, kind=kind, area=area, owner=owner, due=due, visibility=visibility, created_by=person,
    )
    Entry.objects.create(
        case=case, kind=EntryKind.MEASURE, occurred_on=_today(), author=person, visibility=visibility,
        text=what, measure=measure, data={"event": "created", "due": due.isoformat(), "kind": kind, "owner": owner.pk},
    )
    _audit(actor, "case.measure_added", measure, {
        "case": case.pk, "what": what, "kind": kind, "area": area, "owner": owner.pk, "due": due,
    }, case=case)
    _after_change(case, actor)
    return measure


@transaction.atomic
def update_measure(actor, measure: Measure, version: int, **changes) -> Measure:
    """Change a measure's status, owner, due date or text. Cancelling needs a reason.

    `version` is the one the user saw: if someone changed it since, nothing is saved."""
    case = measure.case
    _require(actor, "edit", case)
    if not case.is_open:
        raise ValidationError({"__all__": [_("The case is closed. Reopen it to change it.")]})
    allowed = {"status", "owner", "due", "what", "cancel_reason", "area", "kind", "visibility"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValidationError({k: [_("This field cannot be changed.")] for k in unknown})
    current = Measure.objects.get(pk=measure.pk)
    if current.version != version:
        raise StaleVersion()
    status = changes.get("status", current.status)
    errors: dict[str, list[str]] = {}
    if status not in MeasureStatus.values:
        errors["status"] = [_("Unknown status.")]
    if status == MeasureStatus.CANCELLED and not (changes.get("cancel_reason") or current.cancel_reason).strip():
        errors["cancel_reason"] = [_("Say why the measure is cancelled.")]
    _validate_measure(
        case, changes.get("what", current.what), changes.get("kind", current.kind),
        changes.get("owner", current.owner), changes.get("due", current.due), changes.get("area", current.area), errors,
    )
    if errors:
        raise ValidationError(errors)
    fields = {k: v for k, v in changes.items() if k != "owner"}
    if "owner" in changes:
        fields["owner_id"] = changes["owner"].pk
    if status == MeasureStatus.DONE and current.status != MeasureStatus.DONE:
        fields["done_on"] = _today()
    check_and_bump(Measure, measure.pk, version, **fields)
    measure.refresh_from_db()
    if "status" in changes and changes["status"] != current.status:
        Entry.objects.create(
            case=case, kind=EntryKind.MEASURE, occurred_on=_today(), author=_actor_person(actor),
            visibility=measure.visibility, text=measure.cancel_reason if status == MeasureStatus.CANCELLED else "",
            measure=measure, data={"event": "status", "from": current.status, "to": status},
        )
    _audit(actor, "case.measure_changed", measure, {
        "case": case.pk, "changed": sorted(changes), "status": status, "reason": changes.get("cancel_reason", ""),
        "due": changes.get("due"),
    }, case=case)
    _after_change(case, actor)
    return measure


@transaction.atomic
def respond_to_measure(actor, measure: Measure, *, agrees: bool, comment: str = "") -> Entry:
    """The concerned employee agrees or disagrees with a measure (participation)."""
    case = measure.case
    person = _actor_person(actor)
    is_concerned = case.parties.filter(person=person, role=PartyRole.CONCERNED).exists()
    if not is_concerned or measure.visibility != Visibility.SHARED or not can(actor, "participate", case):
        raise AccessDenied("respond")
    if not case.is_open:
        raise ValidationError({"__all__": [_("The case is closed.")]})
    entry = Entry.objects.create(
        case=case, kind=EntryKind.MEASURE_RESPONSE, occurred_on=_today(), author=person,
        visibility=Visibility.SHARED, about=person, text=comment, measure=measure, data={"agrees": bool(agrees)},
    )
    _audit(actor, "case.measure_response", entry, {
        "case": case.pk, "measure": measure.pk, "agrees": bool(agrees), "comment": comment,
    }, case=case)
    recompute_deadlines(case)
    return entry


# --- handlers and deadlines ---------------------------------------------------------------------


@transaction.atomic
def add_handler(actor, case: Case, person: Person, reason: str) -> Handler:
    """Explicitly add a handler (HR, or the case owner)."""
    _require(actor, "edit", case)
    if person.pk in _excluded_ids(case):
        raise ValidationError({"person": [_("This person is a party to the case and cannot handle it.")]})
    if not (reason or "").strip():
        raise ValidationError({"reason": [_("Say why the person is added.")]})
    role = HandlerRole.HR if _is_hr_person(person) else HandlerRole.ADDED
    handler = _add_handler(case, person, role, reason)
    if role == HandlerRole.HR and case.hr_involved_at is None:
        case.hr_involved_at = timezone.now()
        Case.objects.filter(pk=case.pk).update(hr_involved_at=case.hr_involved_at)
        _system_entry(case, EntryKind.HR_INVOLVED, data={"reason": "added", "hr_person": person.pk})
    _audit(actor, "case.handler_added", case, {"person": person.pk, "role": role, "reason": reason})
    recompute_deadlines(case)
    return handler


def _is_hr_person(person: Person) -> bool:
    return RoleAssignment.objects.active().filter(person=person, role=Role.HR).exists()


@transaction.atomic
def waive_deadline(actor, deadline: Deadline, reason: str) -> Deadline:
    """HR may waive a deadline, with a reason; the waiver is on the record."""
    case = deadline.case
    _require(actor, "waive", case)
    if not (reason or "").strip():
        raise ValidationError({"reason": [_("Say why the deadline is waived.")]})
    if deadline.status != DeadlineStatus.OPEN:
        raise ValidationError({"__all__": [_("Only an open deadline can be waived.")]})
    lock_chain()  # before the deadline row: every writer takes the chain's lock first
    Deadline.objects.filter(pk=deadline.pk).update(
        status=DeadlineStatus.WAIVED, status_reason=reason, reason_code="", reason_data={}, updated_at=timezone.now()
    )
    _bump_deadline_version(case.organisation_id)
    _system_entry(case, EntryKind.WAIVER, text=reason, author=_actor_person(actor), data={"deadline": deadline.pk, "rule": deadline.rule_id})
    _audit(actor, "case.deadline_waived", case, {"deadline": deadline.pk, "rule": deadline.rule_id, "reason": reason})
    deadline.refresh_from_db()
    return deadline


@transaction.atomic
def record_escalation(case: Case, deadline: Deadline, to_person: Person, reason: str, actor=None) -> Entry:
    """An overdue deadline climbed to `to_person`: on the case timeline and in the audit log.

    The reminder sweep calls it as the system (actor None), acting on the rules
    rather than for a user, so there is no access check. `reason` is a code
    ("overdue"), never free text."""
    data = {"deadline": deadline.pk, "rule": deadline.rule_id, "due": deadline.due.isoformat(),
            "to_person": to_person.pk, "cause": reason}
    entry = _system_entry(case, EntryKind.ESCALATION, data=data)
    _audit(actor, "case.deadline_escalated", case, data)
    return entry


# --- closing ------------------------------------------------------------------------------------


def close_refusals(case: Case, evaluation: str) -> list[str]:
    open_measures = case.measures.filter(status__in=OPEN_MEASURE_STATUSES).count()
    hr_involved = case.handlers.filter(role=HandlerRole.HR).exists()
    refusals = rules.close_refusals(case.kind, open_measures, evaluation, hr_involved)
    for check in hooks.close_checks.get(case.kind, []):
        refusals.extend(check(case))
    return refusals


@transaction.atomic
def close_case(actor, case: Case, evaluation: str, version: int) -> Case:
    """Close with a final evaluation. Refused while measures are open, without an
    evaluation, for harassment without HR, and by each kind's own checks."""
    _require(actor, "close", case)
    if not case.is_open:
        raise ValidationError({"__all__": [_("The case is already closed.")]})
    refusals = close_refusals(case, evaluation or "")
    if refusals:
        raise ValidationError({"evaluation" if not (evaluation or "").strip() and len(refusals) == 1 else "__all__": refusals})
    now = timezone.now()
    check_and_bump(Case, case.pk, version, status=Status.CLOSED, closed_at=now)
    _deadlines_changed(case.organisation_id)  # its open deadlines no longer count as open
    case.refresh_from_db()
    _system_entry(case, EntryKind.EVALUATION, text=evaluation, author=_actor_person(actor), visibility=Visibility.SHARED)
    _audit(actor, "case.closed", case, {"evaluation": evaluation})
    recompute_deadlines(case)
    return case


@transaction.atomic
def reopen_case(actor, case: Case, reason: str, version: int) -> Case:
    _require(actor, "edit", case)
    if case.is_open:
        raise ValidationError({"__all__": [_("The case is open.")]})
    if not (reason or "").strip():
        raise ValidationError({"reason": [_("Say why the case is reopened.")]})
    check_and_bump(Case, case.pk, version, status=Status.OPEN, closed_at=None)
    _deadlines_changed(case.organisation_id)
    case.refresh_from_db()
    _system_entry(case, EntryKind.REOPENED, text=reason, author=_actor_person(actor))
    _audit(actor, "case.reopened", case, {"reason": reason})
    _after_change(case, actor)
    return case


# --- for the rooms above the spine ---------------------------------------------------------------


def record_entry(actor, case: Case, *, kind: str, occurred_on: date, text: str = "", data: dict | None = None,
                 visibility: str = Visibility.INTERNAL, about: Person | None = None,
                 measure: Measure | None = None, author: Person | None = None,
                 day_only: bool = False) -> Entry:
    """Put a kind-specific event (a plan version, a dialogue meeting, a message)
    on the case's one timeline. The calling room's service has checked access
    and writes its own audit event; call refresh_case() afterwards.
    `day_only`: recorded at midnight, the date only (see create_case)."""
    return Entry.objects.create(
        case=case, kind=kind, occurred_on=occurred_on, visibility=visibility, about=about, text=text,
        data=data or {}, measure=measure, author=author if author is not None else scope.person_of(actor),
        recorded_at=_midnight() if day_only else timezone.now(),
    )


def refresh_case(case: Case, actor=None) -> None:
    """Re-evaluate escalation and deadlines after a change made by a room above."""
    _after_change(case, actor)


def exclude_from_case(case: Case, person: Person, reason: str, actor=None) -> None:
    """Shut a person out of a case for impartiality (for example a handler named in a report)."""
    _exclude(case, person, reason, actor)


@transaction.atomic
def mark_not_required(actor, deadline: Deadline, reason: str) -> Deadline:
    """A rule marked "obviously unnecessary" (for example a follow-up plan), only with a recorded reason."""
    case = deadline.case
    _require(actor, "edit", case)
    if not (reason or "").strip():
        raise ValidationError({"reason": [_("Say why it is obviously unnecessary.")]})
    if deadline.status != DeadlineStatus.OPEN:
        raise ValidationError({"__all__": [_("Only an open deadline can be marked as not required.")]})
    lock_chain()  # before the deadline row: every writer takes the chain's lock first
    Deadline.objects.filter(pk=deadline.pk).update(
        status=DeadlineStatus.WAIVED, status_reason=reason, reason_code="", reason_data={}, updated_at=timezone.now()
    )
    _bump_deadline_version(case.organisation_id)
    _system_entry(case, EntryKind.NOT_REQUIRED, text=reason, author=_actor_person(actor),
                  data={"deadline": deadline.pk, "rule": deadline.rule_id})
    _audit(actor, "case.deadline_not_required", case, {"deadline": deadline.pk, "rule": deadline.rule_id, "reason": reason})
    deadline.refresh_from_db()
    return deadline


# --- retention (called by the retention room, which decides which cases and audits each batch) ---


def _start_of(day: date):
    """Local midnight at the start of `day`: closed_at is a time, the policy counts in days."""
    return timezone.make_aware(datetime.combine(day, time.min))


def retention_ids(rows, *, unrestricted_only: bool = False, among=None) -> list[int]:
    """The ids of `rows` (cases, episodes, prompts: models with `restricted_at`) that a retention
    rule reaches, in id order. `unrestricted_only`: leave out those the policy restricted already.
    `among`: only these ids, locked until the transaction ends: the retention room selects again
    inside each batch's transaction, so what was reopened or changed meanwhile is not touched."""
    if unrestricted_only:
        rows = rows.filter(restricted_at__isnull=True)
    if among is not None:
        rows = rows.filter(pk__in=list(among)).select_for_update()
    return list(rows.order_by("pk").values_list("pk", flat=True))


def closed_before(organisation, kinds, cutoff: date, **selection) -> list[int]:
    """Ids of the organisation's closed cases of these kinds, closed before `cutoff` (a day);
    `selection` as in retention_ids."""
    return retention_ids(Case.objects.filter(
        organisation=organisation, kind__in=list(kinds), status=Status.CLOSED, closed_at__lt=_start_of(cutoff),
    ), **selection)


@transaction.atomic
def delete_cases(organisation, case_ids) -> int:
    """Delete these cases of the organisation with everything the spine holds about them.

    The rooms above delete their own rows of the cases first (retention.services.apply calls
    them): what still points here with PROTECT would refuse. Entries go before the measures they
    may name (Entry.measure is PROTECT, so a case cannot simply cascade)."""
    ids = list(Case.objects.filter(organisation=organisation, pk__in=list(case_ids)).values_list("pk", flat=True))
    if not ids:
        return 0
    Deadline.objects.filter(case_id__in=ids).delete()
    Entry.objects.filter(case_id__in=ids).delete()
    Measure.objects.filter(case_id__in=ids).delete()
    Case.objects.filter(pk__in=ids).delete()  # parties, handlers, exclusions and factor links cascade
    _deadlines_changed(organisation.pk)  # cached compliance counts counted these cases' deadlines
    return len(ids)


@transaction.atomic
def restrict_cases(organisation, case_ids, now=None) -> int:
    """Restrict these closed cases to HR: the case becomes restricted (managers no longer see it
    through scope; HR in scope and its HR handlers still do, cases.policy) and every handler who
    is not HR is ended, except the handlers chosen for a kind restricted from the start (the
    designated receivers of whistleblowing reports): HR in scope does not see those kinds, and
    without them nobody would. Cases restricted by the policy before are left alone."""
    now = now or timezone.now()
    ids = list(Case.objects.filter(organisation=organisation, pk__in=list(case_ids), status=Status.CLOSED,
                                   restricted_at__isnull=True).values_list("pk", flat=True))
    if not ids:
        return 0
    Case.objects.filter(pk__in=ids).update(restricted=True, restricted_at=now, version=F("version") + 1)
    (Handler.objects.filter(case_id__in=ids, removed_at__isnull=True).exclude(role=HandlerRole.HR)
     .exclude(role=HandlerRole.ADDED, case__kind__in=RESTRICTED_KINDS).update(removed_at=now))
    _deadlines_changed(organisation.pk)  # who sees the cases' deadlines changed
    return len(ids)


# --- factor catalogue ---------------------------------------------------------------------------

DEFAULT_FACTORS = [
    # code, nb, en, legal basis (DOMAIN §2)
    ("workload", "Arbeidsmengde og tidspress", "Workload and time pressure", "aml § 4-3 (2) c"),
    ("role", "Uklare krav og rollekonflikt", "Unclear demands and role conflict", "aml § 4-3 (2) a"),
    ("emotional", "Emosjonelle belastninger", "Emotional demands", "aml § 4-3 (2) b"),
    ("support", "Manglende støtte og oppfølging", "Lack of support and follow-up", "aml § 4-3 (2) d"),
    ("conflict", "Konflikt, utenforskap og uheldig kultur", "Conflict, exclusion and poor culture", "aml § 4-3 (3), (4)"),
    ("harassment", "Trakassering (inkludert seksuell trakassering)", "Harassment (including sexual harassment)",
     "aml § 4-3 (5); likestillings- og diskrimineringsloven § 13"),
    ("violence", "Vold og trusler", "Violence and threats", "aml § 4-3 (6)"),
]


@transaction.atomic
def ensure_default_factors(actor, organisation) -> int:
    """Give an organisation the default factor catalogue; returns how many were added."""
    added = 0
    for position, (code, nb, en, basis) in enumerate(DEFAULT_FACTORS):
        _, created = Factor.objects.get_or_create(
            organisation=organisation, code=code,
            defaults={"name_nb": nb, "name_en": en, "legal_basis": basis, "position": position},
        )
        added += created
    if added:
        record(actor, "factors.defaults_added", organisation, {"added": added})
    return added


__all__ = [
    "open_case", "update_case", "add_entry", "ask_hr", "add_measure", "update_measure", "respond_to_measure",
    "add_handler", "waive_deadline", "close_case", "reopen_case", "recompute_deadlines", "involve_hr",
    "ensure_default_factors", "deadlines_version", "Kind",
]


# --- figures for the organisation's yearly report (reports.yearly) ------------------------------


def kind_counts(organisation_id: int, first: date, last: date) -> dict[str, dict[str, int]]:
    """{kind: {"registered", "closed", "open_at_end"}} for every case of the organisation, whoever
    handles it: registered and closed in the period, and open at its last day. Counts only, in
    one grouped query; who may see them is the report's to decide."""
    start, after = _start_of(first), _start_of(last + timedelta(days=1))
    rows = (Case.objects.filter(organisation_id=organisation_id, created_at__lt=after).order_by().values("kind")
            .annotate(registered=Count("pk", filter=Q(created_at__gte=start)),
                      closed=Count("pk", filter=Q(closed_at__gte=start, closed_at__lt=after)),
                      open_at_end=Count("pk", filter=Q(closed_at__isnull=True) | Q(closed_at__gte=after))))
    return {row["kind"]: {key: row[key] for key in ("registered", "closed", "open_at_end")} for row in rows}
