"""The demo's sick-leave history: made through the services, and loaded once."""

from io import StringIO

from django.core.management import call_command
from django.utils import timezone

from tidsnok.absence.models import Episode, PlanSending, PlanVersion, RecurrenceFlag
from tidsnok.audit.models import AuditEvent
from tidsnok.cases.models import Case, Deadline, Entry, Kind


def _counts():
    return {
        "episodes": Episode.objects.count(), "cases": Case.objects.filter(kind=Kind.SICK_LEAVE).count(),
        "plans": PlanVersion.objects.count(), "sent": PlanSending.objects.count(), "entries": Entry.objects.count(),
        "deadlines": Deadline.objects.count(), "flags": RecurrenceFlag.objects.count(),
        "absence_events": AuditEvent.objects.filter(action__startswith="absence.").count(),
        "case_events": AuditEvent.objects.filter(action__startswith="case.").count(),
    }


def test_the_demo_has_a_little_sick_leave_history_and_running_it_again_adds_nothing(db):
    call_command("demo", stdout=StringIO())
    first = _counts()
    call_command("demo", stdout=StringIO())
    assert _counts() == first

    today = timezone.localdate()
    anne = Episode.objects.get(person__email="ansatt@tidsnok.test")
    assert (today - anne.start).days == 20 and anne.end is None and anne.certified == "doctor"
    assert list(anne.grades.values_list("grade", flat=True)) == [100]
    assert anne.case.follow_up_plan.versions.count() == 1
    assert anne.case.deadlines.filter(rule_id="sick_leave.follow_up_plan", status="met").exists()

    graded = Episode.objects.get(external_id="DEMO-GRADED")
    assert list(graded.grades.values_list("grade", flat=True)) == [100, 50]
    assert graded.case.deadlines.get(rule_id="sick_leave.dialogue_meeting_1").status == "met"
    assert graded.case.deadlines.get(rule_id="sick_leave.plan_to_doctor").status == "met"

    related = Episode.objects.get(external_id="DEMO-WORK")
    assert related.work_related == "fully" and related.case is not None
    assert related.case.hr_involved_at is not None  # work-related absence beyond the employer period

    shorts = Episode.objects.filter(certified="self")
    assert shorts.count() >= 3 and not shorts.filter(case__isnull=False).exists()
    # Everything through the services: each episode has its audit event.
    assert AuditEvent.objects.filter(action="absence.episode_registered").count() == Episode.objects.count()
