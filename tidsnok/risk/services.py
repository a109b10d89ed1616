"""Changing a unit's risk assessment. Each function is one transaction: it checks access,
changes the rows, writes the audit event and sets the dates the sweep reminds of (the review
date, the measures' due dates), so that what the page shows and what the log says never part.

Errors are ValidationErrors in the user's language, keyed by field; a stale edit raises
StaleVersion and saves nothing.
"""

import logging
from datetime import date, datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, F, IntegerField, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from tidsnok.access.policy import AccessDenied, can, visible
from tidsnok.audit.services import record
from tidsnok.cases.models import Factor, MeasureStatus
from tidsnok.deadlines.queries import calendar_for
from tidsnok.notify import services as notify_services
from tidsnok.org import scope
from tidsnok.org.models import Person, Role, RoleAssignment, Unit
from tidsnok.risk import rules
from tidsnok.risk.policy import edit_unit_ids
from tidsnok.risk.models import (
    Action, Assessment, Comment, Consequence, Likelihood, Method, Participant, ParticipantRole, Risk, Status, Survey,
)
from tidsnok.versioning import StaleVersion, check_and_bump

log = logging.getLogger("tidsnok.risk")

TITLE_MAX = 200
TEXT_MAX = 5000
# notify's longest reminder lead is 20 working days: at most 4 weeks and the holidays in them.
MAX_LEAD_CALENDAR_DAYS = 40
# The notification kinds this room queues; their data holds the assessment's id.
RISK_KINDS = ("risk_action", "risk_action_due", "risk_review", "risk_survey")


def _today() -> date:
    return timezone.localdate()


def _person(actor) -> Person:
    person = scope.person_of(actor)
    if person is None:
        raise AccessDenied("no person")
    return person


def _require(actor, action: str, obj) -> None:
    if not can(actor, action, obj):
        raise AccessDenied(action)


def _audit(actor, action: str, obj, data: dict):
    return record(actor, action, obj, data, role=scope.role_label(actor))


def _text(value, field: str, errors: dict, *, required: bool = True, limit: int = TEXT_MAX) -> str:
    value = (value or "").strip()
    if required and not value:
        errors.setdefault(field, []).append(_("This field is required."))
    elif len(value) > limit:
        errors.setdefault(field, []).append(_("At most %(limit)d characters.") % {"limit": limit})
    return value


def _not_future(value: date | None, field: str, errors: dict) -> None:
    if value is None:
        errors.setdefault(field, []).append(_("This field is required."))
    elif value > _today():
        errors.setdefault(field, []).append(_("The date cannot be in the future."))


def _draft(assessment: Assessment) -> None:
    if assessment.is_completed:
        raise ValidationError({"__all__": [_("The assessment is completed. Start a new one for the next round.")]})


def _fresh(assessment: Assessment, version: int | None) -> Assessment:
    """The assessment as it is now, locked for the change; StaleVersion if the user's copy is old."""
    current = Assessment.objects.select_for_update().get(pk=assessment.pk)
    if version is not None and current.version != version:
        raise StaleVersion()
    return current


def _touch(assessment: Assessment) -> None:
    """A change to its register, plan or ledger is a change to the assessment: the version moves,
    so that someone completing it from an older page is told to reload."""
    Assessment.objects.filter(pk=assessment.pk).update(version=assessment.version + 1)
    assessment.version += 1


# --- who may start one, and where ---------------------------------------------------------------


def startable_units(user):
    """The units the user may start an assessment for, in tree order."""
    person = scope.person_of(user)
    if person is None:
        return Unit.objects.none()
    units = Unit.objects.filter(organisation_id=person.organisation_id)
    editable = edit_unit_ids(user)
    if editable != scope.ALL:
        units = units.filter(pk__in=list(editable))
    return units.order_by("path")


def may_start(user) -> bool:
    return startable_units(user).exists()


