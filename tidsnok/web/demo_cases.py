"""Demo cases for Eksempel kommune, so a first look shows the spine at work:
deadlines met and late, a measure with the employee's view, HR pulled in, and a
manager shut out of a case where she is a party. Loaded once; running the demo
again adds nothing."""

from datetime import timedelta

from django.utils import timezone

from tidsnok.cases import services
from tidsnok.cases.models import Case, EntryKind, Kind, MeasureKind, Source
from tidsnok.org.models import Person

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
