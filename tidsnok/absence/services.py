"""State changes of sick-leave follow-up. Each is one transaction: access check,
state change, an entry on the case's timeline, the audit event, and the spine's
escalation and deadlines recomputed."""

from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date
from typing import NamedTuple

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone
from django.utils.translation import gettext as _

from tidsnok.absence import rules
from tidsnok.absence.models import (
    AbsenceSettings,
    Certification,
    DialogueMeeting,
    Episode,
    FollowUpPlan,
    GradePeriod,
    MeetingKind,
    MeetingRequest,
    PlanSending,
    PlanVersion,
    Recipient,
    RecurrenceFlag,
    WorkRelated,
)
from tidsnok.access.policy import AccessDenied, can, visible
from tidsnok.audit.services import record
from tidsnok.cases import services as case_services
from tidsnok.cases.models import Case, EntryKind, Factor, Kind, PartyRole, Source, Status, Visibility
from tidsnok.org import scope
from tidsnok.org.models import Person
from tidsnok.versioning import StaleVersion, check_and_bump

MEETING_PARTICIPANTS = ("employee", "manager", "doctor", "safety_rep", "occupational_health", "nav")


def _today() -> date:
    return timezone.localdate()


# Lookups that cannot change while one import runs (the actor's roles and the
# people she may see, the organisation's settings) are made once per run inside
# `one_run()`; outside it every call looks them up afresh.
_run: ContextVar[dict | None] = ContextVar("absence_run", default=None)


@contextmanager
def one_run():
    """Make the lookups above once for a batch of service calls (an import)."""
    token = _run.set({})
    try:
        yield
    finally:
        _run.reset(token)


_role = scope.role_label  # the roles are cached on the user object (org.scope)


def _sees_person(actor, person: Person) -> bool:
    memo = _run.get()
    if memo is None:
        return visible(actor, Person).filter(pk=person.pk).exists()
    key = ("people", actor.pk)
    if key not in memo:
        memo[key] = frozenset(visible(actor, Person).values_list("pk", flat=True))
    return person.pk in memo[key]


def _may_manage_absence(actor, person: Person) -> bool:
    """Managers of the person, HR in scope, and administrators (imports) register absence."""
    if actor is None:
        return True
    if scope.person_of(actor) == person and not scope.is_admin(actor):
        return False
    if not _sees_person(actor, person):
        return False
    return bool(scope.managed_unit_ids(actor)) or scope.is_hr(actor) or scope.is_admin(actor)


def _settings(organisation_id: int) -> AbsenceSettings:
    memo = _run.get()
    if memo is not None and ("settings", organisation_id) in memo:
        return memo[("settings", organisation_id)]
    row, _created = AbsenceSettings.objects.get_or_create(organisation_id=organisation_id)
    if memo is not None:
        memo[("settings", organisation_id)] = row
    return row


class Known(NamedTuple):
    """One of the person's registered episodes, as the checks below need it."""

    pk: int
    start: date
    end: date | None
    period_start: date
    case_id: int | None


def _person_episodes(person, exclude_pk=None) -> list[Known]:
    """The person's episodes, oldest first: one read serves the overlap check,
    the employer period, the open case of the period and the recurrence check."""
    rows = Episode.objects.filter(person=person).order_by("start")
    if exclude_pk is not None:
        rows = rows.exclude(pk=exclude_pk)
    return [Known(*row) for row in rows.values_list("pk", "start", "end", "period_start", "case_id")]


def _validate_episode(person, start, end, grade, certified, work_related, errors, exclude_pk=None, known=None):
    if start is None:
        errors.setdefault("start", []).append(_("Give the first day of absence."))
    if end is not None and start is not None and end < start:
        errors.setdefault("end", []).append(_("The last day cannot be before the first day."))
    if grade is None or not 1 <= int(grade) <= 100:
        errors.setdefault("grade", []).append(_("The grade is a percentage from 1 to 100."))
    if certified not in Certification.values:
        errors.setdefault("certified", []).append(_("Choose self-certified or doctor-certified."))
    if work_related not in WorkRelated.values:
        errors.setdefault("work_related", []).append(_("Choose whether the absence is work-related."))
    if start is not None and not errors.get("end"):
        if known is None:
            known = _person_episodes(person, exclude_pk)
        if any((e.end is None or e.end >= start) and (end is None or e.start <= end)
               for e in known if e.pk != exclude_pk):
            errors.setdefault("start", []).append(_("The absence overlaps another registered absence for this person."))