# Those who take part in a unit's HMS work by their role, whom anyone assessing it may name.
TAKING_PART_ROLES = [Role.MANAGER, Role.DEPUTY, Role.SAFETY_REP, Role.HR, Role.AMU]


def role_holders(assessment: Assessment, today: date):
    """Active assignments of TAKING_PART_ROLES on the assessment's unit, a unit above it or the
    whole organisation, of people still working there."""
    ancestors = assessment.unit.ancestor_ids
    return (RoleAssignment.objects.active(today)
            .filter(person__organisation_id=assessment.organisation_id, role__in=TAKING_PART_ROLES)
            .filter(Q(unit__isnull=True) | Q(unit_id__in=ancestors))
            .filter(Q(person__end_date__isnull=True) | Q(person__end_date__gte=today)))


def nameable(user, assessment: Assessment):
    """The people the user may name as a measure's owner or a participant: those she may see,
    those who take part in the unit's HMS work by their role (role_holders), and those already in
    the assessment's ledger or plan. Anyone else does not exist for her here: naming would tell
    her who works where."""
    return Person.objects.filter(organisation_id=assessment.organisation_id).filter(
        Q(pk__in=visible(user, Person).values("pk"))
        | Q(pk__in=role_holders(assessment, _today()).values("person_id"))
        | Q(pk__in=Participant.objects.filter(assessment=assessment).values("person_id"))
        | Q(pk__in=Action.objects.filter(assessment=assessment).values("owner_id"))
    )


def _check_nameable(actor, assessment: Assessment, person, field: str, errors: dict) -> None:
    if person is not None and not nameable(actor, assessment).filter(pk=person.pk).exists():
        errors.setdefault(field, []).append(_("Unknown person."))


def factors_of(organisation_id: int):
    return Factor.objects.filter(organisation_id=organisation_id, active=True)


def comment_role(user, assessment: Assessment) -> str:
    """The capacity the user comments in on this assessment."""
    roles = scope.roles_of(user)
    person = scope.person_of(user)
    if Role.SAFETY_REP in roles:
        reps = scope.safety_rep_unit_ids(user)
        if reps == scope.ALL or assessment.unit_id in reps:
            return ParticipantRole.SAFETY_REP
    if can(user, "edit", assessment):
        return ParticipantRole.HR if scope.is_hr(user) else ParticipantRole.MANAGER
    if Role.AMU in roles:
        return ParticipantRole.AMU
    if person is not None and person.unit_id == assessment.unit_id:
        return ParticipantRole.EMPLOYEE
    return ParticipantRole.OTHER


# --- the assessment ------------------------------------------------------------------------------


def _validate_head(title, method, started_on, errors) -> str:
    title = _text(title, "title", errors, limit=TITLE_MAX)
    if method not in Method.values:
        errors.setdefault("method", []).append(_("Choose how the work environment was mapped."))
    _not_future(started_on, "started_on", errors)
    return title


@transaction.atomic
def start_assessment(actor, unit: Unit, *, title: str, method: str, started_on: date) -> Assessment:
    person = _person(actor)
    if not startable_units(actor).filter(pk=unit.pk).exists():
        raise AccessDenied("start")
    errors: dict = {}
    title = _validate_head(title, method, started_on, errors)
    if errors:
        raise ValidationError(errors)
    assessment = Assessment.objects.create(
        organisation_id=unit.organisation_id, unit=unit, title=title, method=method, started_on=started_on,
        created_by=person,
    )
    _audit(actor, "risk.assessment_started", assessment, {
        "unit": unit.pk, "title": title, "method": method, "started_on": started_on,
    })
    return assessment


@transaction.atomic
def update_assessment(actor, assessment: Assessment, version: int, *, title: str, method: str,
                      started_on: date) -> Assessment:
    _require(actor, "edit", assessment)
    current = _fresh(assessment, version)
    _draft(current)
    errors: dict = {}
    title = _validate_head(title, method, started_on, errors)
    if errors:
        raise ValidationError(errors)
    check_and_bump(Assessment, current.pk, version, title=title, method=method, started_on=started_on)
    _audit(actor, "risk.assessment_changed", current, {"title": title, "method": method, "started_on": started_on})
    current.refresh_from_db()
    return current


