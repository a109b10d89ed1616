"""Demo cases for Eksempel kommune, so a first look shows the spine at work:
deadlines met and late, a measure with the employee's view, HR pulled in, and a
manager shut out of a case where she is a party; and two risk assessments, one
completed and one in progress. Loaded once; running the demo again adds nothing."""

from datetime import timedelta

from django.utils import timezone

from tidsnok.cases import services
from tidsnok.cases.models import Case, EntryKind, Kind, MeasureKind, Source
from tidsnok.org.models import Person
from tidsnok.risk import services as risk
from tidsnok.risk.models import Assessment, Method, ParticipantRole

DEMO_MARK = "[demo]"


def _person(org, email):
    return Person.objects.select_related("user").get(organisation=org, user__email=email)


def load_demo_cases(org) -> int:
    if Case.objects.filter(organisation=org, description__startswith=DEMO_MARK).exists():
        return 0
    today = timezone.localdate()
    leder, ansatt, hr = _person(org, "leder@tidsnok.test"), _person(org, "ansatt@tidsnok.test"), _person(org, "hr@tidsnok.test")
    leder2 = _person(org, "leder2@tidsnok.test")
    colleague = Person.objects.filter(organisation=org, unit=ansatt.unit, user__isnull=True).order_by("employee_number").first()
    pupil_teacher = Person.objects.filter(organisation=org, unit=leder2.unit, user__isnull=True).order_by("employee_number").first()

    workload = services.open_case(
        leder.user, kind=Kind.PSYCHOSOCIAL, concerns=[ansatt], factors=["workload", "support"],
        description=f"{DEMO_MARK} Anne forteller at hun ikke rekker oppgavene på kveldsvakt og går hjem sliten.",
        source=Source.EMPLOYEE_TOLD, known_at=today - timedelta(days=12),
    )
    services.add_entry(leder.user, workload, kind=EntryKind.CONVERSATION, occurred_on=today - timedelta(days=8),
                       text="Samtale om arbeidsmengden på kveldsvakt. Anne ønsker færre brukere per vakt.",
                       data={"participants": [ansatt.pk, leder.pk]})
    measure = services.add_measure(leder.user, workload, what="Fordele brukerne på kveldsvakt på tre i stedet for to",
                                   kind=MeasureKind.ORGANISATIONAL, area="workload", owner=leder,
                                   due=today + timedelta(days=5))
    services.respond_to_measure(ansatt.user, measure, agrees=True, comment="Det vil hjelpe mye.")

    conflict = services.open_case(
        leder2.user, kind=Kind.CONFLICT, concerns=[pupil_teacher], factors=["conflict"],
        description=f"{DEMO_MARK} Uenighet i teamet om fordeling av inspeksjon; flere i teamet er berørt.",
        source=Source.OBSERVED, known_at=today - timedelta(days=20),
    )
    services.add_entry(leder2.user, conflict, kind=EntryKind.ASSESSMENT, occurred_on=today - timedelta(days=3),
                       data={"health_risk": "medium", "work_related": "yes", "affects_work_ability": False,
                             "affects_several": True, "factors_confirmed": ["conflict"]})

    if colleague is not None:
        services.open_case(
            hr.user, kind=Kind.HARASSMENT, concerns=[colleague], parties=[(leder, "accused")], factors=["harassment"],
            description=f"{DEMO_MARK} En ansatt opplever nedsettende kommentarer fra leder i møter.",
            source=Source.EMPLOYEE_TOLD, known_at=today - timedelta(days=2),
        )
    return Case.objects.filter(organisation=org, description__startswith=DEMO_MARK).count()


# --- risk assessments ---------------------------------------------------------------------------

RISK_TITLE_DONE = "Årlig kartlegging og risikovurdering"
RISK_TITLE_DRAFT = "Kartlegging og risikovurdering med undersøkelse"


def load_demo_risk(org) -> int:
    """A completed risk assessment of Hjemmetjenesten (a high workload risk and a medium one,
    each with its measure, an employee and the safety representative taking part, and the safety
    representative's comment) and a draft for Solbakken skole, through the risk services as the
    units' managers. Each is looked for by its unit and title: running the demo again adds
    nothing. Returns how many were added."""
    today = timezone.localdate()
    added = 0
    leder, ansatt = _person(org, "leder@tidsnok.test"), _person(org, "ansatt@tidsnok.test")
    verneombud, leder2 = _person(org, "verneombud@tidsnok.test"), _person(org, "leder2@tidsnok.test")

    if not Assessment.objects.filter(organisation=org, unit=leder.unit, title=RISK_TITLE_DONE).exists():
        started = today - timedelta(days=45)
        done = risk.start_assessment(leder.user, leder.unit, title=RISK_TITLE_DONE, method=Method.WORKSHOP,
                                     started_on=started)
        workload = risk.add_risk(
            leder.user, done, factor_code="workload",
            description="For mange brukere per ansatt på kveldsvakt; oppgaver blir liggende og de ansatte går "
                        "hjem slitne.",
            likelihood=4, consequence=3, current_measures="Innleie av vikar ved sykdom.")
        support = risk.add_risk(
            leder.user, done, factor_code="support",
            description="Nyansatte og vikarer får lite opplæring og vet ikke hvem de skal spørre.",
            likelihood=2, consequence=3)
        risk.add_action(leder.user, done, what="Tre ansatte i stedet for to på kveldsvakt fra neste turnus.",
                        owner=leder, due=today + timedelta(days=30), risk=workload)
        risk.add_action(leder.user, done, what="Fadderordning og sjekkliste for opplæring av nyansatte.",
                        owner=ansatt, due=today + timedelta(days=14), risk=support)
        risk.add_participant(leder.user, done, person=ansatt, role=ParticipantRole.EMPLOYEE,
                             took_part_on=today - timedelta(days=40))
        risk.add_participant(leder.user, done, person=verneombud, role=ParticipantRole.SAFETY_REP,
                             took_part_on=today - timedelta(days=40))
        done.refresh_from_db()
        risk.complete(leder.user, done, done.version, completed_on=today - timedelta(days=30),
                      summary="Arbeidsmengden på kveldsvakt er den største risikoen. Bemanningen økes fra neste "
                              "turnus, og nyansatte får fadder. Vi følger opp på personalmøtet hver måned.")
        risk.add_comment(verneombud.user, done, "Verneombudet støtter tiltakene. Vi bør se på om bemanningen "
                                                "på kveldsvakt holder også i feriene.")
        added += 1

    if not Assessment.objects.filter(organisation=org, unit=leder2.unit, title=RISK_TITLE_DRAFT).exists():
        draft = risk.start_assessment(leder2.user, leder2.unit, title=RISK_TITLE_DRAFT, method=Method.BOTH,
                                      started_on=today - timedelta(days=5))
        risk.add_risk(leder2.user, draft, factor_code="conflict",
                      description="Uenighet om fordelingen av inspeksjon i friminuttene.", likelihood=3,
                      consequence=2)
        added += 1
    return added
