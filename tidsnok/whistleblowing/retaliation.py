"""The retaliation watch (aml § 2 A-4).

Whoever reported, raised a concern in a case, or is known to be about to report
is protected for a period (default 12 months). Any adverse change tidsnok records
or is told about for that person in the period raises a retaliation check: HR
documents the objective, independent grounds and who decided, within 5 working
days. With the shared burden of proof, that record is the employer's defence.

A check lives on the case where the person reported or raised her concern, so
it is part of that case's documentation (timeline, deadlines, PDF), and only
that case's handlers, who already know her identity, see it.
"""

import calendar
from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models.signals import post_save, pre_save
from django.utils import timezone
from django.utils.translation import gettext as _

from tidsnok import crypto
from tidsnok.access.policy import AccessDenied, can, register, visible
from tidsnok.audit.services import record
from tidsnok.cases import hooks
from tidsnok.cases import services as case_services
from tidsnok.cases.models import Case, EntryKind, JobSideArea, Kind, PartyRole, Source, Visibility
from tidsnok.cases.policy import case_condition
from tidsnok.org import scope
from tidsnok.org.models import Person, Role, RoleAssignment
from tidsnok.versioning import check_and_bump
from tidsnok.whistleblowing.models import (
    ChangeType,
    Protection,
    ProtectionReason,
    RetaliationCheck,
    WhistleblowingSettings,
)

RULE_ID = "whistleblowing.retaliation_check"
OUTCOMES = ("objective_grounds", "retaliation_suspected")
# Measures in these areas change a person's tasks, hours, place or role.
ADVERSE_AREAS = {
    JobSideArea.TASKS: ChangeType.TASKS,
    JobSideArea.WORKING_HOURS: ChangeType.HOURS,
    JobSideArea.ORGANISATION: ChangeType.ROLE,
}


def _today() -> date:
    return timezone.localdate()


def add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return day.replace(year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1]))


def protection_months(organisation_id: int) -> int:
    row = WhistleblowingSettings.objects.filter(organisation_id=organisation_id).first()
    return row.protection_months if row else 12


def protect(actor, person: Person, reason: str, case: Case, starts_on: date | None = None) -> Protection:
    """Start (or keep) protecting a person. Runs inside the caller's transaction."""
    starts_on = starts_on or _today()
    existing = Protection.objects.filter(person=person, case=case, reason=reason).first()
    if existing is not None:
        return existing
    protection = Protection.objects.create(
        organisation_id=person.organisation_id, person=person, reason=reason, case=case, starts_on=starts_on,
        ends_on=add_months(starts_on, protection_months(person.organisation_id)),
    )
    record(actor, "retaliation.protection_started", protection,
           {"case": case.pk, "reason": reason, "ends_on": protection.ends_on})
    return protection


def active_protections(person: Person, on: date):
    return Protection.objects.filter(person=person, starts_on__lte=on, ends_on__gte=on).select_related("case")


def raise_check(actor, person: Person, change_type: str, change_on: date, source: str,
                justification: str = "", decided_by: Person | None = None,
                skip_case: Case | None = None) -> list[RetaliationCheck]:
    """An adverse change for `person`: one check per protection in force on `change_on`."""
    checks = []
    for protection in active_protections(person, change_on):
        if skip_case is not None and protection.case_id == skip_case.pk:
            continue
        check = RetaliationCheck.objects.create(
            protection=protection, change_type=change_type, change_on=change_on, source=source,
            reported_justification_enc=crypto.encrypt(justification) if justification else "",
            decided_by=decided_by,
        )
        # The entry names no one: the case's handlers know who reported.
        case_services.record_entry(
            actor, protection.case, kind=EntryKind.RETALIATION_CHECK, occurred_on=min(change_on, _today()),
            data={"check": check.pk, "event": "raised", "change_type": change_type, "source": source},
            visibility=Visibility.INTERNAL,
        )
        record(actor, "retaliation.check_raised", check, {
            "case": protection.case_id, "change_type": change_type, "change_on": change_on, "source": source,
            "justification": justification,
        })
        case_services.refresh_case(protection.case, actor)
        checks.append(check)
    return checks


