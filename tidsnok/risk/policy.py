"""Who may see and change a unit's risk assessment.

- Change it (its register, action plan, participants, completion): the unit's managers and
  deputies (with the units above it) and HR in scope. Assessing the work environment is the
  line's duty, with HR's help.
- Read it and comment: the above; the unit's safety representatives (who take part in the
  systematic work, aml § 6-2); AMU members, for the whole organisation (they take part in the
  HMS action plan, aml § 7-2); and the unit's own employees (aml § 4-2: information and
  participation). Owners of a measure in its action plan read it too.
- A measure of the action plan: changed by those who change the assessment, and its status by
  its owner.
- An assessment the retention policy restricted (`restricted_at`, replaced by a newer one long
  enough ago): HR in scope reads it; nobody else, and nobody changes it.
Nothing here is health data: risks describe the work, not a person.
"""

from django.db.models import Q

from tidsnok.access.policy import register
from tidsnok.org import scope
from tidsnok.org.models import Role
from tidsnok.risk.models import Action, Assessment, Invitation, Survey

EDIT_ACTIONS = {"edit"}


def _is_amu(user) -> bool:
    return Role.AMU in scope.roles_of(user)


def edit_unit_ids(user):
    """ALL, or the ids of the units whose assessments the user may change."""
    hr = scope.hr_scope(user)
    if hr == scope.ALL:
        return scope.ALL
    return frozenset(hr) | frozenset(scope.managed_unit_ids(user))


def _assessment_q(user, action: str, prefix: str = "") -> Q | None:
    person = scope.person_of(user)
    if person is None:
        return None
    org = Q(**{f"{prefix}organisation_id": person.organisation_id})
    current = Q(**{f"{prefix}restricted_at__isnull": True})
    editable = edit_unit_ids(user)
    edit_q = Q() if editable == scope.ALL else Q(**{f"{prefix}unit_id__in": list(editable)})
    if action in EDIT_ACTIONS:
        return org & current & edit_q if editable == scope.ALL or editable else None
    hr = scope.hr_scope(user)
    if hr == scope.ALL:
        return org

    def readable(reads: Q | None) -> Q:
        """The current assessments `reads` reaches (None: all of them), and the restricted ones of
        the units in HR scope."""
        condition = current if reads is None else current & reads
        if hr:
            condition |= ~current & Q(**{f"{prefix}unit_id__in": list(hr)})
        return org & condition

    if _is_amu(user):
        return readable(None)
    reps = scope.safety_rep_unit_ids(user)
    if reps == scope.ALL:
        return readable(None)
    reads = Q(**{f"{prefix}unit_id": person.unit_id})
    # The assessments of the measures she owns by their ids, not by joining the measures: a join
    # repeats an assessment once per measure, and the ids of every readable assessment, read to
    # make them unique, were 2-5 ms of each risk page and Min oversikt at 50,000 employees.
    reads |= Q(**{f"{prefix}pk__in": Action.objects.filter(owner=person).values("assessment_id")})
    if reps:
        reads |= Q(**{f"{prefix}unit_id__in": list(reps)})
    if editable:
        reads |= edit_q
    return readable(reads)


def assessments_visible(user, action="view"):
    condition = _assessment_q(user, action)
    if condition is None:
        return Assessment.objects.none()
    return Assessment.objects.filter(condition)


def actions_visible(user, action="view"):
    """Measures of the action plans the user reads; for "edit" those she may change, and for
    "status" also those she owns."""
    if action == "status":
        person = scope.person_of(user)
        mine = Q(owner=person, assessment__restricted_at__isnull=True) if person is not None else Q(pk__in=[])
        return Action.objects.filter(Q(assessment__in=assessments_visible(user, "edit")) | mine)
    return Action.objects.filter(assessment__in=assessments_visible(user, "edit" if action == "edit" else "view"))


def surveys_visible(user, action="view"):
    """A survey goes with its assessment; "answer" is for those asked to answer it (an employee of
    a unit below the assessment's reads the questions, not the assessment)."""
    if action == "answer":
        person = scope.person_of(user)
        if person is None:
            return Survey.objects.none()
        return Survey.objects.select_related("assessment__unit").filter(
            pk__in=Invitation.objects.filter(person=person).values("survey_id"))
    return Survey.objects.select_related("assessment__unit").filter(
        assessment__in=assessments_visible(user, "edit" if action == "edit" else "view"))


def register_policies():
    register(Assessment, assessments_visible)
    register(Action, actions_visible)
    register(Survey, surveys_visible)
