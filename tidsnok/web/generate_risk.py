"""The generator's risk assessments: a year of systematic HMS work in every unit with staff.

Each unit has one completed mapping and risk assessment dated in the period, nearly all with
2-6 risks, a measure for each medium or high one (most done, some cancelled with a reason,
some overdue, the rest still open), the people who took part (employees and the department's
safety representative) and now and then a comment; one unit in ten has started the next round.

Written in bulk (generate.Bulk): an assessment is a few plain rows that reach nothing else, so
the rows are what tidsnok.risk.services would write and the audit events are the ones it
records, with the same actions, payloads, actor (the unit's manager) and role. It reads
everything it needs from the database, so it also adds the assessments to an organisation
generated before the risk room existed (`tidsnok generate --risk-only --seed S`).
"""

import random
from datetime import date, timedelta

from django.db import transaction
from django.db.models import Count

from tidsnok.cases.models import MeasureStatus
from tidsnok.deadlines.rules import add_months
from tidsnok.org.models import Person, Role, RoleAssignment, Unit
from tidsnok.risk import rules
from tidsnok.risk.models import Action, Assessment, Comment, Participant, Risk, Status
from tidsnok.web.generate import Bulk, _chunks

UNITS_PER_CHUNK = 200

DESCRIPTIONS = {
    "workload": ["Mange vakter står ubesatt, og de som er på jobb rekker ikke pausene.",
                 "Dokumentasjonen tar tid fra brukerne i travle perioder."],
    "role": ["Uklart hvem som har ansvar for oppfølging av nyansatte.",
             "Ulike ledere gir ulike beskjeder om prioriteringer."],
    "emotional": ["Krevende samtaler med pårørende uten tid til etterarbeid.",
                  "Belastende hendelser blir ikke gjennomgått etterpå."],
    "support": ["Lite tid til faglig veiledning og kollegastøtte.",
                "Nyansatte får ikke fast fadder."],
    "conflict": ["Uenighet om vaktbytter skaper gnisninger i gruppen.",
                 "Noen blir holdt utenfor i pauser og sosiale sammenhenger."],
    "harassment": ["Uklart hvordan uønsket seksuell oppmerksomhet fra brukere skal meldes."],
    "violence": ["Trusler fra brukere ved alenearbeid på kveld.",
                 "Mangler alarm ved hjemmebesøk hos brukere med kjent voldsrisiko."],
}
MEASURES = ["Fast gjennomgang av bemanning hver fredag", "Ny rutine for melding av hendelser",
            "Veiledning en gang i måneden", "Fadderordning for nyansatte", "Alarm til alle på kveldsvakt",
            "Tydelig ansvarsfordeling i teammøtet", "Kurs i konflikthåndtering for hele gruppen"]
CURRENT = ["", "", "Tas opp på personalmøter.", "Innleie ved sykdom.", "Rutine for avvik finnes."]
COMMENTS = ["Verneombudet støtter tiltakene og ber om jevnlig oppfølging.",
            "Flere ønsker at bemanningen på kveld vurderes på nytt i vår.",
            "Godt at vi fikk snakke om dette i fellesskap."]
CANCEL_REASONS = ["Erstattet av et bedre tiltak.", "Ikke lenger aktuelt etter omorganiseringen."]


