"""`tidsnok generate`: a deterministic, realistic organisation for load tests and capacity planning.

What it builds:

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
  (at least one of each kind) opened by the manager with "when I first knew"
  in the past, with conversations, assessments, measures, follow-ups and
  conclusions dated when they happened (in time or late), some closed.
- whistleblowing: reports through the channel (named, confidential and
  anonymous), acknowledged, assessed, investigated, some closed with feedback.

How it is written (the issue allows "through the same services, or in bulk
with the same chain rules"):

- In bulk, where one change is a few plain rows: units, people, logins and
  roles, and the absence episodes that stay outside any follow-up case (about
  nine in ten: short self-certified and doctor-certified ones), with their
  grade, work-related factors and frequent-absence flags. The rows are what
  the services would write (tidsnok.org.services, absence.services.
  register_episode, whose rules from absence.rules decide the employer period,
  whether a case opens and when a flag is raised), and so are the audit events:
  the same actions, payloads, actor (None) and role, appended to the chain in
  the order of the changes (`append_events`, the one place that writes them).
- Through the services, where a change reaches the case spine (timelines,
  deadlines, escalation): every episode that opens or continues a follow-up
  case, grade changes, the managers' handling of flags, the whole follow-up
  (plans, sendings, meetings, measures, closing), the other cases and the
  whistleblowing reports. The bulk rows are written first, so the service
  sees the history it decides on (see absence_history).

Work is committed in chunks (about CHUNK_PEOPLE people, or CHUNK_CASES cases,
per transaction; the services' own transactions become savepoints), which
keeps commits and SQLite's checkpoints from dominating the run, and progress
is printed per chunk with the elapsed time.

Dates are passed explicitly (no clock travel): what happened in the past is
dated in the past (known_at, occurred_on, start, made_on, held_on); what the
services stamp themselves (created_at, recorded_at, closed_at, raised_on and
the audit events' times) is the time of the run. The same seed on the same day
gives the same organisation.
"""

import os
import random
import time
import unicodedata
from collections import Counter, defaultdict
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

# People per transaction in the people and absence stages, cases per transaction afterwards.
CHUNK_PEOPLE = 500
CHUNK_CASES = 200

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

    pk: int | None
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
    episodes_in_bulk: int = 0
    sick_leave_cases: int = 0
    cases: dict = field(default_factory=dict)
    entries: int = 0
    measures: int = 0
    closed: int = 0
    reports: int = 0
    flags_raised: int = 0
    flags_handled: int = 0
    lost_days: float = 0.0
    possible_days: float = 0.0
    refused: list = field(default_factory=list)
    refused_count: int = 0
    stages: dict = field(default_factory=dict)  # stage -> seconds, in the order run
    risk: dict = field(default_factory=dict)  # generate_risk's counts

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


def _chunks(items: list, size: int):
    for i in range(0, len(items), size):
        yield items[i:i + size]


# --- bulk writing with the audit chain's rules -----------------------------------------------------


def append_events(events: list[tuple]) -> None:
    """Append audit events for rows written in bulk: [(actor, action, obj, data, role)], in order.

    The one place where the generator writes audit events itself. Each event is
    what the service that makes the same change records (same action, object,
    payload, actor and role), and audit.services.record_many chains them exactly
    as record() would one by one (its head lock, masking, hashing and time
    stamps), so `tidsnok audit verify` holds."""
    from tidsnok.audit.services import record_many

    record_many([{"actor": actor, "action": action, "obj": obj, "data": data, "role": role}
                 for actor, action, obj, data, role in events])