@transaction.atomic
def report_change(actor, person: Person, *, change_type: str, change_on: date, justification: str,
                  decided_by: Person | None = None) -> list[RetaliationCheck]:
    """An HR system or HR tells tidsnok of a change for a person (POST /api/v1/people/{id}/changes).

    The caller learns only whether the change was accepted: whether the person is
    protected is not revealed to someone who may not know she reported."""
    if not (scope.is_hr(actor) or scope.is_admin(actor)) or not visible(actor, Person).filter(pk=person.pk).exists():
        raise AccessDenied("report_change")
    errors = {}
    if change_type not in ChangeType.values:
        errors["type"] = [_("Unknown type of change.")]
    if not (justification or "").strip():
        errors["justification"] = [_("Give the justification for the change.")]
    if change_on is None:
        errors["change_on"] = [_("Give the date of the change.")]
    if errors:
        raise ValidationError(errors)
    record(actor, "person.change_reported", person, {"type": change_type, "change_on": change_on,
                                                      "justification": justification})
    return raise_check(actor, person, change_type, change_on, "api", justification, decided_by)


@transaction.atomic
def document_check(actor, check: RetaliationCheck, version: int, *, grounds: str, decided_by: Person,
                   outcome: str) -> RetaliationCheck:
    """HR documents the objective, independent grounds of the change and who decided it."""
    case = check.protection.case
    if not can(actor, "edit", case) or not scope.is_hr(actor):
        raise AccessDenied("document_check")
    errors = {}
    if not (grounds or "").strip():
        errors["grounds"] = [_("Document the objective grounds for the change.")]
    if decided_by is None:
        errors["decided_by"] = [_("Say who decided the change.")]
    if outcome not in OUTCOMES:
        errors["outcome"] = [_("Choose the outcome of the check.")]
    if errors:
        raise ValidationError(errors)
    person = scope.person_of(actor)
    check_and_bump(RetaliationCheck, check.pk, version, grounds_enc=crypto.encrypt(grounds), decided_by=decided_by,
                   outcome=outcome, documented_on=_today(), documented_by=person)
    check.refresh_from_db()
    case_services.record_entry(
        actor, case, kind=EntryKind.RETALIATION_CHECK, occurred_on=_today(),
        data={"check": check.pk, "event": "documented", "outcome": outcome, "decided_by": decided_by.pk},
        visibility=Visibility.INTERNAL,
    )
    record(actor, "retaliation.check_documented", check, {"case": case.pk, "outcome": outcome,
                                                          "decided_by": decided_by.pk, "grounds": grounds})
    if outcome == "retaliation_suspected":
        claim_retaliation(actor, check.protection.person, _("Suspected retaliation found in a retaliation check."))
    case_services.refresh_case(case, actor)
    return check


@transaction.atomic
def claim_retaliation(actor, person: Person, description: str) -> Case:
    """A claim of retaliation, from anyone, opens a case through the spine's
    harassment/retaliation escalation: HR is involved at once."""
    if not (description or "").strip():
        raise ValidationError({"description": [_("Describe what happened.")]})
    claimant = scope.person_of(actor)
    if claimant is None or claimant.organisation_id != person.organisation_id:
        raise AccessDenied("claim_retaliation")
    case = case_services.create_case(
        actor, person.organisation_id, kind=Kind.HARASSMENT, concerns=[person], description=description,
        source=Source.EMPLOYEE_TOLD if claimant == person else Source.COLLEAGUE, known_at=_today(),
        raised_by=claimant, assign_manager=False,
    )
    record(actor, "retaliation.claimed", case, {"person": person.pk, "description": description})
    return case


@transaction.atomic
def protect_about_to_report(actor, person: Person, note: str) -> Protection:
    """HR learns that someone is about to report (aml § 2 A-4 protects her
    already): the protection gets a restricted case of its own, handled by the
    HR adviser who recorded it, where any retaliation checks will land."""
    if scope.hr_scope(actor) != scope.ALL or scope.organisation_id_of(actor) != person.organisation_id:
        raise AccessDenied("protect")
    if not (note or "").strip():
        raise ValidationError({"note": [_("Say how it is known that the person is about to report.")]})
    hr = scope.person_of(actor)
    case = case_services.create_case(
        actor, person.organisation_id, kind=Kind.WHISTLEBLOWING, concerns=[], unit=person.unit,
        description=note, source=Source.OTHER, known_at=_today(), handlers=[(hr, "hr")], assign_manager=False,
    )
    protection = protect(actor, person, ProtectionReason.ABOUT_TO_REPORT, case)
    record(actor, "retaliation.about_to_report", protection, {"case": case.pk, "note": note})
    return protection