@transaction.atomic
def complete(actor, assessment: Assessment, version: int, *, summary: str, completed_on: date | None = None,
             review_due: date | None = None) -> Assessment:
    """Complete the round: the conclusion is written, every medium or high risk has a measure,
    employees or their representative took part. The next review is due a year later unless
    the manager sets an earlier date."""
    _require(actor, "edit", assessment)
    current = _fresh(assessment, version)
    _draft(current)
    completed_on = completed_on or _today()
    errors: dict = {}
    summary = _text(summary, "summary", errors, required=False)
    _not_future(completed_on, "completed_on", errors)
    if completed_on and completed_on < current.started_on:
        errors.setdefault("completed_on", []).append(_("The assessment cannot be completed before it started."))
    latest = rules.default_review_due(completed_on)
    review_due = review_due or latest
    if review_due <= completed_on:
        errors.setdefault("review_due", []).append(_("The next review must come after the completion."))
    elif review_due > latest:
        errors.setdefault("review_due", []).append(
            _("Review at the latest %(date)s: the assessment must be repeated regularly (%(basis)s).")
            % {"date": latest.strftime("%d.%m.%Y"), "basis": rules.REVIEW_BASIS}
        )
    risks = list(current.risks.annotate(n=Count("actions")).values_list("likelihood", "consequence", "n"))
    from tidsnok.risk import survey as surveys

    survey = Survey.objects.filter(assessment=current).first()
    if survey is not None and not surveys.is_closed(survey):
        errors.setdefault("__all__", []).append(
            _("The survey is open until %(date)s. Close it first: its results belong in the assessment.")
            % {"date": survey.closes_on.strftime("%d.%m.%Y")})
    problems = rules.completion_problems(
        summary=summary,
        risk_levels=[rules.level(lk, co) for lk, co, _n in risks],
        actions_per_risk=[n for _lk, _co, n in risks],
        participant_roles=list(current.participants.values_list("role", flat=True)),
        survey_answered=surveys.enough_answers(survey),
    )
    if problems:
        errors.setdefault("__all__", []).extend(problems)
    if errors:
        raise ValidationError(errors)
    check_and_bump(Assessment, current.pk, version, status=Status.COMPLETED, summary=summary,
                   completed_on=completed_on, review_due=review_due, review_reminded="")
    _audit(actor, "risk.assessment_completed", current, {
        "completed_on": completed_on, "review_due": review_due, "risks": len(risks),
        "levels": sorted(rules.level(lk, co) for lk, co, _n in risks),
    })
    current.refresh_from_db()
    return current


@transaction.atomic
def set_review_due(actor, assessment: Assessment, version: int, review_due: date) -> Assessment:
    """Move the next review of a completed assessment (earlier, after a change in the unit; or
    later, up to a year after completion)."""
    _require(actor, "edit", assessment)
    current = _fresh(assessment, version)
    if not current.is_completed:
        raise ValidationError({"review_due": [_("The next review is set when the assessment is completed.")]})
    latest = rules.default_review_due(current.completed_on)
    if review_due is None or review_due <= current.completed_on:
        raise ValidationError({"review_due": [_("The next review must come after the completion.")]})
    if review_due > latest:
        raise ValidationError({"review_due": [
            _("Review at the latest %(date)s: the assessment must be repeated regularly (%(basis)s).")
            % {"date": latest.strftime("%d.%m.%Y"), "basis": rules.REVIEW_BASIS}
        ]})
    check_and_bump(Assessment, current.pk, version, review_due=review_due, review_reminded="")
    _audit(actor, "risk.review_moved", current, {"from": current.review_due, "to": review_due})
    current.refresh_from_db()
    return current