def _earlier(person, before_pk=None, known=None):
    rows = known if known is not None else _person_episodes(person, before_pk)
    return [(e.start, e.end, e.period_start) for e in rows if e.pk != before_pk]


def _summary(episode: Episode, grades=None) -> dict:
    if grades is None:
        grades = list(episode.grades.values_list("from_date", "grade"))
    return {
        "episode": episode.pk, "start": episode.start.isoformat(), "end": episode.end.isoformat() if episode.end else None,
        "grades": [[d.isoformat(), g] for d, g in grades], "certified": episode.certified,
        "work_related": episode.work_related,
    }


def _case_for_period(episode: Episode, known=None) -> Case | None:
    """The open follow-up case of the same employer period, if there is one.
    With the person's episodes at hand (`known`), only their cases are looked at."""
    cases = Case.objects.filter(kind=Kind.SICK_LEAVE, status=Status.OPEN)
    if known is not None:
        ids = {e.case_id for e in known if e.case_id and e.period_start == episode.period_start}
        if not ids:
            return None
        cases = cases.filter(pk__in=ids)
    else:
        cases = cases.filter(absence_episodes__person=episode.person,
                             absence_episodes__period_start=episode.period_start)
    return cases.order_by("-created_at").first()


_LOOK_UP = object()


def _open_or_continue_case(actor, episode: Episode, case=_LOOK_UP) -> Case:
    if case is _LOOK_UP:
        case = _case_for_period(episode)
    if case is None:
        case = case_services.create_case(
            actor, episode.organisation_id, kind=Kind.SICK_LEAVE, concerns=[episode.person],
            source=Source.SICK_LEAVE, known_at=min(episode.period_start, _today()),
            refresh=False,  # every caller refreshes once the episode is linked
        )
        FollowUpPlan.objects.create(case=case)  # a new case has no plan yet
    Episode.objects.filter(pk=episode.pk).update(case=case)
    episode.case = case
    return case


def _put_on_timeline(actor, episode: Episode, event: str, grades=None):
    if episode.case_id is None:
        return
    case_services.record_entry(
        actor, episode.case, kind=EntryKind.ABSENCE, occurred_on=min(episode.start, _today()),
        data={"event": event, **_summary(episode, grades)}, visibility=Visibility.SHARED,
    )


def _check_recurrence(actor, episode: Episode, starts=None) -> RecurrenceFlag | None:
    """`starts`: the first days of all the person's episodes, this one included, when at hand."""
    settings = _settings(episode.organisation_id)
    if starts is None:
        starts = list(Episode.objects.filter(person=episode.person).values_list("start", flat=True))
    on = episode.start
    if not rules.frequent_absence(starts, on, settings.frequent_episodes, settings.frequent_window_months):
        return None
    window_start = rules.frequent_window_start(on, settings.frequent_window_months)
    if RecurrenceFlag.objects.filter(person=episode.person, raised_on__gte=window_start, handled_on__isnull=True).exists():
        return None
    count = sum(1 for s in starts if window_start < s <= on)
    flag = RecurrenceFlag.objects.create(
        organisation_id=episode.organisation_id, person=episode.person, raised_on=_today(),
        episodes=count, window_start=window_start,
    )
    record(actor, "absence.frequent_flagged", flag, {"person": episode.person_id, "episodes": count}, role=_role(actor))
    return flag


