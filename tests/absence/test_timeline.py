"""The legal timeline of sick-leave follow-up, pinned (DOMAIN.md §5)."""

from datetime import date, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import translation

from tidsnok.absence import services
from tidsnok.absence.models import Episode
from tidsnok.cases import services as case_services
from tidsnok.cases.models import DeadlineStatus, HandlerRole, MeasureKind, MeasureStatus


def deadlines(case):
    return {d.rule_id: d for d in case.deadlines.all() if d.sequence == 0 or d.rule_id != "sick_leave.plan_to_nav"}


@pytest.fixture
def december():
    with time_machine.travel(date(2026, 12, 1), tick=False) as traveller:
        yield traveller


def register(world, **kw):
    fields = dict(person=world.emil, start=date(2026, 12, 1), grade=100, certified="doctor")
    fields.update(kw)
    return services.register_episode(world.user("marte"), **fields)


def test_a_full_leave_from_1_december_2026_gets_the_legal_timeline(world, december):
    episode = register(world)
    assert episode.case is not None
    due = {rule: d.due for rule, d in deadlines(episode.case).items()}
    assert due["sick_leave.follow_up_plan"] == date(2026, 12, 28)
    assert due["sick_leave.plan_to_doctor"] == date(2026, 12, 28)
    assert due["sick_leave.dialogue_meeting_1"] == date(2027, 1, 18)
    assert due["sick_leave.activity_requirement"] == date(2027, 1, 25)
    assert due["sick_leave.nav_dialogue_meeting_2_question"] == date(2027, 3, 22)
    assert due["sick_leave.dialogue_meeting_2"] == date(2027, 5, 31)
    assert due["sick_leave.dismissal_protection_ends"] == date(2027, 12, 1)
    for rule, deadline in deadlines(episode.case).items():
        assert deadline.basis, rule
    assert deadlines(episode.case)["sick_leave.dialogue_meeting_1"].basis == "aml § 4-6 (4)"


def test_a_graded_leave_has_no_mandatory_dialogue_meeting_1(world, december):
    episode = register(world, grade=50)
    assert "sick_leave.dialogue_meeting_1" not in deadlines(episode.case)


def test_a_graded_leave_that_becomes_full_gets_dialogue_meeting_1(world, december):
    episode = register(world, grade=50)
    services.set_grade(world.user("marte"), episode, episode.version, from_date=date(2026, 12, 10), grade=100)
    assert deadlines(episode.case)["sick_leave.dialogue_meeting_1"].due == date(2027, 1, 18)


def test_a_party_asking_for_meeting_1_on_graded_leave_makes_it_required(world, december):
    episode = register(world, grade=40)
    services.request_meeting_1(world.user("emil"), episode.case, "employee")
    assert "sick_leave.dialogue_meeting_1" in deadlines(episode.case)


def test_an_episode_within_16_days_of_the_previous_continues_the_employer_period(world, december):
    first = register(world, start=date(2026, 11, 2), end=date(2026, 11, 20))
    second = register(world, start=date(2026, 12, 1))  # 10 days after
    assert second.period_start == first.period_start == date(2026, 11, 2)
    assert second.case == first.case
    assert deadlines(second.case)["sick_leave.follow_up_plan"].due == date(2026, 11, 29)


def test_an_episode_after_a_longer_gap_starts_a_new_period(world, december):
    register(world, start=date(2026, 10, 1), end=date(2026, 10, 10), certified="self")
    second = register(world, start=date(2026, 12, 1))
    assert second.period_start == date(2026, 12, 1)


def test_a_short_self_certified_absence_opens_no_case(world, december):
    episode = register(world, start=date(2026, 11, 27), end=date(2026, 11, 29), certified="self")
    assert episode.case is None