# --- the risk register ---------------------------------------------------------------------------


def _validate_risk(assessment, factor_code, description, likelihood, consequence, current_measures, errors):
    factor = None
    if factor_code:
        factor = factors_of(assessment.organisation_id).filter(code=factor_code).first()
        if factor is None:
            errors.setdefault("factor", []).append(_("Unknown factor."))
    description = _text(description, "description", errors)
    if likelihood not in Likelihood.values:
        errors.setdefault("likelihood", []).append(_("Choose how likely it is."))
    if consequence not in Consequence.values:
        errors.setdefault("consequence", []).append(_("Choose how bad it would be."))
    current_measures = _text(current_measures, "current_measures", errors, required=False)
    return factor, description, current_measures


@transaction.atomic
def add_risk(actor, assessment: Assessment, *, factor_code: str | None, description: str, likelihood: int,
             consequence: int, current_measures: str = "") -> Risk:
    _require(actor, "edit", assessment)
    current = _fresh(assessment, None)
    _draft(current)
    errors: dict = {}
    factor, description, current_measures = _validate_risk(
        current, factor_code, description, likelihood, consequence, current_measures, errors)
    if errors:
        raise ValidationError(errors)
    risk = Risk.objects.create(assessment=current, factor=factor, description=description, likelihood=likelihood,
                               consequence=consequence, current_measures=current_measures)
    _touch(current)
    _audit(actor, "risk.risk_added", risk, {
        "assessment": current.pk, "factor": factor.code if factor else "", "description": description,
        "likelihood": likelihood, "consequence": consequence, "level": rules.level(likelihood, consequence),
    })
    return risk


@transaction.atomic
def update_risk(actor, risk: Risk, version: int, *, factor_code: str | None, description: str, likelihood: int,
                consequence: int, current_measures: str = "") -> Risk:
    assessment = risk.assessment
    _require(actor, "edit", assessment)
    current = _fresh(assessment, None)
    _draft(current)
    errors: dict = {}
    factor, description, current_measures = _validate_risk(
        current, factor_code, description, likelihood, consequence, current_measures, errors)
    if errors:
        raise ValidationError(errors)
    check_and_bump(Risk, risk.pk, version, factor=factor, description=description, likelihood=likelihood,
                   consequence=consequence, current_measures=current_measures)
    _touch(current)
    _audit(actor, "risk.risk_changed", risk, {
        "assessment": current.pk, "factor": factor.code if factor else "", "description": description,
        "likelihood": likelihood, "consequence": consequence, "level": rules.level(likelihood, consequence),
    })
    risk.refresh_from_db()
    return risk


@transaction.atomic
def remove_risk(actor, risk: Risk) -> None:
    """Take a risk out of a draft register (entered by mistake); its measures stay in the plan."""
    assessment = risk.assessment
    _require(actor, "edit", assessment)
    current = _fresh(assessment, None)
    _draft(current)
    _audit(actor, "risk.risk_removed", risk, {"assessment": current.pk})
    risk.delete()
    _touch(current)


# --- the action plan ----------------------------------------------------------------------------


def _validate_owner(assessment, owner, errors) -> None:
    today = _today()
    if owner is None:
        errors.setdefault("owner", []).append(_("Choose who owns the measure."))
    elif owner.organisation_id != assessment.organisation_id or (owner.end_date and owner.end_date < today):
        errors.setdefault("owner", []).append(_("Choose someone who works here."))


