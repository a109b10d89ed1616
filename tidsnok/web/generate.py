"""`tidsnok generate`: a deterministic, realistic organisation for load tests and capacity planning.

Everything is written through the rooms' own services, as the application would
write it, so that the audit chain, the deadlines, the timelines and the
reminders' inputs are what real use would leave behind:

- org: a unit tree root > sector > department > unit (10-40 people per unit),
  a staff sector with an HR department, managers of every unit (deputies in
  the larger ones), HR advisers for the whole organisation and per sector,
  safety representatives per department, AMU members and an administrator.
  Everyone has a login (one shared password, hashed once); HR advisers and
  the administrator have a TOTP authenticator (the demo's per-installation
  secret, `demo.demo_totp_secret`), so `tidsnok bench load` can log them in.
- absence: Y years of sick-leave history at about 6 % of working days: many
  short self-certified episodes, shorter doctor-certified ones, and a long tail
  of long doctor-certified ones, some graded, some work-related. Registered as
  the payroll import would (actor None); long ones open follow-up cases, which
  the responsible manager follows up (plan, sending to the doctor, dialogue
  meeting 1, job-side measures), in time or late, and closes when the absence
  is over; frequent-absence flags are raised, and half of them handled.
- cases: psychosocial concerns, conflicts, harassment and violence incidents
  opened by the manager with "when I first knew" in the past, with
  conversations, assessments, measures, follow-ups and conclusions dated when
  they happened (in time or late), some closed.
- whistleblowing: reports through the channel (named, confidential and
  anonymous), acknowledged, assessed, investigated, some closed with feedback.

Dates are passed explicitly (no clock travel): what happened in the past is
dated in the past (known_at, occurred_on, start, made_on, held_on); what the
services stamp themselves (created_at, recorded_at, closed_at and the audit
events' times) is the time of the run. The same seed on the same day gives the
same organisation.

Each unit's people and history are written in one transaction (the services'
own transactions become savepoints), which keeps PostgreSQL's commits and
SQLite's checkpoints from dominating the run.
"""

import os
import random
import time
import unicodedata
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from tidsnok.access.policy import AccessDenied
from tidsnok.versioning import StaleVersion

# What a service may refuse; the generator counts it and goes on.
REFUSALS = (ValidationError, AccessDenied, StaleVersion)

SECTORS = [
    ("Helse og omsorg", ["Hjemmetjenesten", "Sykehjem", "Bo og aktivitet", "Rus og psykisk helse", "Legetjenester"]),
    ("Oppvekst", ["Skoler", "Barnehager", "PPT og barnevern", "Kulturskole"]),
    ("Teknikk og miljø", ["Vei og park", "Vann og avløp", "Eiendom", "Brann og redning"]),
    ("Samfunn og kultur", ["Kultur", "NAV kommune", "Bibliotek", "Idrett og frivillighet"]),
]
UNIT_WORDS = ["sone nord", "sone sør", "sone øst", "sone vest", "sentrum", "avdeling 1", "avdeling 2",
              "avdeling 3", "team A", "team B", "dag", "natt", "Solbakken", "Bjørkelia", "Granly", "Furuly",
              "Lia", "Haugen", "Elvebakken", "Sjøsiden"]
POSITIONS = {
    "Helse og omsorg": ["Helsefagarbeider", "Sykepleier", "Assistent", "Vernepleier", "Fagarbeider"],
    "Oppvekst": ["Lærer", "Barnehagelærer", "Fagarbeider", "Assistent", "Miljøterapeut"],
    "Teknikk og miljø": ["Ingeniør", "Fagarbeider", "Driftsoperatør", "Brannkonstabel", "Vaktmester"],
    "Samfunn og kultur": ["Rådgiver", "Konsulent", "Bibliotekar", "Veileder", "Kulturarbeider"],
    "Stab og støtte": ["Rådgiver", "Konsulent", "Controller", "IT-konsulent", "Arkivar"],
}
FIRST = ["Kari", "Ola", "Ingrid", "Lars", "Sofie", "Magnus", "Nora", "Henrik", "Emma", "Jonas", "Sara", "Erik",
         "Ida", "Anders", "Maja", "Sindre", "Hanne", "Tor", "Linn", "Amir", "Astrid", "Bjørn", "Camilla", "Daniel",
         "Eva", "Fredrik", "Guro", "Håkon", "Iselin", "Jan", "Kristin", "Leif", "Marit", "Nils", "Oda", "Per",
         "Ragnhild", "Sigurd", "Thea", "Vegard", "Wenche", "Yusuf", "Zofia", "Aisha", "Mohammed", "Agnieszka"]