def _weighted(rng, weights: dict):
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def add_risk_assessments(org, *, seed: int, first_day: date, today: date, out=print) -> dict:
    """Write the organisation's risk assessments; returns counts. Refuses to write twice."""
    if Assessment.objects.filter(organisation=org).exists():
        raise RuntimeError(f"«{org.name}» already has risk assessments.")
    rng = random.Random(f"{seed}-risk")
    factor_ids = dict(org.factors.filter(active=True).values_list("code", "pk"))
    codes = sorted(factor_ids)
    units = list(Unit.objects.filter(organisation=org).annotate(n=Count("people")).filter(n__gt=0)
                 .order_by("path").values_list("pk", "path", "n"))
    people: dict[int, list[int]] = {}
    for unit_id, person_id in (Person.objects.filter(organisation=org, end_date__isnull=True)
                               .order_by("pk").values_list("unit_id", "pk")):
        people.setdefault(unit_id, []).append(person_id)
    assignments = (RoleAssignment.objects.active(today)
                   .filter(person__organisation=org, role__in=[Role.MANAGER, Role.SAFETY_REP], unit__isnull=False,
                           person__user__isnull=False)
                   .select_related("person__user", "unit").order_by("pk"))
    manager_of: dict[int, object] = {}  # unit id -> (the manager's User, her Person id)
    reps: list[tuple[str, int, object]] = []  # (unit path, safety rep's person id, her User)
    for assignment in assignments:
        if assignment.role == Role.MANAGER:
            manager_of.setdefault(assignment.unit_id, (assignment.person.user, assignment.person_id))
        else:
            reps.append((assignment.unit.path, assignment.person_id, assignment.person.user))
    counts = {"assessments": 0, "risks": 0, "actions": 0, "participants": 0, "comments": 0, "drafts": 0}
    span = max(30, (today - first_day).days - 30)
    for chunk in _chunks(units, UNITS_PER_CHUNK):
        bulk = Bulk([Assessment, Risk, Action, Participant, Comment])
        for unit_id, path, _n in chunk:
            manager = manager_of.get(unit_id)
            staff = [p for p in people.get(unit_id, []) if manager is None or p != manager[1]]
            if manager is None or len(staff) < 2:
                continue
            user, manager_person = manager
            rep, rep_user = next(((person, u) for rep_path, person, u in reps if path.startswith(rep_path)), (None, None))
            completed_on = first_day + timedelta(days=rng.randrange(span))
            started_on = completed_on - timedelta(days=rng.randint(14, 60))
            method = _weighted(rng, {"workshop": 50, "both": 30, "survey": 10, "other": 10})
            assessment = bulk.add(Assessment(
                organisation=org, unit_id=unit_id, title=f"Kartlegging og risikovurdering {completed_on.year}",
                method=method, started_on=started_on, status=Status.COMPLETED,
                summary="Arbeidsmengden og bemanningen på kveld er de viktigste risikoene. Tiltakene følges opp "
                        "i personalmøtene.",
                completed_on=completed_on, review_due=add_months(completed_on, rules.REVIEW_MONTHS),
                created_by_id=manager_person,
            ))
            bulk.event("risk.assessment_started", assessment,
                       lambda a=assessment: {"unit": a.unit_id, "title": a.title, "method": a.method,
                                             "started_on": a.started_on},
                       role="manager", actor=user)
            participants = rng.sample(staff, k=min(len(staff), rng.randint(2, 4)))
            ledger = [(p, "employee") for p in participants] + ([(rep, "safety_rep")] if rep else [])
            for person_id, role in ledger:
                row = bulk.add(Participant(assessment=assessment, person_id=person_id, role=role,
                                           took_part_on=started_on + timedelta(days=rng.randint(0, 10))))
                bulk.event("risk.participant_added", row,
                           lambda r=row: {"assessment": r.assessment_id, "person": r.person_id, "role": r.role,
                                          "took_part_on": r.took_part_on},
                           role="manager", actor=user)
            levels = []
            for _ in range(rng.randint(2, 6)):
                code = rng.choice(codes)
                likelihood, consequence = rng.randint(1, 4), rng.randint(1, 4)
                level = rules.level(likelihood, consequence)
                levels.append(level)
                risk = bulk.add(Risk(assessment=assessment, factor_id=factor_ids[code],
                                     description=rng.choice(DESCRIPTIONS.get(code, DESCRIPTIONS["workload"])),
                                     likelihood=likelihood, consequence=consequence,
                                     current_measures=rng.choice(CURRENT)))
                bulk.event("risk.risk_added", risk,
                           lambda r=risk, c=code: {"assessment": r.assessment_id, "factor": c,
                                                   "description": r.description, "likelihood": r.likelihood,
                                                   "consequence": r.consequence,
                                                   "level": rules.level(r.likelihood, r.consequence)},
                           role="manager", actor=user)
                counts["risks"] += 1
                if level == rules.LOW:
                    continue
                due = completed_on + timedelta(days=rng.randint(30, 180))
                owner = rng.choice([manager_person] + staff[:3])
                status, done_on, reason = MeasureStatus.PLANNED, None, ""
                if due < today:
                    status = _weighted(rng, {MeasureStatus.DONE: 75, MeasureStatus.CANCELLED: 10,
                                             MeasureStatus.IN_PROGRESS: 15})
                elif rng.random() < 0.4:
                    status = MeasureStatus.IN_PROGRESS
                if status == MeasureStatus.DONE:
                    done_on = min(today, due + timedelta(days=rng.randint(-20, 10)))
                elif status == MeasureStatus.CANCELLED:
                    reason = rng.choice(CANCEL_REASONS)
                action = bulk.add(Action(assessment=assessment, risk=risk, what=rng.choice(MEASURES),
                                         owner_id=owner, due=due, status=status, done_on=done_on,
                                         cancel_reason=reason,
                                         # What the sweep has told her already, as it would have.
                                         reminded="overdue" if due < today and status in (
                                             MeasureStatus.PLANNED, MeasureStatus.IN_PROGRESS) else ""))
                bulk.event("risk.action_added", action,
                           lambda a=action: {"assessment": a.assessment_id, "risk": a.risk_id, "what": a.what,
                                             "owner": a.owner_id, "due": a.due},
                           role="manager", actor=user)
                if status != MeasureStatus.PLANNED:
                    bulk.event("risk.action_changed", action,
                               lambda a=action: {"assessment": a.assessment_id, "status": a.status,
                                                 "reason": a.cancel_reason, "done_on": a.done_on},
                               role="manager", actor=user)
                counts["actions"] += 1
            bulk.event("risk.assessment_completed", assessment,
                       {"completed_on": completed_on, "review_due": assessment.review_due, "risks": len(levels),
                        "levels": sorted(levels)},
                       role="manager", actor=user)
            if rep and rng.random() < 0.3:
                comment = bulk.add(Comment(assessment=assessment, author_id=rep, role="safety_rep",
                                           text=rng.choice(COMMENTS)))
                bulk.event("risk.comment_added", comment,
                           lambda c=comment: {"assessment": c.assessment_id, "role": c.role},
                           role="safety_rep", actor=rep_user)
                counts["comments"] += 1
            counts["participants"] += len(ledger)
            counts["assessments"] += 1
            if rng.random() < 0.1:
                draft = bulk.add(Assessment(
                    organisation=org, unit_id=unit_id, title=f"Kartlegging og risikovurdering {today.year}",
                    method="workshop", started_on=today - timedelta(days=rng.randint(0, 30)),
                    created_by_id=manager_person,
                ))
                bulk.event("risk.assessment_started", draft,
                           lambda a=draft: {"unit": a.unit_id, "title": a.title, "method": a.method,
                                            "started_on": a.started_on},
                           role="manager", actor=user)
                counts["drafts"] += 1
        with transaction.atomic():
            bulk.flush()
        out(f"  risk assessments: {counts['assessments']:,} completed, {counts['drafts']:,} started")
    return counts