@transaction.atomic
def add_action(actor, assessment: Assessment, *, what: str, owner: Person, due: date, risk: Risk | None = None) -> Action:
    """A measure in the action plan. It may be added after completion too: a measure found
    while following the plan up belongs in the same plan."""
    _require(actor, "edit", assessment)
    current = _fresh(assessment, None)
    errors: dict = {}
    what = _text(what, "what", errors)
    _validate_owner(current, owner, errors)
    _check_nameable(actor, current, owner, "owner", errors)
    if due is None:
        errors.setdefault("due", []).append(_("This field is required."))
    elif due < current.started_on:
        errors.setdefault("due", []).append(_("The due date cannot be before the assessment started."))
    if risk is not None and risk.assessment_id != current.pk:
        errors.setdefault("risk", []).append(_("Choose a risk of this assessment."))
    if errors:
        raise ValidationError(errors)
    action = Action.objects.create(assessment=current, risk=risk, what=what, owner=owner, due=due)
    _touch(current)
    _audit(actor, "risk.action_added", action, {
        "assessment": current.pk, "risk": risk.pk if risk else None, "what": what, "owner": owner.pk, "due": due,
    })
    if owner.user_id and owner.user_id != actor.pk:
        notify_services.queue(owner.user, "risk_action", f"risk_action:{action.pk}",
                              data={"assessment_id": current.pk, "due": due.isoformat()})
    return action


@transaction.atomic
def update_action(actor, action: Action, version: int, **changes) -> Action:
    """Change a measure: its text, owner or due date (those who change the assessment), or its
    status (they and its owner). Cancelling needs a reason; done records the day."""
    allowed_status = {"status", "cancel_reason"}
    if not changes:
        return action
    unknown = set(changes) - {"what", "owner", "due", "risk", "status", "cancel_reason"}
    if unknown:
        raise ValidationError({k: [_("This field cannot be changed.")] for k in unknown})
    needed = "status" if set(changes) <= allowed_status else "edit"
    if not visible(actor, Action, needed).filter(pk=action.pk).exists():
        raise AccessDenied(needed)
    assessment = _fresh(action.assessment, None)
    current = Action.objects.select_for_update().get(pk=action.pk)
    if current.version != version:
        raise StaleVersion()
    errors: dict = {}
    fields: dict = {}
    if "what" in changes:
        fields["what"] = _text(changes["what"], "what", errors)
    if "owner" in changes:
        _validate_owner(assessment, changes["owner"], errors)
        _check_nameable(actor, assessment, changes["owner"], "owner", errors)
        fields["owner"] = changes["owner"]
    if "due" in changes:
        if changes["due"] is None:
            errors.setdefault("due", []).append(_("This field is required."))
        elif changes["due"] < assessment.started_on:
            errors.setdefault("due", []).append(_("The due date cannot be before the assessment started."))
        else:
            fields["due"] = changes["due"]
            if changes["due"] != current.due:
                fields["reminded"] = ""  # a new date earns its own reminders
    if "risk" in changes:
        risk = changes["risk"]
        if risk is not None and risk.assessment_id != assessment.pk:
            errors.setdefault("risk", []).append(_("Choose a risk of this assessment."))
        fields["risk"] = risk
    status = changes.get("status", current.status)
    if status not in MeasureStatus.values:
        errors.setdefault("status", []).append(_("Unknown status."))
    reason = _text(changes.get("cancel_reason", current.cancel_reason), "cancel_reason", errors, required=False)
    if status == MeasureStatus.CANCELLED and not reason:
        errors.setdefault("cancel_reason", []).append(_("Say why the measure is cancelled."))
    if errors:
        raise ValidationError(errors)
    if "status" in changes:
        fields["status"] = status
        fields["cancel_reason"] = reason if status == MeasureStatus.CANCELLED else ""
        if status == MeasureStatus.DONE and current.status != MeasureStatus.DONE:
            fields["done_on"] = _today()
        elif status != MeasureStatus.DONE:
            fields["done_on"] = None
    check_and_bump(Action, current.pk, version, **fields)
    _touch(assessment)
    data = {"assessment": assessment.pk}
    for name, value in fields.items():
        if name in ("owner", "risk"):
            value = value.pk if value is not None else None
        if name == "cancel_reason":
            name = "reason"  # a free text: the log keeps its fingerprint only (audit.SENSITIVE_KEYS)
        if name != "reminded":
            data[name] = value
    _audit(actor, "risk.action_changed", current, data)
    owner = fields.get("owner")
    if owner is not None and owner.pk != current.owner_id and owner.user_id and owner.user_id != actor.pk:
        notify_services.queue(owner.user, "risk_action", f"risk_action:{current.pk}:owner:{owner.pk}",
                              data={"assessment_id": assessment.pk, "due": fields.get("due", current.due).isoformat()})
    current.refresh_from_db()
    return current