# --- what the watch listens to ------------------------------------------------------------------


def _on_party_added(case, person, role):
    if role == PartyRole.REPORTER:
        reason = ProtectionReason.REPORTED if case.kind == Kind.WHISTLEBLOWING else ProtectionReason.RAISED_CONCERN
        protect(None, person, reason, case, case.known_at)
    elif role in (PartyRole.ACCUSED, PartyRole.CONCERNED, PartyRole.WITNESS, PartyRole.OTHER):
        if role == PartyRole.CONCERNED and case.parties.filter(person=person, role=PartyRole.REPORTER).exists():
            # She raised this concern about herself: nothing was done to her, and a check on
            # every earlier case at each new concern would teach HR to ignore the checks.
            return
        raise_check(None, person, ChangeType.NEW_CASE_PARTY, _today(), "case", skip_case=case)


def _on_case_event(case, actor, action, data):
    if action == "case.measure_added":
        change = ADVERSE_AREAS.get(data.get("area"))
        if change is None:
            return
        for person_id in case.parties.filter(role=PartyRole.CONCERNED).values_list("person_id", flat=True):
            person = Person.objects.get(pk=person_id)
            raise_check(actor, person, change, _today(), "case_measure", skip_case=case)
    elif action == "case.measure_response" and data.get("agrees") is False:
        # In the reporter's own case a measure she disagrees with is checked too.
        for protection in Protection.objects.filter(case=case, starts_on__lte=_today(), ends_on__gte=_today()):
            raise_check(actor, protection.person, ChangeType.OTHER, _today(), "measure_disagreed")


def _before_person_saved(sender, instance, raw=False, **kwargs):
    if raw or instance.pk is None:
        return
    previous = Person.objects.filter(pk=instance.pk).values_list("unit_id", flat=True).first()
    instance._tidsnok_previous_unit = previous


def _after_person_saved(sender, instance, created, raw=False, **kwargs):
    previous = getattr(instance, "_tidsnok_previous_unit", None)
    if raw or created or previous is None or previous == instance.unit_id:
        return
    raise_check(None, instance, ChangeType.PLACE, _today(), "organisation")


def _after_role_saved(sender, instance, created, raw=False, **kwargs):
    """A new manager for a unit is a change of manager for the protected people in it."""
    if raw or not created or instance.role != Role.MANAGER or instance.unit_id is None:
        return
    protected = Protection.objects.filter(
        person__unit_id=instance.unit_id, starts_on__lte=instance.starts_on, ends_on__gte=instance.starts_on
    ).values_list("person_id", flat=True).distinct()
    for person in Person.objects.filter(pk__in=list(protected)):
        raise_check(None, person, ChangeType.MANAGER, instance.starts_on, "organisation")


def _retaliation_triggers(case):
    checks = RetaliationCheck.objects.filter(protection__case=case).values_list("pk", "change_on")
    return {"retaliation_change": [(None, pk, change_on) for pk, change_on in checks]}


def _check_documented(deadline, case, entries):
    for entry in sorted(entries, key=lambda e: (e.occurred_on, e.id)):
        if (entry.kind == EntryKind.RETALIATION_CHECK and entry.data.get("event") == "documented"
                and entry.data.get("check") == deadline.sequence):
            return entry, entry.occurred_on
    return None, None


def checks_visible(user, action="view"):
    """Checks are seen by the handlers of the case they belong to, who know who reported."""
    return RetaliationCheck.objects.filter(case_condition(user, "view", "protection__case__"))


def register_watch():
    hooks.on_party_added.append(_on_party_added)
    hooks.on_case_event.append(_on_case_event)
    hooks.extra_trigger_dates.append(_retaliation_triggers)
    hooks.fulfilment[RULE_ID] = _check_documented
    pre_save.connect(_before_person_saved, sender=Person, dispatch_uid="retaliation_person_pre")
    post_save.connect(_after_person_saved, sender=Person, dispatch_uid="retaliation_person_post")
    post_save.connect(_after_role_saved, sender=RoleAssignment, dispatch_uid="retaliation_role_post")
    register(RetaliationCheck, checks_visible)
