"""How sick-leave follow-up plugs into the case spine (cases.hooks).

The legal timeline runs from day 1 of the employer period. Deadlines are met by
the entries the absence services put on the case's timeline (a plan version, a
sending to the doctor, a held meeting, a job-side measure)."""

from datetime import timedelta

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tidsnok.absence import rules
from tidsnok.absence.models import DialogueMeeting, Episode, GradePeriod, MeetingRequest, WorkRelated
from tidsnok.cases import hooks
from tidsnok.cases.models import EntryKind, Kind, MeasureKind, MeasureStatus


def _episodes(case):
    return list(Episode.objects.filter(case=case).order_by("start"))


def trigger_dates(case):
    # Called once per sick-leave rule on every recompute: two small reads, no model objects.
    period_start = Episode.objects.filter(case=case).order_by("start").values_list("period_start", flat=True).first()
    if period_start is None:
        return {}
    nav_meetings = DialogueMeeting.objects.filter(case=case, kind__in=["dialogue_2", "dialogue_3"]).values_list(
        "pk", "planned_on")
    return {
        "absence_start": [(None, 0, period_start)],
        # One "updated plan to NAV" deadline per registered NAV meeting, keyed by the meeting.
        "nav_meeting": [(None, pk, planned_on) for pk, planned_on in nav_meetings],
    }


def full_leave(case) -> bool:
    """Dialogue meeting 1 is required at 100 % leave, or on graded leave when a party asks."""
    def read():
        grades = GradePeriod.objects.filter(episode__case=case, grade__gte=100).exists()
        return grades or MeetingRequest.objects.filter(case=case).exists()
    return hooks.memo(case, "absence.full_leave", read)


def work_related(case) -> bool:
    return hooks.memo(case, "absence.work_related",
                      lambda: Episode.objects.filter(case=case).exclude(work_related=WorkRelated.NO).exists())


def _first(entries, predicate):
    for entry in sorted(entries, key=lambda e: (e.occurred_on, e.id)):
        if predicate(entry):
            return entry, entry.occurred_on
    return None, None


def _plan(deadline, case, entries):
    return _first(entries, lambda e: e.kind == EntryKind.PLAN)


def _plan_to_doctor(deadline, case, entries):
    return _first(entries, lambda e: e.kind == EntryKind.PLAN_SENT and e.data.get("recipient") == "doctor")


def _meeting_1(deadline, case, entries):
    return _first(entries, lambda e: e.kind == EntryKind.MEETING and e.data.get("meeting_kind") == "dialogue_1"
                  and e.data.get("event") == "held")


def _job_side_measure(deadline, case, entries):
    live = set(case.measures.filter(kind=MeasureKind.ORGANISATIONAL).exclude(status=MeasureStatus.CANCELLED)
               .values_list("pk", flat=True))
    return _first(entries, lambda e: e.kind == EntryKind.MEASURE and e.measure_id in live
                  and e.data.get("event") == "created")


def _plan_to_nav(deadline, case, entries):
    # An updated plan sent to NAV in the weeks before this NAV meeting (keyed by sequence).
    meeting_day = deadline.start
    window = meeting_day - timedelta(days=42)
    return _first(entries, lambda e: e.kind == EntryKind.PLAN_SENT and e.data.get("recipient") == "nav"
                  and window <= e.occurred_on <= meeting_day)


def _expected_event(deadline, case, entries):
    """NAV's own milestones and dates that simply arrive: they have happened once
    the date has passed. They are shown on the timeline, never reminded of."""
    if timezone.localdate() >= deadline.due:
        return None, deadline.due
    return None, None


def _absence_over_before_due(deadline, case) -> tuple[str, dict] | None:
    """When the absence ended before a deadline fell due, the rest is no longer required."""
    ends = hooks.memo(case, "absence.ends", lambda: list(Episode.objects.filter(case=case).values_list("end", flat=True)))
    if not ends or any(end is None for end in ends):
        return None
    last_day = max(ends)
    if last_day < deadline.due:
        return "absence.ended", {"date": last_day.strftime("%d.%m.%Y")}
    return None


