"""`tidsnok generate` at a tiny scale: a realistic organisation, the same for the same seed.

The generator writes most rows in bulk (people, logins, roles, the absence
episodes outside follow-up cases) and the rest through the services; these tests
check that what it leaves is what the services would have left: the unit tree,
a manager for every unit, the employer periods, follow-up cases and
frequent-absence flags by the absence rules, audit events for every change in a
chain that verifies. No timing: figures come from running the command itself
(docs/performance.md).
"""

import io
import re
from collections import Counter, defaultdict
from dataclasses import dataclass

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from tidsnok.absence import rules
from tidsnok.absence.models import Episode, GradePeriod, RecurrenceFlag
from tidsnok.audit.models import AuditEvent
from tidsnok.audit.services import head, latest_checkpoint, verify_chain
from tidsnok.cases.models import Case, Deadline, Kind
from tidsnok.org.models import Organisation, Person, Role, RoleAssignment, Unit
from tidsnok.risk.models import Assessment

PEOPLE = 40
SEED = 7
PASSWORD = "generated-test-password"


@dataclass
class Generated:
    org: Organisation
    output: str
    events_before: int


def generate(seed: int, people: int = PEOPLE) -> str:
    out = io.StringIO()
    call_command("generate", people=people, years=1, seed=seed, password=PASSWORD, no_migrate=True, stdout=out)
    return out.getvalue()


@pytest.fixture(scope="module")
def generated(django_db_setup, django_db_blocker):
    """One organisation for the module's tests, rolled back afterwards."""
    with django_db_blocker.unblock():
        with transaction.atomic():
            before = AuditEvent.objects.count()
            output = generate(SEED)
            yield Generated(Organisation.objects.get(name=f"Generert kommune {SEED}"), output, before)
            transaction.set_rollback(True)


def in_org(model, org, path="organisation"):
    return model.objects.filter(**{path: org})


@pytest.mark.django_db
def test_the_unit_tree_has_root_sectors_departments_and_units_with_paths_and_depths(generated):
    units = {u.pk: u for u in in_org(Unit, generated.org)}
    roots = [u for u in units.values() if u.parent_id is None]
    assert len(roots) == 1 and roots[0].code == "ROOT" and roots[0].depth == 0
    for unit in units.values():
        parent = units.get(unit.parent_id)
        assert unit.path == (parent.path if parent else "/") + f"{unit.pk:010d}/"
        assert unit.depth == (parent.depth + 1 if parent else 0)
    depths = {u.code: u.depth for u in units.values()}
    assert all(depths[c] == 1 for c in depths if c.startswith("S"))  # sectors and the staff sector
    assert depths["HR"] == 2 and all(depths[c] == 2 for c in depths if c.startswith("D"))
    with_staff = [u for u in units.values() if u.code.startswith("U")]
    assert with_staff and all(u.depth == 3 for u in with_staff)
    sizes = Counter(in_org(Person, generated.org).values_list("unit__code", flat=True))
    assert all(10 <= sizes[u.code] <= 49 for u in with_staff)


@pytest.mark.django_db
def test_every_unit_has_one_manager_from_its_own_staff_and_the_special_roles_exist(generated):
    org = generated.org
    people = in_org(Person, org)
    units = in_org(Unit, org)
    # Everyone asked for, plus one manager for every level above the units.
    assert people.count() == PEOPLE + units.exclude(code__startswith="U").exclude(code="HR").count()
    assert not people.filter(user__isnull=True).exists()
    roles = RoleAssignment.objects.filter(person__organisation=org)
    for unit in units:
        managers = roles.filter(role=Role.MANAGER, unit=unit)
        assert managers.count() == 1, unit.code
        assert managers.get().person.unit_id == unit.pk
    hr = roles.filter(role=Role.HR)
    assert hr.filter(unit__isnull=True).count() >= 2
    assert roles.filter(role=Role.ADMIN, unit__isnull=True).count() == 1
    assert roles.filter(role=Role.AMU).count() == 3
    assert roles.filter(role=Role.SAFETY_REP, unit__code__startswith="D").count() == units.filter(
        code__startswith="D").count()
    # HR advisers and the administrator log in with a second factor; everyone has the one password.
    from allauth.mfa.models import Authenticator

    for assignment in roles.filter(role__in=[Role.HR, Role.ADMIN]).select_related("person__user"):
        assert Authenticator.objects.filter(user=assignment.person.user, type=Authenticator.Type.TOTP).exists()
    user = people.order_by("pk").last().user
    assert user.check_password(PASSWORD) and user.email == user.email.lower()


