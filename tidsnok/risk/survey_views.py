"""The survey's pages: opening it (those who change the assessment), answering it (those asked),
closing it early. Its figures are shown on the assessment's own page (survey_panel.html)."""

from datetime import timedelta

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from tidsnok.access.policy import AccessDenied, can, get_visible_or_404
from tidsnok.cases.forms import apply_service_errors
from tidsnok.deadlines.calendar import normalise_lang
from tidsnok.risk import rules
from tidsnok.risk import survey as surveys
from tidsnok.risk.models import Assessment, Survey
from tidsnok.risk.survey_forms import AnswerForm, OpenSurveyForm


def _lang() -> str:
    return normalise_lang(get_language())


def panel(user, assessment: Assessment) -> dict:
    """What the assessment page shows of its survey (included as risk/survey_panel.html)."""
    survey = Survey.objects.filter(assessment=assessment).first()
    editable = can(user, "edit", assessment)
    context = {"survey": survey, "survey_editable": editable and not assessment.is_completed}
    if survey is None:
        return context
    today = timezone.localdate()
    context.update(
        survey_open=surveys.is_open(survey, today),
        survey_closed=surveys.is_closed(survey, today),
        survey_results=surveys.results(survey, _lang()),
        survey_invitation=surveys.invitation_of(user, survey),
        survey_enough=survey.responses >= survey.threshold,
    )
    return context


@login_required
@require_http_methods(["GET", "POST"])
def open_survey(request, assessment_pk):
    assessment = get_visible_or_404(request.user, Assessment, "edit", pk=assessment_pk)
    if request.method == "POST":
        form = OpenSurveyForm(request.POST)
        if form.is_valid():
            try:
                surveys.open_survey(request.user, assessment, closes_on=form.cleaned_data["closes_on"],
                                    threshold=form.cleaned_data["threshold"])
            except AccessDenied:
                raise Http404
            except ValidationError as exc:
                apply_service_errors(form, exc)
            else:
                flash.success(request, _("The survey is open. The employees have been told."))
                return redirect("risk:assessment", pk=assessment.pk)
    else:
        form = OpenSurveyForm(initial={"closes_on": timezone.localdate() + timedelta(days=14),
                                       "threshold": rules.SURVEY_DEFAULT_THRESHOLD})
    people = surveys.invitees(assessment, timezone.localdate()).count()
    return render(request, "risk/survey_open.html", {
        "assessment": assessment, "form": form, "people": people,
        "factors": [f.name(_lang()) for f in surveys.factors_of(assessment.organisation_id)],
    })


@login_required
@require_http_methods(["GET", "POST"])
def answer(request, pk):
    survey = get_visible_or_404(request.user, Survey, "answer", pk=pk)
    invitation = surveys.invitation_of(request.user, survey)
    if invitation is None:  # only those asked may see the questions
        raise Http404
    factors = list(survey.factors.order_by("position", "code"))
    context = {"survey": survey, "assessment": survey.assessment, "answered": invitation.answered,
               "open": surveys.is_open(survey)}
    if invitation.answered or not context["open"]:
        return render(request, "risk/survey_answer.html", context)
    form = AnswerForm(request.POST or None, factors=factors, lang=_lang())
    if request.method == "POST" and form.is_valid():
        try:
            surveys.answer(request.user, survey, form.scores())
        except AccessDenied:
            raise Http404
        except ValidationError as exc:
            apply_service_errors(form, exc, {code: f"f_{code}" for code in form.codes})
        else:
            flash.success(request, _("Thank you! Your answers are counted, without your name."))
            return redirect("risk_survey:answer", pk=survey.pk)
    context["form"] = form
    return render(request, "risk/survey_answer.html", context)


@login_required
@require_POST
def close(request, pk):
    survey = get_visible_or_404(request.user, Survey, "edit", pk=pk)
    assessment = survey.assessment
    try:
        surveys.close_early(request.user, survey)
    except AccessDenied:
        raise Http404
    except ValidationError as exc:
        for message in exc.messages:
            flash.error(request, message)
    else:
        flash.success(request, _("The survey is closed."))
    return redirect("risk:assessment", pk=assessment.pk)