# --- participation ------------------------------------------------------------------------------


@transaction.atomic
def add_participant(actor, assessment: Assessment, *, person: Person, role: str, took_part_on: date) -> Participant:
    """Record in the ledger that someone took part (a workshop, a survey round, a meeting)."""
    _require(actor, "edit", assessment)
    current = _fresh(assessment, None)
    _draft(current)
    errors: dict = {}
    if person is None or person.organisation_id != current.organisation_id:
        errors.setdefault("person", []).append(_("Choose someone who works here."))
    else:
        _check_nameable(actor, current, person, "person", errors)
    if role not in ParticipantRole.values:
        errors.setdefault("role", []).append(_("Choose in what capacity they took part."))
    _not_future(took_part_on, "took_part_on", errors)
    if errors:
        raise ValidationError(errors)
    try:
        with transaction.atomic():
            participant = Participant.objects.create(assessment=current, person=person, role=role,
                                                     took_part_on=took_part_on)
    except IntegrityError:
        raise ValidationError({"person": [_("%(name)s is already recorded as taking part in this capacity.")
                                          % {"name": person.name}]})
    _touch(current)
    _audit(actor, "risk.participant_added", participant, {
        "assessment": current.pk, "person": person.pk, "role": role, "took_part_on": took_part_on,
    })
    return participant


@transaction.atomic
def remove_participant(actor, participant: Participant) -> None:
    assessment = participant.assessment
    _require(actor, "edit", assessment)
    current = _fresh(assessment, None)
    _draft(current)
    _audit(actor, "risk.participant_removed", participant, {
        "assessment": current.pk, "person": participant.person_id, "role": participant.role,
    })
    participant.delete()
    _touch(current)


@transaction.atomic
def add_comment(actor, assessment: Assessment, text: str) -> Comment:
    """An employee's, a safety representative's or the AMU's say on the assessment (participation):
    kept beside it and shown with it, also after completion."""
    _require(actor, "view", assessment)
    if Assessment.objects.filter(pk=assessment.pk, restricted_at__isnull=False).exists():
        # HR in scope still reads it; it is kept as it was.
        raise ValidationError({"__all__": [_("This assessment is restricted by the retention rules: it can be read, "
                                             "not changed.")]})
    person = _person(actor)
    errors: dict = {}
    text = _text(text, "text", errors)
    if errors:
        raise ValidationError(errors)
    comment = Comment.objects.create(assessment=assessment, author=person, role=comment_role(actor, assessment),
                                     text=text)
    _audit(actor, "risk.comment_added", comment, {"assessment": assessment.pk, "role": comment.role})
    return comment


# --- reading ------------------------------------------------------------------------------------


def latest_by_unit(user):
    """For the lists: the visible assessments, newest first, with their counts of risks and open
    measures. The counts are subqueries, not joins: two joins would multiply each other, and a
    grouped query would aggregate every visible assessment before the page is cut."""
    risks = Risk.objects.filter(assessment=OuterRef("pk")).order_by().values("assessment").annotate(n=Count("pk"))
    open_actions = (Action.objects.filter(assessment=OuterRef("pk"), status__in=[MeasureStatus.PLANNED,
                                                                                MeasureStatus.IN_PROGRESS])
                    .order_by().values("assessment").annotate(n=Count("pk")))
    return (visible(user, Assessment).select_related("unit")
            .annotate(risk_count=Coalesce(Subquery(risks.values("n"), output_field=IntegerField()), 0),
                      open_actions=Coalesce(Subquery(open_actions.values("n"), output_field=IntegerField()), 0))
            .order_by("-started_on", "-pk"))