@pytest.mark.django_db
def test_the_absence_history_has_a_plausible_sick_leave_rate_and_mix(generated):
    rate = float(re.search(r"sick-leave rate about ([\d.]+) %", generated.output).group(1))
    assert 2.0 <= rate <= 15.0
    episodes = in_org(Episode, generated.org)
    mix = Counter(episodes.values_list("certified", flat=True))
    assert mix["self"] > mix["doctor"] > 0
    assert episodes.filter(certified="doctor", end__isnull=True).exists() or episodes.filter(
        certified="doctor", case__isnull=False).exists()
    assert episodes.exclude(work_related="no").exists()
    # Graded leave, from the start or back to work.
    assert GradePeriod.objects.filter(episode__organisation=generated.org, grade__lt=100).exists()


@pytest.mark.django_db
def test_episodes_have_the_employer_periods_cases_and_flags_the_absence_rules_give(generated):
    """What register_episode would have decided for each episode, bulk-written or not."""
    org, today = generated.org, timezone.localdate()
    by_person = defaultdict(list)
    for episode in in_org(Episode, org).order_by("person_id", "start"):
        by_person[episode.person_id].append(episode)
    flagged = set(RecurrenceFlag.objects.filter(organisation=org).values_list("person_id", flat=True))
    expect_flagged = set()
    for person_id, episodes in by_person.items():
        known, in_case = [], {}
        for episode in episodes:
            period_start = rules.period_start_for(episode.start, known)
            assert episode.period_start == period_start
            opens = rules.needs_follow_up_case(episode.certified, period_start, episode.end, today)
            if opens or period_start in in_case:
                assert episode.case_id is not None, (episode.start, episode.certified, episode.end)
                # One case per employer period, from the episode that opened it on.
                assert in_case.setdefault(period_start, episode.case_id) == episode.case_id
            else:
                assert episode.case_id is None
            known.append((episode.start, episode.end, period_start))
            starts = [e[0] for e in known]
            if rules.frequent_absence(starts, episode.start, 3, 12):
                expect_flagged.add(person_id)
    assert flagged == expect_flagged and flagged
    # One flag each: it is raised today, so it covers every later episode of the person.
    flags = RecurrenceFlag.objects.filter(organisation=org)
    assert flags.count() == len(flagged)
    assert flags.filter(handled_on__isnull=False).exists()


@pytest.mark.django_db
def test_there_are_cases_of_every_kind_some_closed_and_deadlines_met_and_missed(generated):
    cases = in_org(Case, generated.org)
    kinds = Counter(cases.values_list("kind", flat=True))
    assert set(kinds) == set(Kind.values), kinds
    assert cases.filter(status="closed").exists() and cases.filter(status="open").exists()
    statuses = set(Deadline.objects.filter(case__organisation=generated.org).values_list("status", flat=True))
    assert {"met", "open"} <= statuses and statuses & {"late", "missed"}
    # Every sick-leave case has its episodes, opened by a doctor-certified one.
    for case in cases.filter(kind=Kind.SICK_LEAVE):
        first = Episode.objects.filter(case=case).order_by("start").first()
        assert first is not None and first.certified == "doctor"


