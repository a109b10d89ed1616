"""A little sick-leave history for the demo organisation (`tidsnok demo`).

Everything goes through the absence services, as the demo manager Lene Leder
(leder@tidsnok.test, manager of Hjemmetjenesten) for her own unit and as the
system (actor None) elsewhere, so the history has its cases, deadlines,
timeline entries and audit events like real use.

Deterministic and idempotent: the dates are counted from the day the demo is
first loaded, every episode carries a demo id (external_id "DEMO-…"), and an
episode that is already there is left alone, with everything that hangs on it.
Running the demo again adds nothing.
"""

from datetime import date, timedelta

from django.utils import timezone

from tidsnok.absence import services
from tidsnok.absence.models import Episode
from tidsnok.org.models import Organisation, Person, User

MANAGER_EMAIL = "leder@tidsnok.test"
EMPLOYEE_EMAIL = "ansatt@tidsnok.test"


def _plain_staff(org: Organisation, unit_code: str) -> list[Person]:
    """People of a unit without a login or a role, in employee-number order."""
    return list(
        Person.objects.filter(organisation=org, unit__code=unit_code, user__isnull=True, roles__isnull=True)
        .order_by("employee_number")
    )


def load_demo_absence(org: Organisation) -> int:
    """Add the demo's sick-leave history; returns how many episodes were added."""
    today = timezone.localdate()
    manager = User.objects.get(email=MANAGER_EMAIL)
    anne = Person.objects.get(organisation=org, email=EMPLOYEE_EMAIL)
    home_care = _plain_staff(org, "HJEM")
    nursing_home = _plain_staff(org, "SYKE")
    school = _plain_staff(org, "SOLB")
    added = 0

    def episode(demo_id, actor, person, start: date, **fields):
        nonlocal added
        external_id = f"DEMO-{demo_id}"
        found = Episode.objects.filter(organisation=org, external_id=external_id).first()
        if found is not None:
            return found, False
        added += 1
        return services.register_episode(actor, person=person, start=start, external_id=external_id, **fields), True

    # Anne Ansatt: 100 % doctor-certified since 20 days ago, still going on; the
    # follow-up plan made with her last week, not yet answered or sent.
    anne_episode, new = episode("ANNE", manager, anne, today - timedelta(days=20), grade=100, certified="doctor")
    if new:
        services.save_plan(
            manager, anne_episode.case,
            work_tasks_and_capacity=(
                "Anne kan ikke ta tunge stell eller løft nå. Hun kan gjøre telefonoppfølging av brukere, "
                "legemiddelbestilling og opplæring av nye vikarer, noen timer om dagen."
            ),
            employer_measures=(
                "Anne fritas fra kveldsvakter og tunge stell. Vi prøver kortere dager med kontoroppgaver "
                "fra neste uke, og vurderer omfanget sammen hver fredag."
            ),
            assisted_measures="Vurdere tilretteleggingstilskudd fra NAV hvis kontoroppgavene krever hjelpemidler.",
            further_follow_up=(
                "Samtale hver fredag med Lene. Dialogmøte 1 innen uke 7 hvis hun fortsatt er sykmeldt."
            ),
            made_on=today - timedelta(days=6),
        )

    # A colleague on graded leave: 100 % for a month, then 50 %; the plan was made
    # and sent to the doctor in time, and dialogue meeting 1 held.
    if home_care:
        start = today - timedelta(days=62)
        graded, new = episode("GRADED", manager, home_care[0], start, grade=100, certified="doctor")
        if new:
            services.set_grade(manager, graded, graded.version, from_date=start + timedelta(days=31), grade=50)
            case = graded.case
            version = services.save_plan(
                manager, case,
                work_tasks_and_capacity="Kan ta dagvakter med lette stell og dokumentasjon, halv stilling.",
                employer_measures="Faste dagvakter, ingen nattevakter; fast kollega på tunge stell.",
                further_follow_up="Ny vurdering av graden ved neste sykmelding; samtale annenhver uke.",
                made_on=start + timedelta(days=19),
            )
            services.record_plan_sent(manager, version, recipient="doctor", sent_on=start + timedelta(days=21))
            meeting = services.invite_meeting(manager, case, kind="dialogue_1", planned_on=start + timedelta(days=40),
                                              participants=["employee", "manager", "doctor"])
            services.record_meeting_held(
                manager, meeting, meeting.version, held_on=start + timedelta(days=40),
                minutes="Gikk gjennom planen. Enige om 50 % fra neste uke, med faste dagvakter.",
            )

    # Work-related: three weeks' doctor-certified absence after a period with too
    # much work, now over; the case needs a job-side measure before it can close.
    if len(home_care) > 1:
        episode("WORK", manager, home_care[1], today - timedelta(days=40), end=today - timedelta(days=19), grade=100,
                certified="doctor", work_related="fully", factors=["workload"])

    # A few short self-certified absences, here and elsewhere (registered by the system, as an import would).
    shorts = [
        ("SHORT-1", manager, home_care[2:3], 75, 2),
        ("SHORT-2", manager, home_care[3:4], 33, 1),
        ("SHORT-3", None, nursing_home[0:1], 51, 3),
        ("SHORT-4", None, nursing_home[1:2], 12, 2),
        ("SHORT-5", None, school[0:1], 27, 1),
    ]
    for demo_id, actor, people, days_ago, length in shorts:
        if people:
            start = today - timedelta(days=days_ago)
            episode(demo_id, actor, people[0], start, end=start + timedelta(days=length - 1), certified="self")
    return added

