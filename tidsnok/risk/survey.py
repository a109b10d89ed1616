"""The anonymous survey of a risk assessment: opening it, answering it once, closing it, and the
figures it may show.

Anonymity, in what is stored and in what is shown:
- An answer becomes +1 on a count per factor and score (Tally); no row holds one person's
  answers, and no time of answering is kept anywhere (the invitation says only "answered").
- The audit event of an answer names the survey, not the person.
- Results are shown only after the survey has closed, and a factor only when at least
  `threshold` people answered it. The number who answered is shown while it runs (it tells
  the manager whether to remind), never who.
"""

from datetime import date, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from tidsnok.access.policy import AccessDenied, can
from tidsnok.audit.services import day_only, record
from tidsnok.notify import services as notify_services
from tidsnok.org import scope
from tidsnok.org.models import Person
from tidsnok.risk import rules
from tidsnok.risk.models import Assessment, Invitation, Survey, Tally
from tidsnok.risk.services import factors_of


def _today() -> date:
    return timezone.localdate()


def is_open(survey: Survey, today: date | None = None) -> bool:
    today = today or _today()
    return survey.closed_early_on is None and survey.opens_on <= today <= survey.closes_on


def is_closed(survey: Survey, today: date | None = None) -> bool:
    today = today or _today()
    return survey.closed_early_on is not None or survey.closes_on < today


def enough_answers(survey: Survey | None, today: date | None = None) -> bool:
    """Whether a closed survey counts as the employees' taking part (see rules.completion_problems)."""
    return survey is not None and is_closed(survey, today) and survey.responses >= survey.threshold


def invitees(assessment: Assessment, today: date):
    """Everyone with a login working in the assessment's unit or below it on `today`."""
    return (Person.objects.filter(organisation_id=assessment.organisation_id, user__isnull=False,
                                  user__is_active=True, unit__path__startswith=assessment.unit.path)
            .filter(Q(end_date__isnull=True) | Q(end_date__gte=today)))


@transaction.atomic
def open_survey(actor, assessment: Assessment, *, closes_on: date, threshold: int = rules.SURVEY_DEFAULT_THRESHOLD,
                opens_on: date | None = None) -> Survey:
    """Open the survey for the unit's employees, one question per factor of the catalogue. The
    employees are told in the app and by e-mail."""
    if not can(actor, "edit", assessment):
        raise AccessDenied("edit")
    current = Assessment.objects.select_for_update().select_related("unit").get(pk=assessment.pk)
    if current.is_completed:
        raise ValidationError({"__all__": [_("The assessment is completed. Start a new one for the next round.")]})
    if Survey.objects.filter(assessment=current).exists():
        raise ValidationError({"__all__": [_("This assessment already has a survey.")]})
    today = _today()
    opens_on = opens_on or today
    errors: dict = {}
    if opens_on < today:
        errors["opens_on"] = [_("The survey cannot open in the past.")]
    if closes_on is None or closes_on < opens_on:
        errors["closes_on"] = [_("The survey must close on or after the day it opens.")]
    elif closes_on > opens_on + timedelta(days=rules.SURVEY_MAX_DAYS):
        errors["closes_on"] = [_("A survey runs at most %(days)d days.") % {"days": rules.SURVEY_MAX_DAYS}]
    if threshold is None or threshold < rules.SURVEY_MIN_THRESHOLD or threshold > 50:
        errors["threshold"] = [_("Choose between %(min)d and 50 answers.") % {"min": rules.SURVEY_MIN_THRESHOLD}]
    people = list(invitees(current, today).select_related("user"))
    factors = list(factors_of(current.organisation_id))
    if not errors and len(people) < threshold:
        errors["threshold"] = [
            _("Only %(count)d people with a login work in the unit: fewer than the %(threshold)d answers needed "
              "to show any result. Map the unit together with a unit above it, or hold a workshop instead.")
            % {"count": len(people), "threshold": threshold}
        ]
    if not factors:
        errors["__all__"] = [_("The organisation's factor catalogue is empty.")]
    if errors:
        raise ValidationError(errors)
    survey = Survey.objects.create(assessment=current, opens_on=opens_on, closes_on=closes_on, threshold=threshold,
                                   invited=len(people))
    survey.factors.set(factors)
    Invitation.objects.bulk_create([Invitation(survey=survey, person=person) for person in people])
    record(actor, "risk.survey_opened", survey, {
        "assessment": current.pk, "opens_on": opens_on, "closes_on": closes_on, "threshold": threshold,
        "invited": len(people), "factors": [f.code for f in factors],
    }, role=scope.role_label(actor))
    Assessment.objects.filter(pk=current.pk).update(version=F("version") + 1)
    # In a few statements: a survey for a whole sector invites thousands.
    notify_services.queue_many("risk_survey", [
        (person.user, f"risk_survey:{survey.pk}:{person.user_id}",
         {"assessment_id": current.pk, "survey_id": survey.pk, "closes": closes_on.isoformat()})
        for person in people
    ])
    return survey