@pytest.mark.django_db
def test_every_change_has_its_audit_event_and_the_chain_verifies(generated):
    org = generated.org
    result = verify_chain()
    assert result.ok, result.reason
    events = AuditEvent.objects.filter(seq__gt=generated.events_before)
    actions = Counter(events.values_list("action", flat=True))
    people = in_org(Person, org).count()
    assert actions["person.created"] == actions["user.created"] == actions["person.login_linked"] == people
    assert actions["unit.created"] == in_org(Unit, org).count()
    assert actions["role.assigned"] == RoleAssignment.objects.filter(person__organisation=org).count()
    assert actions["absence.episode_registered"] == in_org(Episode, org).count()
    assert actions["absence.frequent_flagged"] == RecurrenceFlag.objects.filter(organisation=org).count()
    assert actions["case.opened"] == in_org(Case, org).count()
    # A bulk-written episode's event is register_episode's: actor None, role "system", the episode's summary.
    episode = in_org(Episode, org).filter(case__isnull=True).order_by("pk").first()
    event = events.get(action="absence.episode_registered", object_id=str(episode.pk))
    assert (event.object_type, event.actor_id, event.role) == ("absence.episode", None, "system")
    assert event.data == {
        "episode": episode.pk, "start": episode.start.isoformat(),
        "end": episode.end.isoformat() if episode.end else None,
        "grades": [[g.from_date.isoformat(), g.grade] for g in episode.grades.all()],
        "certified": episode.certified, "work_related": episode.work_related,
    }
    person = in_org(Person, org).order_by("pk").first()
    created = events.get(action="person.created", object_id=str(person.pk))
    assert (created.object_type, created.data) == ("org.person", {"employee_number": person.employee_number,
                                                                  "unit": person.unit_id})
    role = RoleAssignment.objects.filter(person__organisation=org, role=Role.MANAGER).order_by("pk").first()
    assigned = events.get(action="role.assigned", object_id=str(role.pk))
    assert assigned.data == {"person": role.person_id, "role": "manager", "unit": role.unit_id,
                             "starts_on": role.starts_on.isoformat(), "ends_on": None}


@pytest.mark.django_db
def test_every_unit_with_staff_has_a_completed_risk_assessment_that_the_services_would_accept(generated):
    from tidsnok.risk import rules as risk_rules
    from tidsnok.risk.models import Action, Assessment, Participant

    org = generated.org
    completed = Assessment.objects.filter(organisation=org, status="completed")
    staffed = Unit.objects.filter(organisation=org, people__isnull=False).distinct().count()
    # Units whose only person is their manager have no one to assess with.
    assert 0 < completed.count() <= staffed
    today = timezone.localdate()
    for assessment in completed.prefetch_related("risks__actions", "participants"):
        levels = [risk_rules.level(r.likelihood, r.consequence) for r in assessment.risks.all()]
        problems = risk_rules.completion_problems(
            summary=assessment.summary, risk_levels=levels,
            actions_per_risk=[r.actions.count() for r in assessment.risks.all()],
            participant_roles=[p.role for p in assessment.participants.all()],
        )
        assert problems == [], (assessment.pk, problems)
        assert assessment.started_on <= assessment.completed_on <= today
        assert assessment.review_due == risk_rules.default_review_due(assessment.completed_on)
    actions = Action.objects.filter(assessment__organisation=org)
    assert actions.filter(status="done", done_on__isnull=False).exists()
    assert not actions.filter(status="cancelled", cancel_reason="").exists()
    events = AuditEvent.objects.filter(seq__gt=generated.events_before)
    counted = Counter(events.filter(action__startswith="risk.").values_list("action", flat=True))
    assert counted["risk.assessment_started"] == Assessment.objects.filter(organisation=org).count()
    assert counted["risk.assessment_completed"] == completed.count()
    assert counted["risk.action_added"] == actions.count()
    assert counted["risk.participant_added"] == Participant.objects.filter(assessment__organisation=org).count()
    # The event of a bulk-written risk is add_risk's: the manager as actor, the same payload.
    action = actions.order_by("pk").first()
    added = events.get(action="risk.action_added", object_id=str(action.pk))
    assert added.data == {"assessment": action.assessment_id, "risk": action.risk_id, "what": added.data["what"],
                          "owner": action.owner_id, "due": action.due.isoformat()}
    assert added.data["what"].startswith("hmac:")  # free text only as its fingerprint, as record() writes it
    assert added.actor_id == RoleAssignment.objects.get(role=Role.MANAGER, unit=action.assessment.unit).person.user_id


@pytest.mark.django_db
def test_risk_only_adds_assessments_to_an_organisation_generated_before_and_only_once(generated):
    from django.core.management.base import CommandError

    from tidsnok.risk.models import Assessment

    with transaction.atomic():
        Assessment.objects.filter(organisation=generated.org).delete()
        out = io.StringIO()
        call_command("generate", seed=SEED, risk_only=True, no_migrate=True, stdout=out)
        assert "risk assessments completed" in out.getvalue() and "audit chain verified" in out.getvalue()
        assert Assessment.objects.filter(organisation=generated.org).exists()
        with pytest.raises(CommandError, match="already has risk assessments"):
            call_command("generate", seed=SEED, risk_only=True, no_migrate=True, stdout=io.StringIO())
        transaction.set_rollback(True)