LAST = ["Nordmann", "Hansen", "Johansen", "Olsen", "Larsen", "Andersen", "Pedersen", "Nilsen", "Kristiansen",
        "Jensen", "Karlsen", "Berg", "Haugen", "Hagen", "Bakke", "Ali", "Eriksen", "Johnsen", "Solberg", "Dahl",
        "Lie", "Moen", "Strand", "Lund", "Jacobsen", "Halvorsen", "Ahmed", "Nowak", "Kowalska", "Vik", "Aas",
        "Myhre", "Sæther", "Lunde", "Iversen", "Amundsen", "Nguyen", "Holm", "Ruud", "Knutsen"]

# Episodes per person-year at propensity 1 (see _episodes): about 6 % of working days in all.
SELF_RATE, SHORT_DOCTOR_RATE, LONG_DOCTOR_RATE = 4.2, 0.9, 0.2
PSYCHOSOCIAL_PER_PERSON_YEAR = 1 / 60
REPORTS_PER_PERSON_YEAR = 1 / 300
MANAGER_KINDS_MIX = [("psychosocial", 40), ("conflict", 30), ("harassment", 15), ("violence", 15)]
SOURCES = {"psychosocial": ["employee_told", "observed", "colleague", "survey", "safety_rep"],
           "conflict": ["employee_told", "colleague", "observed"],
           "harassment": ["employee_told", "safety_rep", "colleague"],
           "violence": ["observed", "employee_told", "safety_rep"]}
FACTORS = {"psychosocial": ["workload", "role", "emotional", "support"], "conflict": ["conflict", "support"],
           "harassment": ["harassment", "conflict"], "violence": ["violence", "emotional"]}
TEXTS = {
    "description": ["Ansatt forteller om høy arbeidsbelastning over tid og dårlig søvn.",
                    "Uenighet i teamet om fordeling av vakter har ført til en fastlåst konflikt.",
                    "Ansatt opplever nedsettende kommentarer fra en kollega i møter.",
                    "Beboer truet ansatt under stell; ansatt er preget av hendelsen.",
                    "Flere ansatte har tatt opp uklare roller etter omorganiseringen."],
    "conversation": ["Samtale med den ansatte om situasjonen og hva som kan hjelpe.",
                     "Oppfølgingssamtale: den ansatte beskriver bedring, men fortsatt belastning.",
                     "Samtale med begge parter hver for seg."],
    "assessment": ["Vurdert ut fra samtalen og kjennskap til arbeidssituasjonen.",
                   "Vurderingen bygger på samtaler med den ansatte og verneombudet."],
    "measure": ["Justere vaktplanen slik at belastningen fordeles jevnere.", "Avklare roller og ansvar i teamet.",
                "Tilby samtaler med bedriftshelsetjenesten.", "Gjennomgå rutiner for alenearbeid.",
                "Faste ukentlige oppfølgingsmøter med leder."],
    "follow_up": ["Tiltaket er gjennomført; den ansatte opplever det som en lettelse.",
                  "Tiltaket har delvis virket; vi fortsetter oppfølgingen."],
    "conclusion": ["Situasjonen er avklart og tiltakene har hatt effekt."],
    "evaluation": ["Tiltakene er gjennomført og evaluert sammen med den ansatte."],
    "report": ["Jeg har sett at innkjøp gjøres utenom avtale med en leverandør som en leder kjenner.",
               "Det er gjentatte brudd på rutinene for legemiddelhåndtering på avdelingen.",
               "En leder holder tilbake informasjon om avvik fra tilsyn.",
               "Pasientopplysninger blir delt i en uoffisiell chattegruppe."],
}


@dataclass
class Person:
    """What the generator keeps of a person while it runs."""

    pk: int
    unit_code: str
    user: object = None
    row: object = None
    propensity: float = 1.0
    manager: bool = False