def test_a_leave_that_ends_before_its_deadlines_closes_them_as_no_longer_required(world, december):
    episode = register(world)
    with time_machine.travel(date(2027, 1, 10), tick=False):
        services.update_episode(world.user("marte"), episode, episode.version, end=date(2027, 1, 8))
        rows = deadlines(episode.case)
    assert rows["sick_leave.dialogue_meeting_1"].status == DeadlineStatus.NOT_REQUIRED
    meeting = rows["sick_leave.dialogue_meeting_1"]
    with translation.override("nb"):
        assert meeting.reason() == "Fraværet sluttet 08.01.2027, før fristen."
    with translation.override("en"):
        assert meeting.reason() == "The absence ended on 08.01.2027, before this was due."
    assert rows["sick_leave.dialogue_meeting_2"].status == DeadlineStatus.NOT_REQUIRED
    # The plan was due 28.12.2026, before the leave ended: still required, now overdue.
    assert rows["sick_leave.follow_up_plan"].status == DeadlineStatus.OPEN


def test_the_plan_and_its_sending_meet_their_deadlines(world, december):
    episode = register(world)
    marte = world.user("marte")
    with time_machine.travel(date(2026, 12, 20), tick=False):
        version = services.save_plan(marte, episode.case, work_tasks_and_capacity="Kan gjøre lette oppgaver.",
                                     employer_measures="Redusert turnus.", further_follow_up="Ny samtale om to uker.")
        services.respond_to_plan(world.user("emil"), version, approves=True)
        services.record_plan_sent(marte, version, recipient="doctor", sent_on=date(2026, 12, 20))
    rows = deadlines(episode.case)
    assert rows["sick_leave.follow_up_plan"].status == DeadlineStatus.MET
    assert rows["sick_leave.plan_to_doctor"].met_on == date(2026, 12, 20)


def test_a_second_plan_version_keeps_the_first(world, december):
    episode = register(world)
    marte = world.user("marte")
    v1 = services.save_plan(marte, episode.case, work_tasks_and_capacity="A", employer_measures="B", further_follow_up="C")
    v2 = services.save_plan(marte, episode.case, work_tasks_and_capacity="A2", employer_measures="B2", further_follow_up="C2")
    v1.refresh_from_db()
    assert (v1.number, v1.work_tasks_and_capacity, v2.number) == (1, "A", 2)


def test_the_employee_must_say_what_she_disagrees_with(world, december):
    episode = register(world)
    version = services.save_plan(world.user("marte"), episode.case, work_tasks_and_capacity="A",
                                 employer_measures="B", further_follow_up="C")
    with pytest.raises(ValidationError):
        services.respond_to_plan(world.user("emil"), version, approves=False, comment="")
    services.respond_to_plan(world.user("emil"), version, approves=False, comment="Turnusen passer ikke.")
    version.refresh_from_db()
    assert version.employee_response == "disagreed"


def test_holding_dialogue_meeting_1_meets_its_deadline(world, december):
    episode = register(world)
    marte = world.user("marte")
    meeting = services.invite_meeting(marte, episode.case, kind="dialogue_1", planned_on=date(2027, 1, 12),
                                      participants=["employee", "manager", "safety_rep"])
    with time_machine.travel(date(2027, 1, 12), tick=False):
        services.record_meeting_held(marte, meeting, meeting.version, held_on=date(2027, 1, 12), minutes="Enige om tiltak.")
    assert deadlines(episode.case)["sick_leave.dialogue_meeting_1"].status == DeadlineStatus.MET


def test_a_nav_meeting_asks_for_the_updated_plan_a_week_before(world, december):
    episode = register(world)
    meeting = services.invite_meeting(world.user("marte"), episode.case, kind="dialogue_2",
                                      planned_on=date(2027, 5, 20), participants=["employee", "manager", "nav"])
    row = episode.case.deadlines.get(rule_id="sick_leave.plan_to_nav", sequence=meeting.pk)
    assert row.due == date(2027, 5, 13)