@transaction.atomic
def register_episode(actor, *, person: Person, start: date, end: date | None = None, grade: int = 100,
                     certified: str, work_related: str = WorkRelated.NO, factors: list[str] = (),
                     open_case: bool = False, external_id: str = "") -> Episode:
    """Register an absence episode. A doctor-certified one longer than the employer
    period, or any the manager chooses, opens (or continues) a follow-up case."""
    if not _may_manage_absence(actor, person):
        raise AccessDenied("register_episode")
    errors: dict[str, list[str]] = {}
    known = _person_episodes(person)
    _validate_episode(person, start, end, grade, certified, work_related, errors, known=known)
    if errors:
        raise ValidationError(errors)
    period_start = rules.period_start_for(start, _earlier(person, known=known))
    episode = Episode.objects.create(
        organisation_id=person.organisation_id, person=person, start=start, end=end, certified=certified,
        work_related=work_related, period_start=period_start, external_id=external_id,
    )
    if factors:
        episode.work_related_factors.set(Factor.objects.filter(organisation_id=person.organisation_id, code__in=list(factors)))
    GradePeriod.objects.create(episode=episode, from_date=start, grade=int(grade))
    grades = [(start, int(grade))]
    existing_case = _case_for_period(episode, known)
    if open_case or existing_case is not None or rules.needs_follow_up_case(certified, period_start, end, _today()):
        _open_or_continue_case(actor, episode, existing_case)
    record(actor, "absence.episode_registered", episode, _summary(episode, grades), role=_role(actor))
    _put_on_timeline(actor, episode, "registered", grades)
    _check_recurrence(actor, episode, [e.start for e in known] + [start])
    if episode.case_id:
        case_services.refresh_case(episode.case, actor)
    return episode


def _may_edit(actor, episode: Episode) -> bool:
    return _may_manage_absence(actor, episode.person)


@transaction.atomic
def update_episode(actor, episode: Episode, version: int, **changes) -> Episode:
    """Change the last day, certification or work-relatedness; `version` guards against lost updates."""
    if not _may_edit(actor, episode):
        raise AccessDenied("update_episode")
    allowed = {"end", "certified", "work_related", "start"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValidationError({k: [_("This field cannot be changed.")] for k in unknown})
    current = Episode.objects.get(pk=episode.pk)
    if current.version != version:
        raise StaleVersion()
    start = changes.get("start", current.start)
    end = changes.get("end", current.end)
    errors: dict[str, list[str]] = {}
    grade = current.grades.order_by("-from_date").values_list("grade", flat=True).first() or 100
    _validate_episode(current.person, start, end, grade, changes.get("certified", current.certified),
                      changes.get("work_related", current.work_related), errors, exclude_pk=current.pk)
    if errors:
        raise ValidationError(errors)
    fields = dict(changes)
    if "start" in changes:
        fields["period_start"] = rules.period_start_for(start, _earlier(current.person, before_pk=current.pk))
        GradePeriod.objects.filter(episode=current, from_date__lt=start).update(from_date=start)
    check_and_bump(Episode, episode.pk, version, **fields)
    episode.refresh_from_db()
    if episode.case_id is None and rules.needs_follow_up_case(episode.certified, episode.period_start, episode.end, _today()):
        _open_or_continue_case(actor, episode)
    changed = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in changes.items()}
    record(actor, "absence.episode_changed", episode, {"changed": changed}, role=_role(actor))
    _put_on_timeline(actor, episode, "changed")
    if episode.case_id:
        case_services.refresh_case(episode.case, actor)
    return episode


@transaction.atomic
def set_grade(actor, episode: Episode, version: int, *, from_date: date, grade: int) -> Episode:
    """The grade changes from a date on (for example from 50 % to 100 %)."""
    if not _may_edit(actor, episode):
        raise AccessDenied("set_grade")
    errors = {}
    if not 1 <= int(grade) <= 100:
        errors["grade"] = [_("The grade is a percentage from 1 to 100.")]
    if from_date < episode.start or (episode.end is not None and from_date > episode.end):
        errors["from_date"] = [_("The date must lie within the absence.")]
    if errors:
        raise ValidationError(errors)
    check_and_bump(Episode, episode.pk, version)
    GradePeriod.objects.update_or_create(episode=episode, from_date=from_date, defaults={"grade": int(grade)})
    episode.refresh_from_db()
    record(actor, "absence.grade_changed", episode, {"from_date": from_date, "grade": int(grade)}, role=_role(actor))
    _put_on_timeline(actor, episode, "grade_changed")
    if episode.case_id:
        case_services.refresh_case(episode.case, actor)
    return episode