def reviews_due(user, today: date, units):
    """Completed assessments of `units` (ids) the user may change whose next review is due within
    the notice or overdue, the earliest first. One a newer round of its unit has replaced is left
    out, as remind_due leaves out its reminder."""
    newer = (Assessment.objects.filter(unit_id=OuterRef("unit_id"), started_on__gte=OuterRef("completed_on"))
             .exclude(pk=OuterRef("pk")))
    return (visible(user, Assessment, "edit")
            .filter(unit_id__in=sorted(units), status=Status.COMPLETED,
                    review_due__lte=today + timedelta(days=rules.REVIEW_NOTICE_DAYS))
            .exclude(Exists(newer)).select_related("unit").order_by("review_due", "pk"))


def open_actions_of(person: Person):
    """The open measures of action plans a person owns (Min oversikt)."""
    return (Action.objects.filter(owner=person, status__in=[MeasureStatus.PLANNED, MeasureStatus.IN_PROGRESS],
                                  assessment__restricted_at__isnull=True)
            .select_related("assessment__unit").order_by("due", "pk"))


# --- reminders (the sweep) -----------------------------------------------------------------------


def remind_due(worker: str = "") -> int:
    """Sweep upkeep: remind owners of measures due soon or overdue, and a unit's managers of a
    review due within a month or overdue. Each reminder once: the row is claimed by a
    conditional UPDATE, so two sweep workers never both send it."""
    from tidsnok.org.models import User

    today = _today()
    sent = 0
    # Only rows that still need a reminder: not yet told it is overdue, and not already told it
    # is coming while it still is. The horizon is the longest lead an organisation may choose.
    horizon = today + timedelta(days=MAX_LEAD_CALENDAR_DAYS)
    actions = (Action.objects.filter(status__in=[MeasureStatus.PLANNED, MeasureStatus.IN_PROGRESS],
                                     owner__user__isnull=False, due__lte=horizon,
                                     assessment__restricted_at__isnull=True)
               .exclude(Q(reminded="overdue") | Q(reminded="before", due__gte=today))
               .select_related("owner__user", "assessment").order_by("due", "pk"))
    until: dict[int, date | None] = {}
    for action in actions.iterator(chunk_size=500):
        org_id = action.assessment.organisation_id
        if org_id not in until:
            lead = notify_services.org_settings(org_id).reminder_lead_days
            until[org_id] = calendar_for(org_id).add_working_days(today, lead) if lead else None
        stage = rules.action_stage(action.due, today, until[org_id])
        if not stage or stage == action.reminded:
            continue
        with transaction.atomic():
            if not Action.objects.filter(pk=action.pk, reminded=action.reminded).update(reminded=stage):
                continue
            notify_services.queue(action.owner.user, "risk_action_due",
                                  f"risk_action:{action.pk}:{stage}:{action.due.isoformat()}:{action.owner.user_id}",
                                  data={"assessment_id": action.assessment_id, "stage": stage,
                                        "due": action.due.isoformat()})
            sent += 1
    reviews = (Assessment.objects.filter(status=Status.COMPLETED,
                                         review_due__lte=today + timedelta(days=rules.REVIEW_NOTICE_DAYS))
               .exclude(Q(review_reminded="overdue") | Q(review_reminded="before", review_due__gte=today))
               .select_related("unit").order_by("review_due", "pk"))
    for assessment in reviews.iterator(chunk_size=500):
        stage = rules.review_stage(assessment.review_due, today)
        if not stage or stage == assessment.review_reminded:
            continue
        with transaction.atomic():
            # A newer round for the unit since this one was completed: that round's review counts.
            newer = (Assessment.objects.filter(unit_id=assessment.unit_id, started_on__gte=assessment.completed_on)
                     .exclude(pk=assessment.pk).exists())
            claimed = Assessment.objects.filter(pk=assessment.pk, review_reminded=assessment.review_reminded).update(
                review_reminded="overdue" if newer else stage)
            if not claimed or newer:
                continue
            managers = scope.managers_of_unit(assessment.unit, today)
            for user in User.objects.filter(pk__in=[m.user_id for m in managers if m.user_id], is_active=True):
                # The user in the key: the outbox's key is unique across users (each her own e-mail).
                notify_services.queue(user, "risk_review", f"risk_review:{assessment.pk}:{stage}:{user.pk}",
                                      data={"assessment_id": assessment.pk, "stage": stage,
                                            "due": assessment.review_due.isoformat()})
                sent += 1
    if sent:
        log.info("risk reminders: %d", sent)
    return sent