class Bulk:
    """Rows and their audit events, written together by flush(): the rows with
    bulk_create, parents before children, then the events in the order they
    were added (their payloads, which need the new primary keys, are computed then)."""

    def __init__(self, models: list):
        self.order = models
        self.rows = defaultdict(list)
        self.events = []

    def add(self, obj):
        self.rows[type(obj)].append(obj)
        return obj

    def event(self, action: str, obj, data, role: str = "", actor=None):
        """`data`: the payload, or a function returning it once `obj` and its relatives have keys."""
        self.events.append((actor, action, obj, data, role))

    def flush(self):
        for model in self.order:
            rows = self.rows.pop(model, None)
            if rows:
                model.objects.bulk_create(rows, batch_size=500)
        if self.rows:
            raise RuntimeError(f"Bulk: no order for {sorted(m.__name__ for m in self.rows)}")
        if self.events:
            append_events([(actor, action, obj, data() if callable(data) else data, role)
                           for actor, action, obj, data, role in self.events])
            self.events = []


class Generator:
    def __init__(self, *, people: int, years: float, seed: int, password: str, out):
        self.n = people
        self.years = years
        self.seed = seed
        self.password = password
        self.rng = random.Random(seed)
        # The reports have their own stream: they are interleaved with the sick-leave
        # follow-up (see run), and the rest of the organisation must not depend on where.
        self.report_rng = random.Random(f"{seed}-whistleblowing")
        self.out = out
        self.today = timezone.localdate()
        self.first_day = self.today - timedelta(days=round(365.25 * years))
        self.stats = Stats()
        self.number = 0
        self.users = {}  # person pk -> User, one instance each (the scope caches live on it)

    def _bulk(self) -> Bulk:
        from tidsnok.absence.models import Episode, GradePeriod, RecurrenceFlag
        from tidsnok.org.models import Person as PersonRow
        from tidsnok.org.models import RoleAssignment, User

        return Bulk([User, PersonRow, RoleAssignment, Episode, GradePeriod, Episode.work_related_factors.through,
                     RecurrenceFlag])

    def _clock(self) -> tuple[float, float]:
        """Wall and CPU time now: on a shared machine the CPU time is the steadier figure."""
        return time.perf_counter(), time.process_time()

    def _stage(self, name: str, started: tuple[float, float], detail: str = "", minus=(0.0, 0.0)):
        """Print and keep a stage's wall and CPU seconds (less `minus`, time spent on something else)."""
        wall = time.perf_counter() - started[0] - minus[0]
        cpu = time.process_time() - started[1] - minus[1]
        self.stats.stages[name] = (wall, cpu)
        self.out(f"{name}{': ' + detail if detail else ''} in {wall:.1f} s ({cpu:.1f} s CPU)")

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

    def create_units(self, org, plan) -> dict:
        """The whole tree, level by level, as org.services.save_unit writes each unit:
        the row, its path and depth, and a `unit.created` event."""
        from tidsnok.org.models import Unit

        depth = {}
        for code, _name, parent, _sector, _size in plan:
            depth[code] = 0 if parent is None else depth[parent] + 1
        units: dict[str, Unit] = {}
        for level in sorted(set(depth.values())):
            rows = [Unit(organisation=org, code=code, name=name, parent=units.get(parent))
                    for code, name, parent, _sector, _size in plan if depth[code] == level]
            Unit.objects.bulk_create(rows, batch_size=500)
            for row in rows:
                row.path = row.compute_path()
                row.depth = row.path.count("/") - 2
                units[row.code] = row
            Unit.objects.bulk_update(rows, ["path", "depth"], batch_size=500)
        append_events([(None, "unit.created", units[code], {"code": code, "parent": parent}, "")
                       for code, _name, parent, _sector, _size in plan])
        return units

    def new_person(self, bulk: Bulk, org, unit, sector: str, position: str | None = None) -> Person:
        """A person with a login, as org.services.save_person and link_login write them."""
        from tidsnok.org.models import Person as PersonRow
        from tidsnok.org.models import User

        rng = self.rng
        self.number += 1
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        email = f"{_slug(name.replace(' ', '.'))}.{self.number}@gen{self.seed}.tidsnok.test"
        start = self.first_day - timedelta(days=rng.randint(30, 365 * 15))
        if rng.random() < 0.1:  # hired during the period
            start = self.first_day + timedelta(days=rng.randint(0, max(0, (self.today - self.first_day).days - 30)))
        row = PersonRow(
            organisation=org, employee_number=f"G{self.seed}-{self.number:06d}", name=name, email=email, unit=unit,
            position=position or rng.choice(POSITIONS[sector]),
            position_percent=rng.choice([100] * 7 + [80, 75, 60, 50]), start_date=start,
        )
        # One password for every login, hashed once (Argon2 per user would dominate the run).
        user = User(email=User.objects.normalize_email(email).lower(), password=self.password_hash)
        row.user = user
        bulk.add(user)
        bulk.add(row)
        # save_person, then link_login (a new user, then the link).
        bulk.event("person.created", row, lambda: {"employee_number": row.employee_number, "unit": row.unit_id})
        bulk.event("user.created", user, lambda: {"person": row.pk})
        bulk.event("person.login_linked", row, lambda: {"user": user.pk})
        self.stats.people += 1
        # Propensity to be absent: most people little, a few a lot (mean about 1).
        propensity = min(6.0, rng.lognormvariate(-0.35, 0.85))
        return Person(pk=None, unit_code=unit.code, user=user, row=row, propensity=propensity)

    def assign_role(self, bulk: Bulk, person: Person, role: str, unit=None, starts_on: date = date(2000, 1, 1)):
        """A new role, as org.services.assign_role writes it."""
        from tidsnok.org.models import RoleAssignment

        row = bulk.add(RoleAssignment(person=person.row, role=role, unit=unit, starts_on=starts_on, ends_on=None))
        bulk.event("role.assigned", row, lambda: {"person": person.row.pk, "role": role,
                                                  "unit": unit.pk if unit else None,
                                                  "starts_on": starts_on, "ends_on": None})

    def _written(self, people: list[Person]):
        for person in people:
            person.pk = person.row.pk
            self.users[person.pk] = person.user

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

    def absence_history(self, bulk: Bulk, person: Person, managers: dict, to_register: list, flag_queue: list):
        """The person's episodes, oldest first, as absence.services.register_episode would leave them.

        An episode that opens or continues a follow-up case (or changes grade) is
        queued for register_episode (and set_grade); the others are written in bulk
        with the rows and events the service would write for them. The rules that
        decide which is which, the employer period and the frequent-absence flag
        are absence.rules', the ones the service applies (tests/scale/test_generate.py
        checks the result against them).

        The bulk rows of the whole chunk are written before the queued episodes
        (see absence_chunk). The service then also sees the person's later
        episodes, which changes nothing it decides: the employer period looks at
        earlier episodes only, the open case of the period at episodes in a case,
        and the frequent-absence check counts episodes up to the new one's first
        day; a flag is raised by whichever comes first (below), once per person."""
        from tidsnok.absence import rules
        from tidsnok.absence.models import Episode, GradePeriod, RecurrenceFlag

        rng, today = self.rng, self.today
        threshold, window_months = self.absence_settings
        through = Episode.work_related_factors.through
        known = []  # (start, end, period_start, in a case) of the person's registered episodes, oldest first
        flagged = False  # an unhandled frequent-absence flag exists (raised today, so within any window)
        for start, end, certified, grades, related in self._episodes(person):
            factors = [rng.choice(["workload", "conflict", "emotional"])] if related != "no" else []
            external_id = f"GEN{self.seed}-{self.stats.episodes + 1}"
            period_start = rules.period_start_for(start, [(s, e, p) for s, e, p, _c in known])
            in_case = (rules.needs_follow_up_case(certified, period_start, end, today)
                       or any(c and p == period_start for _s, _e, p, c in known))
            starts = [k[0] for k in known] + [start]
            raises_flag = not flagged and rules.frequent_absence(starts, start, threshold, window_months)
            if in_case or len(grades) > 1:
                to_register.append(dict(
                    person=person.row, start=start, end=end, grade=grades[0][1], certified=certified,
                    work_related=related, factors=factors, external_id=external_id, grade_changes=grades[1:],
                ))
            else:
                episode = bulk.add(Episode(
                    organisation_id=person.row.organisation_id, person=person.row, start=start, end=end,
                    certified=certified, work_related=related, period_start=period_start, external_id=external_id,
                ))
                grade_rows = [bulk.add(GradePeriod(episode=episode, from_date=start, grade=grades[0][1]))]
                for code in factors:
                    if code in self.factor_ids:
                        bulk.add(through(episode=episode, factor_id=self.factor_ids[code]))
                bulk.event("absence.episode_registered", episode,
                           self._summary(episode, grade_rows), role="system")
                if raises_flag:
                    window_start = rules.frequent_window_start(start, window_months)
                    count = sum(1 for s in starts if window_start < s <= start)
                    flag = bulk.add(RecurrenceFlag(
                        organisation_id=person.row.organisation_id, person=person.row, raised_on=today,
                        episodes=count, window_start=window_start,
                    ))
                    bulk.event("absence.frequent_flagged", flag,
                               lambda flag=flag: {"person": flag.person_id, "episodes": flag.episodes}, role="system")
                self.stats.episodes_in_bulk += 1
            self.stats.episodes += 1
            if raises_flag:  # written above, or by register_episode itself (no earlier flag stops it)
                flagged = True
                self.stats.flags_raised += 1
            known.append((start, end, period_start, in_case))
        # The unit's manager handles half the flags (after the chunk is written: see absence_chunk).
        actor = managers.get(person.unit_code)
        if flagged and actor is not None and actor.pk != person.user.pk and rng.random() < 0.5:
            flag_queue.append(person)

    @staticmethod
    def _summary(episode, grade_rows):
        """absence.services._summary of a new episode, once it has a key."""
        def summary():
            return {
                "episode": episode.pk, "start": episode.start.isoformat(),
                "end": episode.end.isoformat() if episode.end else None,
                "grades": [[g.from_date.isoformat(), g.grade] for g in grade_rows],
                "certified": episode.certified, "work_related": episode.work_related,
            }
        return summary

    def absence_chunk(self, people: list[Person], managers: dict):
        """The history of CHUNK_PEOPLE people in one transaction: the bulk rows, then the
        episodes that reach a follow-up case through the service, then the flags handled."""
        from tidsnok.absence import services as absence
        from tidsnok.absence.models import RecurrenceFlag

        bulk, to_register, flag_queue = self._bulk(), [], []
        with transaction.atomic(), absence.one_run():
            for person in people:
                self.absence_history(bulk, person, managers, to_register, flag_queue)
            bulk.flush()
            for task in to_register:  # each person's oldest first
                grade_changes = task.pop("grade_changes")
                try:
                    episode = absence.register_episode(None, **task)
                    for from_date, grade in grade_changes:
                        episode = absence.set_grade(None, episode, episode.version, from_date=from_date, grade=grade)
                except ValidationError as error:
                    self.stats.episodes -= 1
                    self.stats.refuse("episode", error)
            if flag_queue:
                people_by_pk = {p.pk: p for p in flag_queue}
                flags = (RecurrenceFlag.objects.filter(person_id__in=people_by_pk, handled_on__isnull=True)
                         .select_related("person").order_by("pk"))
                for flag in flags:
                    actor = managers[people_by_pk[flag.person_id].unit_code]
                    try:
                        absence.handle_flag(actor, flag, "Samtale om fraværet; ingen tilrettelegging ønsket nå.")
                        self.stats.flags_handled += 1
                    except REFUSALS as error:
                        self.stats.refuse(f"flag of person {flag.person_id}", error)

    def follow_up_sick_leave(self, case):
        """The responsible manager follows up one sick-leave case: plan, sending, meeting, measures, closing."""
        from tidsnok.absence import services as absence
        from tidsnok.absence.models import Episode, GradePeriod
        from tidsnok.cases import services as case_services

        rng = self.rng
        self.stats.sick_leave_cases += 1
        actor = self.users.get(case.owner_id)
        if actor is None:
            return
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

    def psychosocial_case(self, index: int, staff: list[Person], managers: dict, unit_people: dict):
        from tidsnok.cases import services as case_services
        from tidsnok.cases.models import Case

        rng = self.rng
        span = (self.today - self.first_day).days
        kinds = [k for k, _w in MANAGER_KINDS_MIX]
        # At least one case of every kind, even in a small organisation; then the mix.
        kind = kinds[index] if index < len(kinds) else rng.choices(kinds, weights=[w for _k, w in MANAGER_KINDS_MIX])[0]
        concerned = rng.choice(staff)
        opener = managers.get(concerned.unit_code)
        if opener is None:
            return
        colleagues = [p for p in unit_people[concerned.unit_code] if p.pk != concerned.pk and not p.manager]
        parties = []
        if kind in ("harassment", "conflict") and colleagues:
            parties = [(rng.choice(colleagues).row, "accused" if kind == "harassment" else "other")]
        known_at = self.first_day + timedelta(days=rng.randint(0, max(0, span - 2)))
        # The services' own rule and today: a run of an hour or more may pass midnight.
        late_registration = case_services.needs_known_at_reason(known_at)
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

    def report(self, org, staff: list[Person]):
        """One report through the channel, handled by its first handler. Draws from report_rng only."""
        from tidsnok.cases.models import Case
        from tidsnok.whistleblowing import services as wb
        from tidsnok.whistleblowing.models import Report

        rng = self.report_rng
        anonymity = rng.choice(["named", "confidential", "anonymous", "anonymous"])
        reporter = rng.choice(staff)
        category = rng.choice(["work_environment", "health_safety", "financial_crime", "data_security",
                               "harassment", "abuse_of_authority"])
        description = rng.choice(TEXTS["report"])
        assess, close = rng.random() < 0.8, rng.random() < 0.5
        while True:
            try:
                submitted = wb.submit_report(
                    None if anonymity == "anonymous" else reporter.user, org, category=category,
                    anonymity=anonymity, description=description, when="I vår", involved="",
                )
                break
            except wb.ChannelBusy:
                # The channel takes 30 a minute; the reports are spread over the follow-up so that
                # this is rare. Wait for the next minute and send the same report again.
                time.sleep(61 - time.time() % 60)
        self.stats.reports += 1
        report = submitted.report
        handler = report.case.handlers.filter(removed_at__isnull=True).order_by("pk").first()
        actor = self.users.get(handler.person_id) if handler else None
        if actor is None:
            return
        try:
            wb.acknowledge(actor, report)
            report = Report.objects.get(pk=report.pk)
            if assess:
                report = wb.record_assessment(actor, report, report.version, assessment="whistleblowing",
                                              reasoning="Gjelder kritikkverdige forhold i virksomheten.")
                wb.add_investigation_step(actor, report, self.today,
                                          "Samtaler med involverte og gjennomgang av dokumenter.")
                if close:  # only an assessed report may close
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

        from tidsnok.absence.models import AbsenceSettings
        from tidsnok.cases import services as case_services
        from tidsnok.cases.models import Case, Factor
        from tidsnok.org import services as org_services
        from tidsnok.org.models import Organisation, Role
        from tidsnok.web.management.commands.demo import demo_totp_secret

        out, rng = self.out, self.rng
        name = generated_name(self.seed)
        if Organisation.objects.filter(name=name).exists():
            raise RuntimeError(f"«{name}» is already in this database: use another --seed or a new database.")
        self.password_hash = make_password(self.password)

        # --- the organisation, its units, people, logins and roles ---
        started = self._clock()
        plan = self.plan_units()
        with transaction.atomic():
            org = org_services.create_organisation(None, name, f"9{self.seed:08d}"[-9:])
            case_services.ensure_default_factors(None, org)
            units = self.create_units(org, plan)
            self.stats.units = len(units)
        sector_of = {code: sector for code, _n, _p, sector, _s in plan}
        sized = [(code, size) for code, _n, _p, _s, size in plan if size]
        out(f"organisation: {len(units)} units ({len(sized)} with staff), {self.n} people, "
            f"{self.years:g} year(s) of history from {self.first_day:%d.%m.%Y}")

        managers: dict[str, object] = {}  # unit code -> the manager's User
        unit_people: dict[str, list[Person]] = {}
        staff: list[Person] = []
        hr_people: list[Person] = []
        # People unit by unit, about CHUNK_PEOPLE a transaction; managers of the
        # levels above are drawn from their staff unit (the HR unit) later.
        pending_units = list(sized)
        while pending_units:
            bulk, chunk = self._bulk(), []
            while pending_units and len(chunk) < CHUNK_PEOPLE:
                code, size = pending_units.pop(0)
                people = [self.new_person(bulk, org, units[code], sector_of[code]) for _ in range(size)]
                people[0].manager = True
                self.assign_role(bulk, people[0], Role.MANAGER, units[code], starts_on=people[0].row.start_date)
                managers[code] = people[0].user
                if size > 25:
                    people[1].manager = True
                    self.assign_role(bulk, people[1], Role.DEPUTY, units[code], starts_on=people[1].row.start_date)
                unit_people[code] = people
                if code == "HR":
                    hr_people = people[1:]
                chunk.extend(people)
            with transaction.atomic():
                bulk.flush()
            self._written(chunk)
            staff.extend(chunk)
            out(f"  people: {len(staff):,}/{self.n:,} in {time.perf_counter() - started[0]:.0f} s")
        # Managers of sectors, departments, staff and the root; HR; safety reps; AMU; admin.
        bulk, bosses = self._bulk(), []
        for code, unit_name, parent, sector, size in plan:
            if size:
                continue
            boss = self.new_person(bulk, org, units[code], sector,
                                   position="Kommunedirektør" if code == "ROOT" else "Leder")
            boss.manager = True
            self.assign_role(bulk, boss, Role.MANAGER, units[code], starts_on=date(2015, 1, 1))
            managers[code] = boss.user
            unit_people.setdefault(code, []).append(boss)
            bosses.append(boss)
        # HR: a few advisers for the whole organisation, one per sector.
        org_wide = max(2, self.n // 1000)
        sectors = [code for code, *_rest in plan if code.startswith("S")]
        hr_advisers = hr_people[: org_wide + len(sectors)]
        for i, person in enumerate(hr_advisers):
            self.assign_role(bulk, person, Role.HR, None if i < org_wide else units[sectors[i - org_wide]],
                             starts_on=date(2015, 1, 1))
        admin = hr_people[-1]
        self.assign_role(bulk, admin, Role.ADMIN, None, starts_on=date(2015, 1, 1))
        departments = [code for code, *_rest in plan if code.startswith("D")]
        for code in departments:
            members = [p for u, _n, parent, _s, size in plan if parent == code for p in unit_people.get(u, [])
                       if not p.manager]
            if members:
                self.assign_role(bulk, rng.choice(members), Role.SAFETY_REP, units[code], starts_on=date(2020, 1, 1))
        staff.extend(bosses)
        for person in rng.sample([p for p in staff if not p.manager], k=min(3, len(staff))):
            self.assign_role(bulk, person, Role.AMU, None, starts_on=date(2022, 1, 1))
        with transaction.atomic():
            bulk.flush()
            self._written(bosses)
            for person in hr_advisers + [admin]:
                if not Authenticator.objects.filter(user=person.user, type=Authenticator.Type.TOTP).exists():
                    TOTP.activate(person.user, demo_totp_secret(person.user.email))
        self._stage("people, roles and logins", started, f"{len(staff):,} people in {len(units):,} units")

        # --- a year (or Y) of absence, about CHUNK_PEOPLE people a transaction ---
        started = self._clock()
        settings = AbsenceSettings.objects.get_or_create(organisation=org)[0]
        self.absence_settings = (settings.frequent_episodes, settings.frequent_window_months)
        self.factor_ids = dict(Factor.objects.filter(organisation=org).values_list("code", "pk"))
        # Each unit's people, then the managers above the units (the order of the first generator).
        order = [p for code, _size in sized for p in unit_people[code]] + bosses
        done = 0
        for chunk in _chunks(order, CHUNK_PEOPLE):
            self.absence_chunk(chunk, managers)
            done += len(chunk)
            out(f"  absence: {done:,}/{len(order):,} people, {self.stats.episodes:,} episodes "
                f"({self.stats.episodes_in_bulk:,} outside cases, in bulk) in {time.perf_counter() - started[0]:.0f} s")
        self._stage("absence history", started, f"{self.stats.episodes:,} episodes, {self.stats.flags_raised:,} "
                    f"frequent-absence flags ({self.stats.flags_handled:,} handled)")

        # --- the follow-up of every sick-leave case, with the whistleblowing reports spread over it ---
        started = self._clock()
        reporters = [p for p in staff if not p.manager]
        reports = max(1, round(len(reporters) * self.years * REPORTS_PER_PERSON_YEAR))
        case_ids = list(Case.objects.filter(organisation=org, kind="sick_leave").order_by("pk")
                        .values_list("pk", flat=True))
        # Report r goes before case r * len / reports: spread out, they stay well below the
        # channel's 30 a minute (a burst would wait for the next minute, see report()).
        report_after = Counter(r * len(case_ids) // reports for r in range(reports))
        report_time, done = [0.0, 0.0], 0

        def report():
            report_started = self._clock()
            self.report(org, reporters)
            report_time[0] += time.perf_counter() - report_started[0]
            report_time[1] += time.process_time() - report_started[1]

        for chunk in _chunks(case_ids, CHUNK_CASES):
            with transaction.atomic():
                for case in Case.objects.filter(pk__in=chunk).select_related("owner").order_by("pk"):
                    for _ in range(report_after.pop(done, 0)):
                        report()
                    self.follow_up_sick_leave(case)
                    done += 1
            out(f"  follow-up: {done:,}/{len(case_ids):,} sick-leave cases in {time.perf_counter() - started[0]:.0f} s")
        for _ in range(sum(report_after.values())):  # no sick-leave cases to spread them over
            report()
        self._stage("sick-leave follow-up", started, f"{self.stats.sick_leave_cases:,} cases", minus=report_time)
        self.stats.stages["whistleblowing reports"] = tuple(report_time)
        out(f"whistleblowing reports (spread over the follow-up): {self.stats.reports} in {report_time[0]:.1f} s "
            f"({report_time[1]:.1f} s CPU)")

        # --- psychosocial, conflict, harassment and violence cases ---
        started = self._clock()
        count = max(len(MANAGER_KINDS_MIX), round(len(reporters) * self.years * PSYCHOSOCIAL_PER_PERSON_YEAR))
        for chunk in _chunks(list(range(count)), CHUNK_CASES // 4):
            with transaction.atomic():
                for index in chunk:
                    self.psychosocial_case(index, reporters, managers, unit_people)
            out(f"  cases: {chunk[-1] + 1:,}/{count:,} in {time.perf_counter() - started[0]:.0f} s")
        self._stage("other cases", started, str(self.stats.cases))

        # --- a year of risk assessments, one round per unit ---
        from tidsnok.web.generate_risk import add_risk_assessments

        started = self._clock()
        self.stats.risk = add_risk_assessments(org, seed=self.seed, first_day=self.first_day, today=self.today, out=out)
        self._stage("risk assessments", started, f"{self.stats.risk['assessments']:,} completed, "
                    f"{self.stats.risk['actions']:,} measures")
        return org


def generated_name(seed: int) -> str:
    return f"Generert kommune {seed}"


def database_size() -> str:
    """The size of the configured database on disk, in MB."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_database_size(current_database())")
            size = cursor.fetchone()[0]
        return f"{size / 1e6:,.1f} MB (pg_database_size)"
    if connection.vendor == "sqlite":
        if not connection.in_atomic_block:  # a checkpoint cannot run inside a transaction
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        name = connection.settings_dict["NAME"]
        size = sum(os.path.getsize(p) for p in (str(name), f"{name}-wal") if os.path.exists(p))
        return f"{size / 1e6:,.1f} MB ({name})"
    return "unknown"
