"""What the rooms above read from the risk room for their exports: the assessments of a period for
the inspection pack (tilsynspakke), and what the room holds about one person for her access copy.

Reads only, each a fixed number of queries whatever the number of assessments. Values are
returned raw (codes, dates, ids); the exports word them in their own language.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from tidsnok.access.policy import visible
from tidsnok.cases.models import MeasureStatus
from tidsnok.org.models import Person
from tidsnok.risk import rules
from tidsnok.risk.models import Action, Assessment, Comment, Participant, Risk, Status

CHUNK = 2000
OPEN = (MeasureStatus.PLANNED, MeasureStatus.IN_PROGRESS)


# --- the inspection pack --------------------------------------------------------------------------


def assessments_in_period(actor, start: date, end: date) -> QuerySet:
    """The assessments the actor may read that were worked on or in force at some time in the
    period: started by its end, and either still in progress, completed in or after it, or the
    unit's latest completed one when the period began (the one in force then, overdue or not: an
    inspector asks what the unit's last assessment was, however old)."""
    newer = Assessment.objects.filter(
        unit_id=OuterRef("unit_id"), status=Status.COMPLETED, completed_on__lt=start,
        completed_on__gt=OuterRef("completed_on"),
    )
    return (
        visible(actor, Assessment)
        .filter(started_on__lte=end)
        .filter(Q(status=Status.DRAFT) | Q(completed_on__gte=start) | ~Exists(newer))
    )


@dataclass
class AssessmentRow:
    id: int
    unit_code: str
    unit_name: str
    title: str
    method: str
    started_on: date
    completed_on: date | None
    review_due: date | None
    status: str
    # Risks by level (rules.LOW, MEDIUM, HIGH) and participants by role (ParticipantRole values).
    levels: Counter = field(default_factory=Counter)
    roles: Counter = field(default_factory=Counter)


def assessment_rows(actor, start: date, end: date) -> list[AssessmentRow]:
    """The assessments of the period, by unit (in tree order) and start date, with their risks
    counted by level and their participants by role: three queries."""
    chosen = assessments_in_period(actor, start, end)
    rows = {
        pk: AssessmentRow(pk, code, name, title, method, started_on, completed_on, review_due, status)
        for pk, code, name, title, method, started_on, completed_on, review_due, status in chosen
        .order_by("unit__path", "started_on", "id")
        .values_list("pk", "unit__code", "unit__name", "title", "method", "started_on", "completed_on",
                     "review_due", "status")
    }
    ids = chosen.values("pk")
    # The level is the rules' product of likelihood and consequence: counted here, not in SQL, so
    # that the matrix has one definition.
    for assessment_id, likelihood, consequence in (
        Risk.objects.filter(assessment__in=ids).order_by().values_list("assessment_id", "likelihood", "consequence")
        .iterator(chunk_size=CHUNK)
    ):
        if assessment_id in rows:  # one started between the reads is left for the next export
            rows[assessment_id].levels[rules.level(likelihood, consequence)] += 1
    for assessment_id, role, n in (
        Participant.objects.filter(assessment__in=ids).order_by().values("assessment_id", "role")
        .annotate(n=Count("pk")).values_list("assessment_id", "role", "n")
    ):
        if assessment_id in rows:
            rows[assessment_id].roles[role] += n
    return list(rows.values())


@dataclass
class ActionRow:
    assessment_id: int
    what: str
    level: str  # "" when the measure answers no risk of the register
    owner: str
    due: date
    status: str
    done_on: date | None

    def overdue(self, today: date) -> bool:
        return self.status in OPEN and self.due < today


def action_rows(actor, start: date, end: date):
    """The measures of the action plans of those assessments, in the order of assessment_rows (and
    by due date within one), read in chunks as they are written."""
    rows = (
        Action.objects.filter(assessment__in=assessments_in_period(actor, start, end).values("pk"))
        .order_by("assessment__unit__path", "assessment__started_on", "assessment_id", "due", "id")
        .values_list("assessment_id", "what", "risk__likelihood", "risk__consequence", "owner__name", "due", "status",
                     "done_on")
        .iterator(chunk_size=CHUNK)
    )
    for assessment_id, what, likelihood, consequence, owner, due, status, done_on in rows:
        level = rules.level(likelihood, consequence) if likelihood and consequence else ""
        yield ActionRow(assessment_id, what, level, owner, due, status, done_on)


# --- the access copy ------------------------------------------------------------------------------


@dataclass
class PersonRows:
    participations: list[Participant]
    comments: list[Comment]
    actions: list[Action]


def held_about(person: Person) -> PersonRows:
    """What the room holds about one person: where she took part (the ledger), what she wrote (her
    comments) and the measures she owns, each with its assessment and unit. Three queries.

    Read directly, not through the exporter's view of the assessments: these rows are hers,
    wherever the assessment is (a safety representative takes part in the units she covers), and
    nothing in the room is restricted to a need to know (AMU reads every assessment)."""
    participations = list(
        Participant.objects.filter(person=person).select_related("assessment__unit").order_by("took_part_on", "pk")
    )
    comments = list(
        Comment.objects.filter(author=person).select_related("assessment__unit").order_by("created_at", "pk")
    )
    actions = list(Action.objects.filter(owner=person).select_related("assessment__unit").order_by("due", "pk"))
    return PersonRows(participations, comments, actions)