def hr_triggers(case) -> list[str]:
    """Work-related absence that lasts beyond the employer period or recurs involves HR."""
    episodes = _episodes(case)
    related = [e for e in episodes if e.work_related != WorkRelated.NO]
    if not related:
        return []
    reasons = []
    today = timezone.localdate()
    period_start = episodes[0].period_start
    last = max((e.end or today) for e in episodes)
    if (last - period_start).days + 1 > rules.EMPLOYER_PERIOD_DAYS:
        reasons.append("work_related_absence_lasting")
    person = episodes[0].person_id
    earlier = list(
        Episode.objects.filter(person_id=person).exclude(work_related=WorkRelated.NO).exclude(case=case)
        .values_list("start", flat=True)
    )
    if any(rules.recurs_work_related(earlier, e.start) for e in related):
        reasons.append("work_related_absence_recurring")
    return reasons


def close_checks(case) -> list[str]:
    """Per the source document: work-related absence needs a change in the job."""
    if not work_related(case):
        return []
    has_measure = case.measures.filter(kind=MeasureKind.ORGANISATIONAL).exclude(
        status=MeasureStatus.CANCELLED
    ).exists()
    if has_measure:
        return []
    return [_("The absence is work-related: the case needs a job-side measure (organisation, workload, tasks, "
              "working hours or conflict handling) before it can close.")]


LAW_EVENTS = (
    "sick_leave.employer_period_ends", "sick_leave.activity_requirement",
    "sick_leave.nav_dialogue_meeting_2_question", "sick_leave.dialogue_meeting_2",
    "sick_leave.dismissal_protection_ends", "sick_leave.max_sick_pay",
)


def register():
    hooks.trigger_dates[Kind.SICK_LEAVE] = trigger_dates
    hooks.conditions["full_leave"] = full_leave
    hooks.conditions["work_related"] = work_related
    hooks.fulfilment["sick_leave.follow_up_plan"] = _plan
    hooks.fulfilment["sick_leave.plan_to_doctor"] = _plan_to_doctor
    hooks.fulfilment["sick_leave.dialogue_meeting_1"] = _meeting_1
    hooks.fulfilment["sick_leave.job_side_measure"] = _job_side_measure
    hooks.fulfilment["sick_leave.plan_to_nav"] = _plan_to_nav
    for rule_id in LAW_EVENTS:
        hooks.fulfilment[rule_id] = _expected_event
    for rule_id in ("sick_leave.follow_up_plan", "sick_leave.plan_to_doctor", "sick_leave.dialogue_meeting_1",
                    "sick_leave.job_side_measure", "sick_leave.activity_requirement",
                    "sick_leave.nav_dialogue_meeting_2_question", "sick_leave.dialogue_meeting_2"):
        hooks.not_required[rule_id] = _absence_over_before_due
    hooks.deadline_reasons["absence.ended"] = gettext_lazy("The absence ended on %(date)s, before this was due.")
    hooks.hr_triggers.setdefault(Kind.SICK_LEAVE, []).append(hr_triggers)
    hooks.close_checks.setdefault(Kind.SICK_LEAVE, []).append(close_checks)
    hooks.case_details[Kind.SICK_LEAVE] = case_details


def case_details(case, user) -> dict:
    """What GET /api/v1/cases/{id} shows of a sick-leave case beside the spine."""
    from tidsnok.absence.models import FollowUpPlan

    plan = FollowUpPlan.objects.filter(case=case).first()
    versions = list(plan.versions.prefetch_related("sendings").order_by("number")) if plan else []
    return {
        "episodes": [
            {"id": e.pk, "start": e.start.isoformat(), "end": e.end.isoformat() if e.end else None,
             "certified": e.certified, "work_related": e.work_related, "period_start": e.period_start.isoformat(),
             "grades": [{"from_date": g.from_date.isoformat(), "grade": g.grade} for g in e.grades.all()]}
            for e in Episode.objects.filter(case=case).prefetch_related("grades").order_by("start")
        ],
        "plan_versions": [
            {"number": v.number, "made_on": v.made_on.isoformat(), "work_tasks_and_capacity": v.work_tasks_and_capacity,
             "employer_measures": v.employer_measures, "assisted_measures": v.assisted_measures,
             "further_follow_up": v.further_follow_up, "employee_response": v.employee_response,
             "employee_comment": v.employee_comment, "employee_absent_reason": v.employee_absent_reason,
             "sent": [{"recipient": s.recipient, "sent_on": s.sent_on.isoformat()} for s in v.sendings.all()]}
            for v in versions
        ],
        "meetings": [
            {"id": m.pk, "kind": m.kind, "planned_on": m.planned_on.isoformat(), "participants": m.participants,
             "held_on": m.held_on.isoformat() if m.held_on else None, "minutes": m.minutes}
            for m in DialogueMeeting.objects.filter(case=case)
        ],
    }