# --- retention (the retention room decides which, and writes the audit event) -------------------


def replaced_before(organisation, cutoff: date, *, unrestricted_only: bool = False, among=None) -> list[int]:
    """Completed assessments that a later completed assessment of the same unit replaced before
    `cutoff` (the successor's completion day). The unit's latest completed assessment is never
    reached, nor is a draft."""
    successor = Assessment.objects.filter(
        unit_id=OuterRef("unit_id"), status=Status.COMPLETED, completed_on__lt=cutoff,
    ).filter(Q(completed_on__gt=OuterRef("completed_on")) | Q(completed_on=OuterRef("completed_on"), pk__gt=OuterRef("pk")))
    found = Assessment.objects.filter(organisation=organisation, status=Status.COMPLETED).filter(Exists(successor))
    if unrestricted_only:
        found = found.filter(restricted_at__isnull=True)
    if among is not None:
        found = found.filter(pk__in=list(among))
    return list(found.order_by("pk").values_list("pk", flat=True))


def delete_assessments(organisation, ids) -> int:
    """Delete assessments with their register, action plan, participants, comments and survey, and
    the notifications and e-mails about them."""
    ids = list(Assessment.objects.filter(organisation=organisation, pk__in=list(ids)).values_list("pk", flat=True))
    notify_services.delete_by_data(RISK_KINDS, "assessment_id", ids)
    Assessment.objects.filter(pk__in=ids).delete()  # the rest cascades
    return len(ids)


def restrict_assessments(organisation, ids, now) -> int:
    return Assessment.objects.filter(organisation=organisation, pk__in=list(ids), restricted_at__isnull=True).update(
        restricted_at=now, version=F("version") + 1)


# --- figures for the organisation's yearly report (reports.yearly) ------------------------------


def year_counts(organisation_id: int, first: date, last: date, today: date) -> dict[str, int]:
    """Assessments completed and measures of action plans added and done in the period, and the
    measures open and overdue today: counts only, over the whole organisation."""
    start = timezone.make_aware(datetime.combine(first, time.min))
    after = timezone.make_aware(datetime.combine(last + timedelta(days=1), time.min))
    open_statuses = [MeasureStatus.PLANNED, MeasureStatus.IN_PROGRESS]
    assessments = Assessment.objects.filter(organisation_id=organisation_id).aggregate(
        completed=Count("pk", filter=Q(status=Status.COMPLETED, completed_on__gte=first, completed_on__lte=last)),
        started=Count("pk", filter=Q(started_on__gte=first, started_on__lte=last)),
    )
    actions = Action.objects.filter(assessment__organisation_id=organisation_id).aggregate(
        added=Count("pk", filter=Q(created_at__gte=start, created_at__lt=after)),
        done=Count("pk", filter=Q(status=MeasureStatus.DONE, done_on__gte=first, done_on__lte=last)),
        open=Count("pk", filter=Q(status__in=open_statuses, assessment__restricted_at__isnull=True)),
        overdue=Count("pk", filter=Q(status__in=open_statuses, due__lt=today, assessment__restricted_at__isnull=True)),
    )
    return {**assessments, **{f"actions_{key}": value for key, value in actions.items()}}