@transaction.atomic
def mark_work_related(actor, episode: Episode, version: int, *, level: str, factors: list[str] = ()) -> Episode:
    """The manager, or the employee herself, marks the absence as work-related,
    fully or in part, with the factors involved. Then the job must change:
    the case needs a job-side measure."""
    own = scope.person_of(actor) == episode.person
    if not own and not _may_edit(actor, episode):
        raise AccessDenied("mark_work_related")
    if level not in WorkRelated.values:
        raise ValidationError({"work_related": [_("Choose whether the absence is work-related.")]})
    check_and_bump(Episode, episode.pk, version, work_related=level)
    episode.refresh_from_db()
    episode.work_related_factors.set(Factor.objects.filter(organisation_id=episode.organisation_id, code__in=list(factors)))
    if level != WorkRelated.NO and episode.case_id is None:
        _open_or_continue_case(actor, episode)
    record(actor, "absence.work_related_marked", episode, {"level": level, "factors": sorted(factors)}, role=_role(actor))
    _put_on_timeline(actor, episode, "work_related")
    if episode.case_id:
        case_services.refresh_case(episode.case, actor)
    return episode


# --- follow-up plan -----------------------------------------------------------------------------


def _require_case(actor, case: Case, action="edit"):
    if case.kind != Kind.SICK_LEAVE or not can(actor, action, case):
        raise AccessDenied(action)