@dataclass
class Stats:
    people: int = 0
    units: int = 0
    episodes: int = 0
    sick_leave_cases: int = 0
    cases: dict = field(default_factory=dict)
    entries: int = 0
    measures: int = 0
    closed: int = 0
    reports: int = 0
    flags_handled: int = 0
    lost_days: float = 0.0
    possible_days: float = 0.0
    refused: list = field(default_factory=list)
    refused_count: int = 0

    def refuse(self, what, error):
        self.refused_count += 1
        if len(self.refused) < 5:
            self.refused.append(f"{what}: {error}")


def _slug(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.lower().replace("ø", "o").replace("æ", "ae").replace("å", "a"))
    return "".join(c for c in text if c.isalnum() or c == ".")


def _weekdays_between(first: date, last: date) -> int:
    """Monday to Friday from first to last, both included (holidays ignored: an estimate)."""
    if last < first:
        return 0
    days = (last - first).days + 1
    weeks, rest = divmod(days, 7)
    count = weeks * 5
    for i in range(rest):
        if (first + timedelta(days=weeks * 7 + i)).weekday() < 5:
            count += 1
    return count


class Generator:
    def __init__(self, *, people: int, years: float, seed: int, password: str, out):
        self.n = people
        self.years = years
        self.seed = seed
        self.password = password
        self.rng = random.Random(seed)
        self.out = out
        self.today = timezone.localdate()
        self.first_day = self.today - timedelta(days=round(365.25 * years))
        self.stats = Stats()
        self.number = 0
        self.users = {}  # person pk -> User, one instance each (the scope caches live on it)

    # --- organisation --------------------------------------------------------------------------

    def plan_units(self):
        """[(code, name, parent code, sector name, size or 0)] for the whole tree, root first."""
        rng = self.rng
        units = [("ROOT", f"Generert kommune {self.seed}", None, "Stab og støtte", 0)]
        staff_size = max(10, self.n // 60)
        remaining = self.n - staff_size
        sizes = []
        while remaining > 0:
            size = min(remaining, int(rng.triangular(10, 40, 18)))
            if remaining - size < 10 and sizes:
                size = remaining  # the last unit takes the rest (at most 49)
            sizes.append(size)
            remaining -= size
        n_units = len(sizes)
        n_departments = max(1, round(n_units / 5))
        n_sectors = min(len(SECTORS), max(1, round(n_departments / 4)))
        # Sectors and departments, round robin, then units spread over the departments.
        departments = []
        for d in range(n_departments):
            sector_index = d % n_sectors
            sector_name, department_names = SECTORS[sector_index]
            name = department_names[(d // n_sectors) % len(department_names)]
            if d >= n_sectors * len(department_names):
                name = f"{name} {d // (n_sectors * len(department_names)) + 1}"
            departments.append((f"D{d + 1:03d}", name, f"S{sector_index + 1}", sector_name))
        for s in range(n_sectors):
            units.append((f"S{s + 1}", SECTORS[s][0], "ROOT", SECTORS[s][0], 0))
        units.append(("STAB", "Stab og støtte", "ROOT", "Stab og støtte", 0))
        units.append(("HR", "HR og personal", "STAB", "Stab og støtte", staff_size))
        for code, name, parent, sector in departments:
            units.append((code, name, parent, sector, 0))
        for i, size in enumerate(sizes):
            code, name, _parent, sector = departments[i % n_departments]
            word = UNIT_WORDS[(i // n_departments) % len(UNIT_WORDS)]
            suffix = "" if i < n_departments * len(UNIT_WORDS) else f" {i // (n_departments * len(UNIT_WORDS)) + 1}"
            units.append((f"U{i + 1:04d}", f"{name}, {word}{suffix}", code, sector, size))
        return units

    def new_person(self, org, unit, sector: str, position: str | None = None) -> Person:
        from tidsnok.org import services as org_services

        rng = self.rng
        self.number += 1
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        email = f"{_slug(name.replace(' ', '.'))}.{self.number}@gen{self.seed}.tidsnok.test"
        start = self.first_day - timedelta(days=rng.randint(30, 365 * 15))
        if rng.random() < 0.1:  # hired during the period
            start = self.first_day + timedelta(days=rng.randint(0, max(0, (self.today - self.first_day).days - 30)))
        row, _ = org_services.save_person(
            None, org, f"G{self.seed}-{self.number:06d}", name=name, email=email, unit_id=unit.pk,
            position=position or rng.choice(POSITIONS[sector]),
            position_percent=rng.choice([100] * 7 + [80, 75, 60, 50]), start_date=start,
        )
        user = org_services.link_login(None, row, email)
        self.users[row.pk] = user
        self.stats.people += 1
        # Propensity to be absent: most people little, a few a lot (mean about 1).
        propensity = min(6.0, rng.lognormvariate(-0.35, 0.85))
        return Person(pk=row.pk, unit_code=unit.code, user=user, row=row, propensity=propensity)

    # --- absence -------------------------------------------------------------------------------

    def _episodes(self, person: Person):
        """[(start, end or None, certified, grade changes [(from, grade)], work_related)] for one person."""
        rng = self.rng
        hired = person.row.start_date or self.first_day
        first = max(self.first_day, hired)
        self.stats.possible_days += _weekdays_between(first, self.today) * person.row.position_percent / 100
        rate = (SELF_RATE + SHORT_DOCTOR_RATE + LONG_DOCTOR_RATE) * person.propensity / 365.25
        # Start four months early, so that the history opens with the long absences already running.
        episodes, day = [], max(hired, self.first_day - timedelta(days=120))
        while True:
            day += timedelta(days=max(1, round(rng.expovariate(rate)))) if rate > 0 else timedelta(days=10**5)
            while day.weekday() >= 5:
                day += timedelta(days=1)
            if day >= self.today:
                break
            pick = rng.random() * (SELF_RATE + SHORT_DOCTOR_RATE + LONG_DOCTOR_RATE)
            grades, related = [], "no"
            if pick < SELF_RATE:
                certified, length = "self", rng.choices([1, 2, 3], weights=[45, 35, 20])[0]
                grades = [(day, 100)]
            elif pick < SELF_RATE + SHORT_DOCTOR_RATE:
                certified, length = "doctor", rng.randint(4, 16)
                grades = [(day, 100)]
            else:
                certified = "doctor"
                length = min(365, 17 + int(rng.lognormvariate(3.4, 0.9)))
                roll = rng.random()
                if roll < 0.25:  # graded from the start
                    grades = [(day, rng.choice([40, 50, 60]))]
                elif roll < 0.55:  # full leave, then graded back to work
                    grades = [(day, 100), (day + timedelta(days=rng.randint(14, max(15, length - 7))),
                                           rng.choice([40, 50, 60]))]
                else:
                    grades = [(day, 100)]
            if certified == "doctor" and rng.random() < 0.12:
                related = rng.choice(["partly", "partly", "fully"])
            end = day + timedelta(days=length - 1)
            if end >= self.today:
                if certified == "self":
                    end = self.today - timedelta(days=1) if day < self.today - timedelta(days=1) else day
                elif rng.random() < 0.5:
                    end = None  # ongoing, open-ended certificate
            grades = [(d, g) for d, g in grades if end is None or d <= end]
            episodes.append((day, end, certified, grades, related))
            if end is None:
                break
            day = end + timedelta(days=1)
        for start, end, _certified, grades, _related in episodes:
            last = min(end or self.today, self.today)
            for i, (from_date, grade) in enumerate(grades):
                until = grades[i + 1][0] - timedelta(days=1) if i + 1 < len(grades) else last
                self.stats.lost_days += (_weekdays_between(max(from_date, first), min(until, last)) * grade / 100
                                         * person.row.position_percent / 100)
        return episodes

    def absence_history(self, person: Person, managers: dict):
        from tidsnok.absence import services as absence
        from tidsnok.absence.models import Episode

        rng = self.rng
        for start, end, certified, grades, related in self._episodes(person):
            factors = [rng.choice(["workload", "conflict", "emotional"])] if related != "no" else []
            try:
                episode = absence.register_episode(
                    None, person=person.row, start=start, end=end, grade=grades[0][1], certified=certified,
                    work_related=related, factors=factors, external_id=f"GEN{self.seed}-{self.stats.episodes + 1}",
                )
            except ValidationError as error:
                self.stats.refuse("episode", error)
                continue
            self.stats.episodes += 1
            for from_date, grade in grades[1:]:
                episode = Episode.objects.get(pk=episode.pk)
                absence.set_grade(None, episode, episode.version, from_date=from_date, grade=grade)
        self.handle_flags(person, managers)

    def handle_flags(self, person: Person, managers: dict):
        from tidsnok.absence import services as absence
        from tidsnok.absence.models import RecurrenceFlag

        actor = managers.get(person.unit_code)
        if actor is None or actor.pk == person.user.pk:
            return
        for flag in RecurrenceFlag.objects.filter(person_id=person.pk, handled_on__isnull=True):
            if self.rng.random() < 0.5:
                absence.handle_flag(actor, flag, "Samtale om fraværet; ingen tilrettelegging ønsket nå.")
                self.stats.flags_handled += 1

    def follow_up_sick_leave(self, org):
        """The responsible manager follows up every sick-leave case: plan, sending, meeting, measures, closing."""
        from tidsnok.absence import services as absence
        from tidsnok.absence.models import Episode, GradePeriod
        from tidsnok.cases import services as case_services
        from tidsnok.cases.models import Case

        rng = self.rng
        for case in Case.objects.filter(organisation=org, kind="sick_leave").select_related("owner").order_by("pk"):
            self.stats.sick_leave_cases += 1
            actor = self.users.get(case.owner_id)
            if actor is None:
                continue
            episodes = list(Episode.objects.filter(case=case).order_by("start"))
            period_start = episodes[0].period_start
            ended = all(e.end is not None for e in episodes) and max(e.end for e in episodes) < self.today
            last_day = max((e.end or self.today) for e in episodes)
            diligent = rng.random() < 0.85  # some managers never get round to it
            try:
                if diligent:
                    made_on = period_start + timedelta(days=rng.choice([14, 20, 25, 27, 27, 33, 40]))
                    if made_on <= min(self.today, last_day + timedelta(days=7)):
                        version = absence.save_plan(
                            actor, case, work_tasks_and_capacity="Kan utføre lettere oppgaver i redusert tempo.",
                            employer_measures="Tilpasset turnus og færre tunge løft.",
                            further_follow_up="Ny samtale om to uker.", made_on=made_on,
                        )
                        sent_on = made_on + timedelta(days=rng.choice([0, 0, 1, 3, 9]))
                        if sent_on <= self.today:
                            absence.record_plan_sent(actor, version, recipient="doctor", sent_on=sent_on)
                    full = GradePeriod.objects.filter(episode__case=case, grade__gte=100).exists()
                    planned_on = period_start + timedelta(days=rng.choice([35, 42, 45, 48, 55]))
                    if full and planned_on <= last_day and planned_on < self.today:
                        meeting = absence.invite_meeting(actor, case, kind="dialogue_1", planned_on=planned_on,
                                                         participants=["employee", "manager", "doctor"])
                        absence.record_meeting_held(actor, meeting, meeting.version, held_on=planned_on,
                                                    minutes="Gjennomgått plan og muligheter for gradert arbeid.")
                if any(e.work_related != "no" for e in episodes):
                    measure = case_services.add_measure(
                        actor, case, what=rng.choice(TEXTS["measure"]), kind="organisational", area="workload",
                        owner=case.owner, due=min(self.today, period_start + timedelta(days=60)),
                    )
                    self.stats.measures += 1
                    if ended:
                        case_services.update_measure(actor, measure, measure.version, status="done")
                case.refresh_from_db()
                if ended and diligent and rng.random() < 0.85:
                    case_services.close_case(actor, case, rng.choice(TEXTS["evaluation"]), case.version)
                    self.stats.closed += 1
            except REFUSALS as error:  # counted and shown at the end, never hidden
                self.stats.refuse(f"sick-leave case {case.number}", error)

    # --- psychosocial cases --------------------------------------------------------------------

    def psychosocial_cases(self, org, staff: list[Person], managers: dict, unit_people: dict):
        from tidsnok.cases import services as case_services
        from tidsnok.cases.models import Case

        rng = self.rng
        count = round(len(staff) * self.years * PSYCHOSOCIAL_PER_PERSON_YEAR)
        span = (self.today - self.first_day).days
        for i in range(count):
            kind = rng.choices([k for k, _w in MANAGER_KINDS_MIX], weights=[w for _k, w in MANAGER_KINDS_MIX])[0]
            concerned = rng.choice(staff)
            opener = managers.get(concerned.unit_code)
            if opener is None:
                continue
            colleagues = [p for p in unit_people[concerned.unit_code] if p.pk != concerned.pk and not p.manager]
            parties = []
            if kind in ("harassment", "conflict") and colleagues:
                parties = [(rng.choice(colleagues).row, "accused" if kind == "harassment" else "other")]
            known_at = self.first_day + timedelta(days=rng.randint(0, max(0, span - 2)))
            late_registration = (self.today - known_at).days > 30
            try:
                case = case_services.open_case(
                    opener, kind=kind, concerns=[concerned.row], parties=parties,
                    factors=rng.sample(FACTORS[kind], k=1), description=rng.choice(TEXTS["description"]),
                    source=rng.choice(SOURCES[kind]), known_at=known_at,
                    known_at_reason="Registrert i tidsnok etter innføringen; dokumentert på papir først."
                    if late_registration else "",
                )
                self.stats.cases[kind] = self.stats.cases.get(kind, 0) + 1
                case = Case.objects.select_related("owner").get(pk=case.pk)
                actor = self.users.get(case.owner_id, opener)
                self._work_case(case, actor, concerned, known_at)
            except REFUSALS as error:
                self.stats.refuse(f"{kind} case", error)

    def _day(self, day: date) -> date | None:
        return day if day <= self.today else None

    def _work_case(self, case, actor, concerned: Person, known_at: date):
        from tidsnok.cases import services as case_services
        from tidsnok.cases.models import Case, Measure

        rng = self.rng
        owner = case.owner
        # The first conversation: most within the deadline, some late.
        talk = self._day(known_at + timedelta(days=rng.choice([0, 1, 2, 3, 5, 6, 9, 14, 21])))
        if talk is None:
            return
        participants = [concerned.pk] + ([owner.pk] if owner else [])
        case_services.add_entry(actor, case, kind="conversation", occurred_on=talk,
                                text=rng.choice(TEXTS["conversation"]), data={"participants": participants})
        self.stats.entries += 1
        assessed = self._day(talk + timedelta(days=rng.choice([0, 2, 5, 8, 14, 30])))
        if assessed is None:
            return
        case_services.add_entry(actor, case, kind="assessment", occurred_on=assessed,
                                text=rng.choice(TEXTS["assessment"]), data={
                                    "health_risk": rng.choice(["low", "medium", "medium", "high"]),
                                    "work_related": rng.choice(["yes", "yes", "no", "uncertain"]),
                                    "affects_work_ability": rng.random() < 0.3,
                                    "affects_several": rng.random() < 0.2, "factors_confirmed": [],
                                })
        self.stats.entries += 1
        measures = []
        for _ in range(rng.choice([1, 1, 2, 2, 3])):
            due = assessed + timedelta(days=rng.choice([14, 21, 30, 45, 60]))
            measures.append(case_services.add_measure(
                actor, case, what=rng.choice(TEXTS["measure"]), kind=rng.choice(["organisational", "individual"]),
                owner=owner or concerned.row, due=due, area=rng.choice(["workload", "organisation", "tasks", ""]),
            ))
            self.stats.measures += 1
        all_done = True
        for measure in measures:
            followed = self._day(measure.due + timedelta(days=rng.choice([-5, -2, 0, 3, 10, 20])))
            if followed is None or followed < assessed:
                all_done = False
                continue
            case_services.add_entry(actor, case, kind="follow_up", occurred_on=followed,
                                    text=rng.choice(TEXTS["follow_up"]), measure=measure)
            self.stats.entries += 1
            current = Measure.objects.get(pk=measure.pk)
            case_services.update_measure(actor, current, current.version, status="done")
        if all_done and (self.today - known_at).days > 90 and rng.random() < 0.7:
            concluded = self._day(max(m.due for m in measures) + timedelta(days=rng.randint(0, 14)))
            if concluded is not None:
                case_services.add_entry(actor, case, kind="conclusion", occurred_on=concluded,
                                        text=rng.choice(TEXTS["conclusion"]))
                self.stats.entries += 1
                case = Case.objects.get(pk=case.pk)
                case_services.close_case(actor, case, rng.choice(TEXTS["evaluation"]), case.version)
                self.stats.closed += 1

    # --- whistleblowing ------------------------------------------------------------------------

    def whistleblowing(self, org, staff: list[Person]):
        from tidsnok.cases.models import Case
        from tidsnok.whistleblowing import services as wb
        from tidsnok.whistleblowing.models import Report

        rng = self.rng
        count = max(1, round(len(staff) * self.years * REPORTS_PER_PERSON_YEAR))
        for i in range(count):
            anonymity = rng.choice(["named", "confidential", "anonymous", "anonymous"])
            reporter = rng.choice(staff)
            try:
                submitted = wb.submit_report(
                    None if anonymity == "anonymous" else reporter.user, org,
                    category=rng.choice(["work_environment", "health_safety", "financial_crime", "data_security",
                                         "harassment", "abuse_of_authority"]),
                    anonymity=anonymity, description=rng.choice(TEXTS["report"]), when="I vår", involved="",
                )
            except wb.ChannelBusy:
                time.sleep(61)  # the channel takes 30 a minute; only very large runs meet it
                continue
            self.stats.reports += 1
            report = submitted.report
            handler = report.case.handlers.filter(removed_at__isnull=True).order_by("pk").first()
            actor = self.users.get(handler.person_id) if handler else None
            if actor is None:
                continue
            try:
                wb.acknowledge(actor, report)
                report = Report.objects.get(pk=report.pk)
                if rng.random() < 0.8:
                    report = wb.record_assessment(actor, report, report.version, assessment="whistleblowing",
                                                  reasoning="Gjelder kritikkverdige forhold i virksomheten.")
                    wb.add_investigation_step(actor, report, self.today,
                                              "Samtaler med involverte og gjennomgang av dokumenter.")
                    if rng.random() < 0.5:  # only an assessed report may close
                        report = Report.objects.get(pk=report.pk)
                        case = Case.objects.get(pk=report.case_id)
                        wb.close_with_feedback(actor, report, case.version,
                                               evaluation="Forholdene er undersøkt og rettet.",
                                               feedback="Vi har undersøkt saken og gjort endringer i rutinene.")
                        self.stats.closed += 1
            except REFUSALS as error:
                self.stats.refuse(f"report {report.pk}", error)

    # --- the whole run -------------------------------------------------------------------------

    def run(self):
        from allauth.mfa.models import Authenticator
        from allauth.mfa.totp.internal.auth import TOTP

        from tidsnok.cases import services as case_services
        from tidsnok.org import services as org_services
        from tidsnok.org.models import Organisation, Role, Unit, User
        from tidsnok.web.management.commands.demo import demo_totp_secret

        out, rng = self.out, self.rng
        name = f"Generert kommune {self.seed}"
        if Organisation.objects.filter(name=name).exists():
            raise RuntimeError(f"«{name}» is already in this database: use another --seed or a new database.")
        plan = self.plan_units()
        with transaction.atomic():
            org = org_services.create_organisation(None, name, f"9{self.seed:08d}"[-9:])
            case_services.ensure_default_factors(None, org)
            units: dict[str, Unit] = {}
            for code, unit_name, parent, _sector, _size in plan:
                units[code], _ = org_services.save_unit(None, org, code, unit_name, units.get(parent))
            self.stats.units = len(units)
        sector_of = {code: sector for code, _n, _p, sector, _s in plan}
        sized = [(code, size) for code, _n, _p, _s, size in plan if size]
        out(f"organisation: {len(units)} units ({len(sized)} with staff), {self.n} people, "
            f"{self.years:g} year(s) of history from {self.first_day:%d.%m.%Y}")

        managers: dict[str, object] = {}  # unit code -> the manager's User
        unit_people: dict[str, list[Person]] = {}
        staff: list[Person] = []
        hr_people: list[Person] = []
        started = time.perf_counter()
        # People unit by unit, each unit in one transaction; managers of the
        # levels above are drawn from their staff unit (the HR unit) later.
        for index, (code, size) in enumerate(sized):
            unit = units[code]
            with transaction.atomic():
                people = [self.new_person(org, unit, sector_of[code]) for _ in range(size)]
                people[0].manager = True
                org_services.assign_role(None, people[0].row, Role.MANAGER, unit, starts_on=people[0].row.start_date)
                managers[code] = people[0].user
                if size > 25:
                    people[1].manager = True
                    org_services.assign_role(None, people[1].row, Role.DEPUTY, unit, starts_on=people[1].row.start_date)
                unit_people[code] = people
                if code == "HR":
                    hr_people = people[1:]
                staff.extend(people)
            if (index + 1) % 20 == 0:
                out(f"  people: {len(staff)} in {time.perf_counter() - started:.0f} s")
        # Managers of sectors, departments, staff and the root; HR; safety reps; AMU; admin.
        with transaction.atomic():
            for code, unit_name, parent, sector, size in plan:
                if size:
                    continue
                boss = self.new_person(org, units[code], sector,
                                       position="Kommunedirektør" if code == "ROOT" else "Leder")
                boss.manager = True
                org_services.assign_role(None, boss.row, Role.MANAGER, units[code], starts_on=date(2015, 1, 1))
                managers[code] = boss.user
                boss.unit_code = code
                unit_people.setdefault(code, []).append(boss)
                staff.append(boss)
            # HR: a few advisers for the whole organisation, one per sector.
            org_wide = max(2, self.n // 1000)
            sectors = [code for code, *_rest in plan if code.startswith("S")]
            for i, person in enumerate(hr_people[: org_wide + len(sectors)]):
                unit = None if i < org_wide else units[sectors[i - org_wide]]
                org_services.assign_role(None, person.row, Role.HR, unit, starts_on=date(2015, 1, 1))
                TOTP.activate(person.user, demo_totp_secret(person.user.email))
            admin = hr_people[-1]
            org_services.assign_role(None, admin.row, Role.ADMIN, None, starts_on=date(2015, 1, 1))
            if not Authenticator.objects.filter(user=admin.user, type=Authenticator.Type.TOTP).exists():
                TOTP.activate(admin.user, demo_totp_secret(admin.user.email))
            departments = [code for code, *_rest in plan if code.startswith("D")]
            for code in departments:
                members = [p for u, _n, parent, _s, size in plan if parent == code for p in unit_people.get(u, [])
                           if not p.manager]
                if members:
                    rep = rng.choice(members)
                    org_services.assign_role(None, rep.row, Role.SAFETY_REP, units[code], starts_on=date(2020, 1, 1))
            for person in rng.sample([p for p in staff if not p.manager], k=min(3, len(staff))):
                org_services.assign_role(None, person.row, Role.AMU, None, starts_on=date(2022, 1, 1))
            # One password for every login, hashed once (Argon2 per user would dominate the run).
            User.objects.filter(pk__in=[p.user.pk for p in staff]).update(password=make_password(self.password))
        out(f"people, roles and logins: {time.perf_counter() - started:.0f} s")

        started = time.perf_counter()
        for index, (code, _size) in enumerate(sized):
            with transaction.atomic():
                for person in unit_people[code]:
                    self.absence_history(person, managers)
            if (index + 1) % 20 == 0:
                out(f"  absence: {index + 1}/{len(sized)} units, {self.stats.episodes} episodes, "
                    f"{time.perf_counter() - started:.0f} s")
        with transaction.atomic():
            for code, *_rest in plan:
                if code not in dict(sized):
                    for person in unit_people.get(code, []):
                        self.absence_history(person, managers)
        out(f"absence episodes: {self.stats.episodes} in {time.perf_counter() - started:.0f} s")
        started = time.perf_counter()
        with transaction.atomic():
            self.follow_up_sick_leave(org)
        out(f"sick-leave follow-up of {self.stats.sick_leave_cases} cases: {time.perf_counter() - started:.0f} s")
        started = time.perf_counter()
        with transaction.atomic():
            self.psychosocial_cases(org, [p for p in staff if not p.manager], managers, unit_people)
        out(f"cases {self.stats.cases}: {time.perf_counter() - started:.0f} s")
        started = time.perf_counter()
        self.whistleblowing(org, [p for p in staff if not p.manager])
        out(f"whistleblowing reports: {self.stats.reports} in {time.perf_counter() - started:.0f} s")
        return org


def database_size() -> str:
    """The size of the configured database on disk, in MB."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_database_size(current_database())")
            size = cursor.fetchone()[0]
        return f"{size / 1e6:,.1f} MB (pg_database_size)"
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        name = connection.settings_dict["NAME"]
        size = sum(os.path.getsize(p) for p in (str(name), f"{name}-wal") if os.path.exists(p))
        return f"{size / 1e6:,.1f} MB ({name})"
    return "unknown"