def test_work_related_absence_cannot_close_without_a_job_side_measure(world, december):
    episode = register(world, work_related="partly", factors=["workload"])
    case = episode.case
    assert "sick_leave.job_side_measure" in deadlines(case)
    with pytest.raises(ValidationError) as error:
        case_services.close_case(world.user("marte"), case, "Tilbake i jobb.", case.version)
    assert "tiltak på jobbsiden" in str(error.value)
    measure = case_services.add_measure(world.user("marte"), case, what="Redusert arbeidsmengde",
                                        kind=MeasureKind.ORGANISATIONAL, area="workload", owner=world.marte,
                                        due=date(2026, 12, 15))
    assert deadlines(case)["sick_leave.job_side_measure"].status == DeadlineStatus.MET
    case_services.update_measure(world.user("marte"), measure, measure.version, status=MeasureStatus.DONE)
    case.refresh_from_db()
    case_services.close_case(world.user("marte"), case, "Arbeidsmengden er redusert.", case.version)


def test_work_related_absence_beyond_the_employer_period_involves_hr(world, december):
    episode = register(world, work_related="fully")
    assert not episode.case.handlers.filter(role=HandlerRole.HR).exists()
    with time_machine.travel(date(2026, 12, 20), tick=False):
        case_services.refresh_case(episode.case)
    assert episode.case.handlers.filter(role=HandlerRole.HR).exists()


def test_a_second_work_related_episode_within_12_months_involves_hr(world, december):
    register(world, start=date(2026, 3, 2), end=date(2026, 3, 20), work_related="fully", open_case=True)
    second = register(world, start=date(2026, 11, 30), work_related="partly", open_case=True)
    assert second.case.handlers.filter(role=HandlerRole.HR).exists()


def test_frequent_absence_is_flagged_as_a_prompt(world, december):
    for start in (date(2026, 2, 2), date(2026, 6, 1), date(2026, 11, 2)):
        register(world, start=start, end=start.replace(day=start.day + 2), certified="self")
    from tidsnok.absence.models import RecurrenceFlag

    flag = RecurrenceFlag.objects.get(person=world.emil)
    assert flag.episodes == 3
    with pytest.raises(ValidationError):
        services.handle_flag(world.user("marte"), flag, "")
    services.handle_flag(world.user("marte"), flag, "Hadde en samtale om helse og trivsel.")


def test_frequent_absence_starting_on_a_leap_day_looks_back_to_28_february(world):
    from tidsnok.absence.models import RecurrenceFlag

    with time_machine.travel(date(2028, 3, 10), tick=False):
        for person, first in ((world.emil, date(2027, 2, 28)), (world.ella, date(2027, 3, 1))):
            for start in (first, date(2027, 9, 6), date(2028, 2, 29)):
                register(world, person=person, start=start, end=start + timedelta(days=1), certified="self")
    # The window of 12 months ending 29.02.2028 starts after 28.02.2027.
    assert not RecurrenceFlag.objects.filter(person=world.emil).exists()
    flag = RecurrenceFlag.objects.get(person=world.ella)
    assert flag.window_start == date(2027, 2, 28)
    assert flag.episodes == 3


def test_the_frequent_absence_window_counts_calendar_months():
    from tidsnok.absence import rules

    assert rules.frequent_window_start(date(2026, 11, 30), 12) == date(2025, 11, 30)
    assert rules.frequent_window_start(date(2028, 2, 29), 12) == date(2027, 2, 28)
    assert rules.frequent_window_start(date(2026, 3, 31), 1) == date(2026, 2, 28)
    assert rules.frequent_window_start(date(2026, 1, 15), 36) == date(2023, 1, 15)
    starts = [date(2025, 12, 1), date(2026, 5, 1), date(2026, 11, 30)]
    assert rules.frequent_absence(starts, date(2026, 11, 30), 3, 12)
    assert not rules.frequent_absence([date(2025, 11, 30), *starts[1:]], date(2026, 11, 30), 3, 12)


def test_overlapping_episodes_are_refused(world, december):
    register(world, start=date(2026, 11, 20))
    with pytest.raises(ValidationError):
        register(world, start=date(2026, 11, 25))
    assert Episode.objects.filter(person=world.emil).count() == 1


def test_a_colleague_cannot_register_absence(world, december):
    from tidsnok.access.policy import AccessDenied

    with pytest.raises(AccessDenied):
        services.register_episode(world.user("ella"), person=world.emil, start=date(2026, 12, 1), certified="self")