def invitation_of(user, survey: Survey) -> Invitation | None:
    person = scope.person_of(user)
    if person is None:
        return None
    return Invitation.objects.filter(survey=survey, person=person).first()


@transaction.atomic
def answer(actor, survey: Survey, scores: dict[str, int | None]) -> None:
    """Record one invitee's answers: `scores` maps factor codes to 1-5, or None for "don't know".
    Each counts once; a second answer is refused."""
    person = scope.person_of(actor)
    if person is None:
        raise AccessDenied("answer")
    invitation = Invitation.objects.select_for_update().filter(survey=survey, person=person).first()
    if invitation is None:
        raise AccessDenied("answer")
    survey = Survey.objects.select_for_update().get(pk=survey.pk)
    if not is_open(survey):
        raise ValidationError({"__all__": [_("The survey is closed.")]})
    if invitation.answered:
        raise ValidationError({"__all__": [_("You have already answered this survey. Thank you!")]})
    codes = dict(survey.factors.values_list("code", "pk"))
    errors: dict = {}
    for code, score in scores.items():
        if code not in codes:
            errors[code] = [_("Unknown question.")]
        elif score is not None and score not in rules.SCORES:
            errors[code] = [_("Choose an answer from 1 to 5, or \"don't know\".")]
    missing = set(codes) - set(scores)
    for code in missing:
        errors[code] = [_("Answer this question, or choose \"don't know\".")]
    if errors:
        raise ValidationError(errors)
    # Lazily created counts: a (survey, factor, score) row exists once someone chose it.
    for code, score in scores.items():
        if score is None:
            continue
        updated = Tally.objects.filter(survey=survey, factor_id=codes[code], score=score).update(count=F("count") + 1)
        if not updated:
            Tally.objects.create(survey=survey, factor_id=codes[code], score=score, count=1)
    Invitation.objects.filter(pk=invitation.pk).update(answered=True)
    Survey.objects.filter(pk=survey.pk).update(responses=F("responses") + 1)
    # The person is left out on purpose: the log says that an answer came, not whose, and on
    # which day only (as for an anonymous report), so that its time matches nothing else.
    with day_only():
        record(None, "risk.survey_answered", survey, {"assessment": survey.assessment_id}, role="employee")


@transaction.atomic
def close_early(actor, survey: Survey) -> Survey:
    if not can(actor, "edit", survey.assessment):
        raise AccessDenied("edit")
    current = Survey.objects.select_for_update().get(pk=survey.pk)
    if is_closed(current):
        raise ValidationError({"__all__": [_("The survey is already closed.")]})
    today = _today()
    Survey.objects.filter(pk=current.pk).update(closed_early_on=today)
    record(actor, "risk.survey_closed", current, {"assessment": current.assessment_id, "responses": current.responses,
                                                 "invited": current.invited}, role=scope.role_label(actor))
    Assessment.objects.filter(pk=current.assessment_id).update(version=F("version") + 1)
    current.refresh_from_db()
    return current


def results(survey: Survey, lang: str = "nb") -> list[dict] | None:
    """Per factor, its figures or None when too few answered it; None before the survey closes."""
    if not is_closed(survey):
        return None
    counts: dict[int, dict[int, int]] = {}
    for factor_id, score, count in Tally.objects.filter(survey=survey).values_list("factor_id", "score", "count"):
        counts.setdefault(factor_id, {})[score] = count
    return [
        {"factor": factor, "name": factor.name(lang), "result": rules.survey_result(counts.get(factor.pk, {}),
                                                                                   survey.threshold)}
        for factor in survey.factors.order_by("position", "code")
    ]


def open_for(person: Person, today: date | None = None):
    """The surveys a person has been asked to answer and has not yet: for Min oversikt."""
    today = today or _today()
    return (Survey.objects.filter(invitations__person=person, invitations__answered=False, closed_early_on__isnull=True,
                                  opens_on__lte=today, closes_on__gte=today)
            .select_related("assessment__unit").order_by("closes_on", "pk"))