def _fingerprint(seed: int, events_before: int) -> dict:
    """What one run of the seed leaves, without database keys (sequences differ between runs)."""
    org = Organisation.objects.get(name=f"Generert kommune {seed}")
    return {
        "units": sorted(in_org(Unit, org).values_list("code", "name", "depth")),
        "people": sorted(in_org(Person, org).values_list("employee_number", "name", "unit__code", "position",
                                                         "position_percent", "start_date")),
        "roles": sorted(RoleAssignment.objects.filter(person__organisation=org).values_list(
            "person__employee_number", "role", "unit__code")),
        "episodes": sorted(in_org(Episode, org).values_list("external_id", "person__employee_number", "start",
                                                            "end", "certified", "work_related", "period_start")),
        "flags": RecurrenceFlag.objects.filter(organisation=org).count(),
        "flags_handled": RecurrenceFlag.objects.filter(organisation=org, handled_on__isnull=False).count(),
        "cases": sorted(Counter(in_org(Case, org).values_list("kind", "status")).items()),
        "deadlines": sorted(Counter(Deadline.objects.filter(case__organisation=org).values_list(
            "rule_id", "status")).items()),
        "risk": sorted(Assessment.objects.filter(organisation=org).values_list(
            "unit__code", "status", "started_on", "completed_on", "method")),
        "events": sorted(Counter(AuditEvent.objects.filter(seq__gt=events_before).values_list(
            "action", flat=True)).items()),
    }


@pytest.mark.django_db
def test_the_generator_leaves_a_verified_checkpoint_at_the_head_so_the_first_pdf_verifies_nothing_again(generated):
    checkpoint = latest_checkpoint()
    seq, _hash = head()
    assert checkpoint is not None and checkpoint.seq == seq
    assert checkpoint.full_seq == seq  # a full run, not one resting on an older checkpoint
    assert f"audit events: {seq}, verified, checkpoint at event {seq}" in generated.output


@pytest.mark.django_db
def test_the_same_seed_gives_the_same_organisation():
    runs = []
    for _ in range(2):
        with transaction.atomic():
            before = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
            output = generate(SEED + 4, people=30)
            runs.append(_fingerprint(SEED + 4, before))
            transaction.set_rollback(True)
    assert "refused" not in output
    assert runs[0] == runs[1]
    assert runs[0]["episodes"] and runs[0]["cases"]


@pytest.mark.django_db
def test_generate_refuses_a_seed_already_in_the_database(generated):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="already in this database"):
        generate(SEED)



def test_a_late_registration_gets_its_reason_exactly_when_the_services_ask_for_one(world):
    """By the services' own date: a run of an hour may pass midnight, after which the day the
    generator started is yesterday (a case was refused for it at N = 50,000)."""
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    import time_machine
    from django.core.exceptions import ValidationError

    from tidsnok.cases import services as case_services
    from tidsnok.cases.services import needs_known_at_reason

    just_after_midnight = datetime(2026, 11, 27, 0, 5, tzinfo=ZoneInfo("Europe/Oslo"))
    with time_machine.travel(just_after_midnight, tick=False):
        today = timezone.localdate()
        for days in (29, 30, 31, 32):
            known_at = today - timedelta(days=days)
            asked, errors = False, {}
            try:
                with transaction.atomic():
                    case_services.open_case(
                        world.user("marte"), kind=Kind.PSYCHOSOCIAL, concerns=[world.emil],
                        factors=["workload"], description="Sier at arbeidsmengden er for stor.",
                        source="observed", known_at=known_at, known_at_reason="")
                    transaction.set_rollback(True)
            except ValidationError as error:
                errors = error.message_dict
                asked = "known_at_reason" in errors
            assert needs_known_at_reason(known_at) == asked, days
            assert set(errors) <= {"known_at_reason"}, errors  # nothing else stood in the way
        assert needs_known_at_reason(today - timedelta(days=31)) and not needs_known_at_reason(
            today - timedelta(days=30))