@transaction.atomic
def save_plan(actor, case: Case, *, work_tasks_and_capacity: str, employer_measures: str, further_follow_up: str,
              assisted_measures: str = "", made_on: date | None = None, expected_version: int | None = None) -> PlanVersion:
    """A new version of the follow-up plan. Old versions are kept as they were."""
    _require_case(actor, case)
    errors = {}
    for field, value, message in (
        ("work_tasks_and_capacity", work_tasks_and_capacity, _("Describe the work tasks and the work capacity.")),
        ("employer_measures", employer_measures, _("Describe the adaptation and measures by the employer.")),
        ("further_follow_up", further_follow_up, _("Describe the plan for further follow-up.")),
    ):
        if not (value or "").strip():
            errors[field] = [message]
    made_on = made_on or _today()
    if made_on > _today():
        errors["made_on"] = [_("The date cannot be in the future.")]
    if errors:
        raise ValidationError(errors)
    plan, _created = FollowUpPlan.objects.get_or_create(case=case)
    if expected_version is not None:
        check_and_bump(FollowUpPlan, plan.pk, expected_version)
    number = (plan.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    version = PlanVersion.objects.create(
        plan=plan, number=number, work_tasks_and_capacity=work_tasks_and_capacity,
        employer_measures=employer_measures, assisted_measures=assisted_measures,
        further_follow_up=further_follow_up, made_on=made_on, created_by=scope.person_of(actor),
    )
    case_services.record_entry(actor, case, kind=EntryKind.PLAN, occurred_on=made_on,
                               data={"plan_version": number}, visibility=Visibility.SHARED)
    record(actor, "absence.plan_saved", version, {"case": case.pk, "number": number, "text": work_tasks_and_capacity},
           role=_role(actor))
    case_services.refresh_case(case, actor)
    return version


@transaction.atomic
def respond_to_plan(actor, version: PlanVersion, *, approves: bool, comment: str = "") -> PlanVersion:
    """The employee approves the plan or disagrees, with her comment."""
    case = version.plan.case
    person = scope.person_of(actor)
    if person is None or not case.parties.filter(person=person, role=PartyRole.CONCERNED).exists():
        raise AccessDenied("respond_to_plan")
    if not approves and not (comment or "").strip():
        raise ValidationError({"comment": [_("Say what you disagree with.")]})
    response = "approved" if approves else "disagreed"
    PlanVersion.objects.filter(pk=version.pk).update(
        employee_response=response, employee_comment=comment, employee_responded_at=timezone.now()
    )
    version.refresh_from_db()
    case_services.record_entry(actor, case, kind=EntryKind.PLAN_RESPONSE, occurred_on=_today(), text=comment,
                               data={"plan_version": version.number, "response": response},
                               visibility=Visibility.SHARED, about=person)
    record(actor, "absence.plan_response", version, {"case": case.pk, "response": response, "comment": comment},
           role=_role(actor))
    case_services.refresh_case(case, actor)
    return version


@transaction.atomic
def record_employee_absent(actor, version: PlanVersion, reason: str) -> PlanVersion:
    """The manager records that the employee did not take part in the plan, and why."""
    case = version.plan.case
    _require_case(actor, case)
    if not (reason or "").strip():
        raise ValidationError({"reason": [_("Say why the employee did not take part.")]})
    PlanVersion.objects.filter(pk=version.pk).update(employee_absent_reason=reason)
    version.refresh_from_db()
    case_services.record_entry(actor, case, kind=EntryKind.PLAN_RESPONSE, occurred_on=_today(), text=reason,
                               data={"plan_version": version.number, "response": "did_not_take_part"})
    record(actor, "absence.plan_employee_absent", version, {"case": case.pk, "reason": reason}, role=_role(actor))
    return version


@transaction.atomic
def record_plan_sent(actor, version: PlanVersion, *, recipient: str, sent_on: date) -> PlanSending:
    """When and to whom the plan was sent: this is what meets the deadline."""
    case = version.plan.case
    _require_case(actor, case)
    errors = {}
    if recipient not in Recipient.values:
        errors["recipient"] = [_("Choose who the plan was sent to.")]
    if sent_on is None or sent_on > _today():
        errors["sent_on"] = [_("Give the date it was sent (not in the future).")]
    elif sent_on < version.made_on:
        errors["sent_on"] = [_("The plan cannot be sent before it was made.")]
    if errors:
        raise ValidationError(errors)
    sending = PlanSending.objects.create(version=version, recipient=recipient, sent_on=sent_on,
                                         recorded_by=scope.person_of(actor))
    case_services.record_entry(actor, case, kind=EntryKind.PLAN_SENT, occurred_on=sent_on,
                               data={"plan_version": version.number, "recipient": recipient})
    record(actor, "absence.plan_sent", sending, {"case": case.pk, "recipient": recipient, "sent_on": sent_on},
           role=_role(actor))
    case_services.refresh_case(case, actor)
    return sending


# --- dialogue meetings --------------------------------------------------------------------------


@transaction.atomic
def invite_meeting(actor, case: Case, *, kind: str, planned_on: date, participants: list[str]) -> DialogueMeeting:
    _require_case(actor, case)
    errors = {}
    if kind not in MeetingKind.values:
        errors["kind"] = [_("Choose which dialogue meeting.")]
    if planned_on is None:
        errors["planned_on"] = [_("Give the date of the meeting.")]
    unknown = [p for p in participants if p not in MEETING_PARTICIPANTS]
    if unknown:
        errors["participants"] = [_("Unknown participant.")]
    if "employee" not in participants or "manager" not in participants:
        errors.setdefault("participants", []).append(_("The employee and the manager take part in a dialogue meeting."))
    if errors:
        raise ValidationError(errors)
    meeting = DialogueMeeting.objects.create(case=case, kind=kind, planned_on=planned_on, participants=sorted(set(participants)))
    case_services.record_entry(actor, case, kind=EntryKind.MEETING, occurred_on=_today(),
                               data={"meeting": meeting.pk, "meeting_kind": kind, "event": "invited",
                                     "planned_on": planned_on.isoformat(), "participants": meeting.participants},
                               visibility=Visibility.SHARED)
    record(actor, "absence.meeting_invited", meeting, {"case": case.pk, "kind": kind, "planned_on": planned_on},
           role=_role(actor))
    case_services.refresh_case(case, actor)
    return meeting


@transaction.atomic
def record_meeting_held(actor, meeting: DialogueMeeting, version: int, *, held_on: date, minutes: str) -> DialogueMeeting:
    """Holding dialogue meeting 1 meets its deadline; the minutes are shared with the employee."""
    case = meeting.case
    _require_case(actor, case)
    errors = {}
    if held_on is None or held_on > _today():
        errors["held_on"] = [_("Give the date the meeting was held (not in the future).")]
    if not (minutes or "").strip():
        errors["minutes"] = [_("Write the minutes of the meeting.")]
    if errors:
        raise ValidationError(errors)
    check_and_bump(DialogueMeeting, meeting.pk, version, held_on=held_on, minutes=minutes)
    meeting.refresh_from_db()
    case_services.record_entry(actor, case, kind=EntryKind.MEETING, occurred_on=held_on, text=minutes,
                               data={"meeting": meeting.pk, "meeting_kind": meeting.kind, "event": "held"},
                               visibility=Visibility.SHARED)
    record(actor, "absence.meeting_held", meeting, {"case": case.pk, "held_on": held_on, "minutes": minutes},
           role=_role(actor))
    case_services.refresh_case(case, actor)
    return meeting


@transaction.atomic
def request_meeting_1(actor, case: Case, requested_by: str) -> MeetingRequest:
    """On graded leave, dialogue meeting 1 is held if a party wants it."""
    person = scope.person_of(actor)
    is_concerned = person is not None and case.parties.filter(person=person, role=PartyRole.CONCERNED).exists()
    if not is_concerned:
        _require_case(actor, case)
    if requested_by not in ("employee", "manager", "doctor"):
        raise ValidationError({"requested_by": [_("Who asks for the meeting?")]})
    request = MeetingRequest.objects.create(case=case, requested_by=requested_by, requested_on=_today())
    case_services.record_entry(actor, case, kind=EntryKind.MEETING, occurred_on=_today(),
                               data={"event": "requested", "requested_by": requested_by}, visibility=Visibility.SHARED)
    record(actor, "absence.meeting_requested", request, {"case": case.pk, "requested_by": requested_by}, role=_role(actor))
    case_services.refresh_case(case, actor)
    return request


# --- recurrence ---------------------------------------------------------------------------------


@transaction.atomic
def handle_flag(actor, flag: RecurrenceFlag, note: str) -> RecurrenceFlag:
    """Record what was done about a frequent-absence flag (usually a conversation)."""
    if not _may_manage_absence(actor, flag.person):
        raise AccessDenied("handle_flag")
    if not (note or "").strip():
        raise ValidationError({"note": [_("Write what was done, for example that you had a conversation.")]})
    flag.handled_on, flag.handled_note, flag.handled_by = _today(), note, scope.person_of(actor)
    flag.save(update_fields=["handled_on", "handled_note", "handled_by"])
    record(actor, "absence.flag_handled", flag, {"note": note}, role=_role(actor))
    return flag


@transaction.atomic
def change_settings(actor, organisation, *, frequent_episodes: int, frequent_window_months: int) -> AbsenceSettings:
    if not scope.is_hr(actor) and not scope.is_admin(actor):
        raise AccessDenied("absence_settings")
    errors = {}
    if not 2 <= frequent_episodes <= 12:
        errors["frequent_episodes"] = [_("Choose between 2 and 12 episodes.")]
    if not 3 <= frequent_window_months <= 36:
        errors["frequent_window_months"] = [_("Choose between 3 and 36 months.")]
    if errors:
        raise ValidationError(errors)
    row = _settings(organisation.pk)
    row.frequent_episodes, row.frequent_window_months = frequent_episodes, frequent_window_months
    row.changed_at, row.changed_by = timezone.now(), actor
    row.save()
    record(actor, "absence.settings_changed", row, {"frequent_episodes": frequent_episodes,
                                                     "frequent_window_months": frequent_window_months}, role=_role(actor))
    return row


# --- retention (called by the retention room, which decides which rows and audits each batch) ---


def standalone_ended_before(organisation, cutoff: date, **selection) -> list[int]:
    """Ids of the organisation's episodes that belong to no case and ended before `cutoff`; an
    open episode (no end yet) never qualifies. `selection` as in cases.services.retention_ids."""
    return case_services.retention_ids(Episode.objects.filter(
        organisation=organisation, case__isnull=True, end__isnull=False, end__lt=cutoff), **selection)


@transaction.atomic
def delete_episodes(organisation, episode_ids) -> int:
    """Delete these episodes of the organisation (their grade periods cascade)."""
    rows = Episode.objects.filter(organisation=organisation, pk__in=list(episode_ids))
    count = rows.count()
    rows.delete()
    return count


@transaction.atomic
def restrict_episodes(organisation, episode_ids, now=None) -> int:
    """Hide these episodes from managers (absence.policy); those restricted before are left alone."""
    return Episode.objects.filter(organisation=organisation, pk__in=list(episode_ids), restricted_at__isnull=True).update(
        restricted_at=now or timezone.now(), version=F("version") + 1)


def flags_handled_before(organisation, cutoff: date, **selection) -> list[int]:
    """Ids of the organisation's frequent-absence prompts handled before `cutoff`; one still
    waiting never qualifies. `selection` as in cases.services.retention_ids."""
    return case_services.retention_ids(RecurrenceFlag.objects.filter(
        organisation=organisation, handled_on__isnull=False, handled_on__lt=cutoff), **selection)


@transaction.atomic
def delete_flags(organisation, flag_ids) -> int:
    deleted, _per_model = RecurrenceFlag.objects.filter(organisation=organisation, pk__in=list(flag_ids)).delete()
    return deleted


@transaction.atomic
def restrict_flags(organisation, flag_ids, now=None) -> int:
    """Hide these prompts (and what was done about them) from managers; HR in scope still sees them."""
    return RecurrenceFlag.objects.filter(organisation=organisation, pk__in=list(flag_ids),
                                         restricted_at__isnull=True).update(restricted_at=now or timezone.now())


@transaction.atomic
def delete_case_rows(organisation, case_ids) -> int:
    """Delete what this room holds of these sick-leave cases: their episodes (which would
    otherwise outlive the case, Episode.case is SET_NULL), the follow-up plan with its versions
    and sendings, dialogue meetings and meeting requests. Called before the spine deletes the
    cases themselves. Returns how many episodes went."""
    ids = list(Case.objects.filter(organisation=organisation, pk__in=list(case_ids)).values_list("pk", flat=True))
    # A sending protects its plan version (PROTECT): the sendings go first.
    PlanSending.objects.filter(version__plan__case_id__in=ids).delete()
    FollowUpPlan.objects.filter(case_id__in=ids).delete()  # versions cascade
    DialogueMeeting.objects.filter(case_id__in=ids).delete()
    MeetingRequest.objects.filter(case_id__in=ids).delete()
    episodes = Episode.objects.filter(case_id__in=ids)
    count = episodes.count()
    episodes.delete()
    return count


@transaction.atomic
def restrict_case_rows(organisation, case_ids, now=None) -> int:
    """The episodes of these sick-leave cases become restricted with their case."""
    return Episode.objects.filter(organisation=organisation, case_id__in=list(case_ids),
                                  restricted_at__isnull=True).update(restricted_at=now or timezone.now(),
                                                                     version=F("version") + 1)


def recurrence_window_months(organisation_id: int) -> int:
    """How far back the frequent-absence count looks (AbsenceSettings): the retention policy may
    not delete absence younger than that."""
    window = (AbsenceSettings.objects.filter(organisation_id=organisation_id)
              .values_list("frequent_window_months", flat=True).first())
    return window if window is not None else AbsenceSettings._meta.get_field("frequent_window_months").default
