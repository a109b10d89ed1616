"""The risk assessment pages: a unit's mapping and risk assessment (kartlegging og
risikovurdering) with its risk register, action plan, participation ledger and comments.

Every view looks the assessment up through the access policy first: one the user may not read
is a 404, and so is one she may not change on every URL that changes it. Every change goes
through tidsnok.risk.services; the views only parse input and show the outcome.

The assessment page shows the forms of what the user may do, each posting to a small URL of its
own (Post/Redirect/Get: on success a message and back to the page, at what changed). On bad input
the page comes back with her input and the errors and nothing is written: 400, or 409 when
someone changed it meanwhile (then her input is kept against the version she can now see, so one
more click saves it once she has checked the other change), as in the case pages. A risk and a
measure are changed on a page of their own, linked from their row: the assessment page would
otherwise carry a form, and a list of people, for every row.
"""

from functools import cached_property

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tidsnok.access.policy import AccessDenied, can, get_visible_or_404, visible
from tidsnok.deadlines.calendar import normalise_lang
from tidsnok.org import scope
from tidsnok.org.models import Person, Role
from tidsnok.org.search import asked, more_than, people_matching, unit_choices
from tidsnok.risk import coverage, rules, services, survey_views
from tidsnok.risk.forms import (
    OTHER_FACTOR,
    ActionChangeForm,
    ActionForm,
    ActionStatusForm,
    CommentForm,
    CompleteForm,
    HeadForm,
    ParticipantForm,
    PersonChoices,
    ReviewForm,
    RiskEditForm,
    RiskForm,
    StartForm,
    apply_service_errors,
)
from tidsnok.risk.models import Action, Assessment, Participant, Risk, Status
from tidsnok.versioning import STALE_INPUT_KEPT, StaleVersion

PAGE_SIZE = 50
# The people of the assessment's unit offered as owners and participants; the search finds others.
# A larger unit is not listed (the search finds its people): two lists of 400 names took the
# page of a unit of 833 people at 50,000 employees to 68 ms of CPU, most of it the options.
PEOPLE_LIMIT = 60
SEARCH_LIMIT = 50
# Colour goes with the level's name in the badge, never alone (classes of the global stylesheet).
LEVEL_CLASSES = {rules.HIGH: "status-late", rules.MEDIUM: "status-open", rules.LOW: "status-met"}

COMPLETED_MESSAGE = gettext_lazy("The assessment is completed. Start a new one for the next round.")

# The assessment page's forms: the key is their prefix, the anchor of their place on the page,
# and the link target of the error summary.
FORM_TITLES = {
    "endre": gettext_lazy("Change the title, method or start date"),
    "risiko": gettext_lazy("Add a risk"),
    "tiltak": gettext_lazy("Add a measure"),
    "deltaker": gettext_lazy("Record who took part"),
    "fullfor": gettext_lazy("Complete the assessment"),
    "gjennomgang": gettext_lazy("Move the next review"),
    "kommentar": gettext_lazy("Comment on the assessment"),
}


def _lang() -> str:
    return normalise_lang(get_language())


def _today():
    return timezone.localdate()


def _url(assessment, anchor: str = "") -> str:
    return reverse("risk:assessment", args=[assessment.pk]) + (f"#{anchor}" if anchor else "")


# --- the list -----------------------------------------------------------------------------------


@login_required
@require_GET
def index(request):
    """The assessments the user may read, newest first, a page at a time."""
    user = request.user
    status = request.GET.get("status", "")
    status = status if status in Status.values else ""
    rows = services.latest_by_unit(user)
    if status:
        rows = rows.filter(status=status)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("side"))
    assessments = list(page.object_list)
    today = _today()
    for a in assessments:
        a.review_stage = rules.review_stage(a.review_due, today) if a.is_completed else ""
    return render(request, "risk/index.html", {
        "page": page, "assessments": assessments, "status": status, "status_choices": Status.choices,
        "may_start": services.may_start(user), "may_see_coverage": coverage.may_view(user),
    })


# --- starting one -------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def start(request):
    user = request.user
    units = services.startable_units(user)
    status = 200
    if request.method == "POST":
        form = StartForm(request.POST, units=units)
        if form.is_valid():
            c = form.cleaned_data
            try:
                assessment = services.start_assessment(user, c["unit"], title=c["title"], method=c["method"],
                                                       started_on=c["started_on"])
            except ValidationError as error:
                apply_service_errors(form, error)
            except AccessDenied:
                raise Http404
            else:
                messages.success(request, _("The risk assessment is started."))
                return redirect(_url(assessment))
        status = 400
        wanted = request.POST.get("unit")
    else:
        form = StartForm(units=units)
        wanted = request.GET.get("enhet")
    unit_list = unit_choices(units)
    if not unit_list:
        raise Http404
    person = scope.person_of(user)
    by_id = {str(u.pk): u for u in unit_list}
    # The unit asked for (from a completed assessment's "start the next round"), else her own.
    chosen = by_id.get(str(wanted)) or by_id.get(str(person.unit_id)) or unit_list[0]
    error_forms = [{"key": "ny", "title": "", "form": form}] if form.errors else []
    return render(request, "risk/start.html", {
        "form": form, "units": unit_list, "chosen": chosen, "error_forms": error_forms,
    }, status=status)


# --- the assessment page ------------------------------------------------------------------------


def _people(user, assessment, search: str = "") -> PersonChoices:
    """Owners and participants to choose from: the people of the assessment's unit and below whom
    the user may see; those who take part in the unit's HMS work by their role (its managers,
    safety representatives and HR, AMU), listed by role as the work names them; and the people
    she may see whose name or employee number she searched for."""
    today = _today()
    working = Q(end_date__isnull=True) | Q(end_date__gte=today)
    unit = assessment.unit
    own = visible(user, Person).filter(unit__path__startswith=unit.path).filter(working).order_by("sort_name", "pk")
    # Whether the unit is small enough to list, by ids: a large unit's first 61 people as rows
    # (with their units) cost more than the rest of the page's queries.
    too_many = more_than(own, PEOPLE_LIMIT)
    listed = [] if too_many else [(p, f"{p.name}, {p.unit.name}") for p in own.select_related("unit")]
    holders = (services.role_holders(assessment, today).select_related("person")
               .order_by("person__sort_name", "role", "pk"))
    roles = dict(Role.choices)  # get_role_display() builds this dict for every row
    listed += [(h.person, f"{h.person.name} ({roles.get(h.role, h.role)})") for h in holders]
    if search:
        found = (visible(user, Person).filter(working).filter(people_matching(search))
                 .select_related("unit").order_by("sort_name", "pk")[:SEARCH_LIMIT])
        listed += [(p, f"{p.name}, {p.unit.name}") for p in found]
    choices = PersonChoices(listed)
    choices.unit_unlisted = too_many  # the finder says so
    return choices


class AssessmentPage:
    """What the assessment page and its form pages read about one assessment, each part on first
    use, a fixed number of queries however long its register, plan and ledger grow. The rows are
    read through the assessment, which the policy already let the user read."""

    def __init__(self, request, assessment):
        self.request = request
        self.user = request.user
        self.assessment = assessment
        self.lang = _lang()
        self.today = _today()

    @cached_property
    def can_edit(self) -> bool:
        return can(self.user, "edit", self.assessment)

    @cached_property
    def me(self):
        return scope.person_of(self.user)

    @cached_property
    def risks(self) -> list[Risk]:
        return list(self.assessment.risks.select_related("factor").order_by("id"))

    @cached_property
    def numbers(self) -> dict[int, int]:
        return {risk.pk: n for n, risk in enumerate(self.risks, start=1)}

    @cached_property
    def actions(self) -> list[Action]:
        return list(self.assessment.actions.select_related("owner").order_by("due", "id"))

    @cached_property
    def participants(self) -> list[Participant]:
        return list(self.assessment.participants.select_related("person").order_by("took_part_on", "id"))

    @cached_property
    def comments(self) -> list:
        return list(self.assessment.comments.select_related("author").order_by("created_at", "id"))

    @cached_property
    def factors(self) -> list:
        return list(services.factors_of(self.assessment.organisation_id))

    @cached_property
    def search(self) -> str:
        return asked(self.request.POST if self.request.method == "POST" else self.request.GET)

    @cached_property
    def people(self) -> PersonChoices:
        return _people(self.user, self.assessment, self.search)

    def factor_name(self, risk) -> str:
        return risk.factor.name(self.lang) if risk.factor_id else _("Other")

    def risk_label(self, risk) -> str:
        text = risk.description if len(risk.description) <= 60 else risk.description[:59] + "…"
        return f"{self.numbers[risk.pk]}. {self.factor_name(risk)}: {text}"

    @cached_property
    def risk_choices(self) -> dict:
        return {str(risk.pk): (self.risk_label(risk), risk) for risk in self.risks}

    def risk_form(self, data=None, **kwargs):
        return RiskForm(data, prefix="risiko", factors=self.factors, lang=self.lang, **kwargs)

    def action_form(self, data=None):
        return ActionForm(data, prefix="tiltak", people=self.people, risks=self.risk_choices)

    def participant_form(self, data=None):
        return ParticipantForm(data, prefix="deltaker", people=self.people)

    def people_and(self, person) -> PersonChoices:
        """The people offered, and `person` (a measure's owner) if she is not among them."""
        offered = self.people
        return PersonChoices([(offered.people[int(pk)], label) for pk, label in offered.choices]
                             + [(person, person.name)])

    def risk_row(self, pk: int) -> dict | None:
        return next((row for row in self.risk_rows() if row["risk"].pk == pk), None)

    def risk_rows(self) -> list[dict]:
        measures: dict[int, int] = {}
        for action in self.actions:
            if action.risk_id:
                measures[action.risk_id] = measures.get(action.risk_id, 0) + 1
        rows = []
        for risk in self.risks:
            level = rules.level(risk.likelihood, risk.consequence)
            rows.append({
                "risk": risk, "number": self.numbers[risk.pk], "factor": self.factor_name(risk),
                "level": level, "level_label": rules.LEVEL_LABELS[level], "level_class": LEVEL_CLASSES[level],
                "measures": measures.get(risk.pk, 0),
                "unanswered": level != rules.LOW and not measures.get(risk.pk),
            })
        return rows

    def action_rows(self) -> list[dict]:
        me = self.me
        return [{
            "action": action,
            "risk_number": self.numbers.get(action.risk_id),
            "overdue": action.is_open and action.due < self.today,
            "changeable": self.can_edit or (me is not None and action.owner_id == me.pk),
        } for action in self.actions]


def _render(request, assessment, *, bound=None, status=200):
    """The assessment page; `bound` holds a form that came back with errors, by its key."""
    user = request.user
    page = AssessmentPage(request, assessment)
    bound = bound or {}
    draft = not assessment.is_completed
    forms = {}
    if page.can_edit:
        if draft:
            forms["endre"] = HeadForm(prefix="endre", initial={
                "title": assessment.title, "method": assessment.method, "started_on": assessment.started_on,
                "version": assessment.version,
            })
            forms["risiko"] = page.risk_form()
            forms["deltaker"] = page.participant_form()
            forms["fullfor"] = CompleteForm(prefix="fullfor", initial={"version": assessment.version})
        else:
            forms["gjennomgang"] = ReviewForm(prefix="gjennomgang", initial={
                "review_due": assessment.review_due, "version": assessment.version,
            })
        # A measure found while following the plan up belongs in the same plan: also when completed.
        forms["tiltak"] = page.action_form()
    forms["kommentar"] = CommentForm(prefix="kommentar")
    # A form that came back is shown even where it would not be now (completed meanwhile), with why.
    forms.update(bound)
    error_forms = [{"key": key, "title": FORM_TITLES[key], "form": form}
                   for key, form in forms.items() if form.errors]
    context = {
        "assessment": assessment, "page": page, "forms": forms, "error_forms": error_forms,
        "risk_rows": page.risk_rows(), "action_rows": page.action_rows(), "participants": page.participants,
        "comments": page.comments, "can_edit": page.can_edit, "draft": draft, "search": page.search,
        "review_stage": rules.review_stage(assessment.review_due, page.today) if not draft else "",
        "may_start_next": page.can_edit and not draft,
    }
    # The survey's part of the page (risk/survey_panel.html) is the survey's own to say.
    context.update(survey_views.panel(user, assessment))
    return render(request, "risk/assessment.html", context, status=status)


@login_required
@require_GET
def assessment(request, pk: int):
    found = get_visible_or_404(request.user, Assessment, pk=pk)
    return _render(request, found)


# --- the forms of the assessment page ------------------------------------------------------------


def _editable(request, pk: int, *, draft_only: bool = True):
    """(the assessment, whether it may be changed here): 404 if the user may not change it; not
    changeable, with a message, when the change needs a draft and it is completed (an old page)."""
    found = get_visible_or_404(request.user, Assessment, "edit", pk=pk)
    if draft_only and found.is_completed:
        messages.info(request, str(COMPLETED_MESSAGE))
        return found, False
    return found, True


def _submit(request, key, make, call, *, done, back, again, version=None):
    """Validate `make(request.POST)` and save it with `call(form)`.

    Saved: `done` as a message and a redirect to `back` (or to `back(result)`, for where the
    saved row is). Bad input: `again(form, 400)`, the page with her input and the errors. Stale:
    `again(form, 409)` with her input kept against the version `version()` returns now, and why.
    """
    form = make(request.POST)
    if form.is_valid():
        try:
            result = call(form)
        except StaleVersion:
            data = request.POST.copy()
            data[f"{key}-version"] = str(version())
            form = make(data)
            form.is_valid()
            form.add_error(None, str(STALE_INPUT_KEPT))
            return again(form, 409)
        except ValidationError as error:
            apply_service_errors(form, error)
        except AccessDenied:
            raise Http404
        else:
            messages.success(request, str(done))
            return redirect(back(result) if callable(back) else back)
    return again(form, 400)


def _on_page(request, assessment, key):
    """The `again` of a form on the assessment page: the page with that form as it came back;
    after a stale edit, with the assessment as the other person left it."""

    def again(form, status):
        if status == 409:
            assessment.refresh_from_db()
        return _render(request, assessment, bound={key: form}, status=status)

    return again


def _version_of(model, pk):
    return lambda: model.objects.values_list("version", flat=True).get(pk=pk)


@login_required
@require_POST
def edit(request, pk: int):
    assessment, changeable = _editable(request, pk)
    if not changeable:
        return redirect(_url(assessment))

    def call(form):
        c = form.cleaned_data
        services.update_assessment(request.user, assessment, c["version"], title=c["title"], method=c["method"],
                                   started_on=c["started_on"])

    return _submit(request, "endre", lambda data: HeadForm(data, prefix="endre"), call,
                   done=_("The assessment is saved."), back=_url(assessment),
                   again=_on_page(request, assessment, "endre"), version=_version_of(Assessment, assessment.pk))


@login_required
@require_POST
def complete(request, pk: int):
    assessment, changeable = _editable(request, pk)
    if not changeable:
        return redirect(_url(assessment))

    def call(form):
        c = form.cleaned_data
        services.complete(request.user, assessment, c["version"], summary=c["summary"],
                          completed_on=c["completed_on"], review_due=c["review_due"])

    return _submit(request, "fullfor", lambda data: CompleteForm(data, prefix="fullfor"), call,
                   done=_("The assessment is completed."), back=_url(assessment),
                   again=_on_page(request, assessment, "fullfor"), version=_version_of(Assessment, assessment.pk))


@login_required
@require_POST
def review(request, pk: int):
    assessment, _changeable = _editable(request, pk, draft_only=False)

    def call(form):
        c = form.cleaned_data
        services.set_review_due(request.user, assessment, c["version"], c["review_due"])

    return _submit(request, "gjennomgang", lambda data: ReviewForm(data, prefix="gjennomgang"), call,
                   done=_("The next review is moved."), back=_url(assessment),
                   again=_on_page(request, assessment, "gjennomgang"),
                   version=_version_of(Assessment, assessment.pk))


@login_required
@require_POST
def comment(request, pk: int):
    assessment = get_visible_or_404(request.user, Assessment, pk=pk)

    def call(form):
        return services.add_comment(request.user, assessment, form.cleaned_data["text"])

    return _submit(request, "kommentar", lambda data: CommentForm(data, prefix="kommentar"), call,
                   done=_("Your comment is saved."), back=lambda saved: _url(assessment, f"kommentar-{saved.pk}"),
                   again=_on_page(request, assessment, "kommentar"))


# --- the risk register --------------------------------------------------------------------------


@login_required
@require_POST
def risk_add(request, pk: int):
    assessment, changeable = _editable(request, pk)
    if not changeable:
        return redirect(_url(assessment))
    page = AssessmentPage(request, assessment)

    def call(form):
        services.add_risk(request.user, assessment, **form.service_kwargs())

    return _submit(request, "risiko", page.risk_form, call, done=_("The risk is added."),
                   back=_url(assessment, "risikoer"), again=_on_page(request, assessment, "risiko"))


def _risk_of(request, risk_id: int):
    """The risk and its assessment, if the user may change the assessment; else 404."""
    risk = Risk.objects.filter(pk=risk_id).first()
    if risk is None:
        raise Http404
    risk.assessment = get_visible_or_404(request.user, Assessment, "edit", pk=risk.assessment_id)
    return risk, risk.assessment


@login_required
@require_http_methods(["GET", "POST"])
def risk_edit(request, risk_id: int):
    risk, assessment = _risk_of(request, risk_id)
    if assessment.is_completed:
        messages.info(request, str(COMPLETED_MESSAGE))
        return redirect(_url(assessment, "risikoer"))
    page = AssessmentPage(request, assessment)
    key = f"r{risk.pk}"
    back = _url(assessment, f"risiko-{risk.pk}")

    def make(data=None):
        initial = None if data is not None else {
            "factor": risk.factor.code if risk.factor_id else OTHER_FACTOR, "description": risk.description,
            "likelihood": risk.likelihood, "consequence": risk.consequence,
            "current_measures": risk.current_measures, "version": risk.version,
        }
        return RiskEditForm(data, prefix=key, factors=page.factors, lang=page.lang, initial=initial)

    def again(form, status=200):
        if status == 409:
            # Beside the form, the risk as the other person left it.
            page.__dict__.pop("risks", None)
            page.__dict__.pop("numbers", None)
        return _form_page(request, assessment, key=key, form=form, title=_("Change the risk"),
                          action=reverse("risk:risk_edit", args=[risk.pk]), submit=_("Save"), back=back,
                          status=status, risk_row=page.risk_row(risk.pk))

    if request.method == "GET":
        return again(make())

    def call(form):
        return services.update_risk(request.user, risk, form.cleaned_data["version"], **form.service_kwargs())

    return _submit(request, key, make, call, done=_("The risk is saved."), back=back, again=again,
                   version=_version_of(Risk, risk.pk))


@login_required
@require_POST
def risk_remove(request, risk_id: int):
    risk, assessment = _risk_of(request, risk_id)
    try:
        services.remove_risk(request.user, risk)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    except AccessDenied:
        raise Http404
    else:
        messages.success(request, _("The risk is removed from the register. Its measures stay in the action plan."))
    return redirect(_url(assessment, "risikoer"))


# --- the action plan ----------------------------------------------------------------------------


@login_required
@require_POST
def action_add(request, pk: int):
    assessment, _changeable = _editable(request, pk, draft_only=False)
    page = AssessmentPage(request, assessment)

    def call(form):
        services.add_action(request.user, assessment, **form.service_kwargs())

    return _submit(request, "tiltak", page.action_form, call, done=_("The measure is added."),
                   back=_url(assessment, "tiltak-liste"), again=_on_page(request, assessment, "tiltak"))


@login_required
@require_http_methods(["GET", "POST"])
def action_edit(request, action_id: int):
    """Those who change the assessment change all of a measure; its owner its status."""
    action = get_visible_or_404(request.user, Action, "status", pk=action_id)
    # Whoever may change a measure, or owns it, reads its assessment (risk.policy).
    assessment = Assessment.objects.select_related("unit").get(pk=action.assessment_id)
    page = AssessmentPage(request, assessment)
    key = f"m{action.pk}"
    full = page.can_edit
    back = _url(assessment, f"tiltak-{action.pk}")

    def make(data=None):
        initial = None if data is not None else {
            "status": action.status, "cancel_reason": action.cancel_reason, "version": action.version,
        }
        if not full:
            return ActionStatusForm(data, prefix=key, initial=initial)
        if initial is not None:
            initial.update(what=action.what, owner=str(action.owner_id), due=action.due,
                           risk=str(action.risk_id or ""))
        return ActionChangeForm(data, prefix=key, initial=initial, people=page.people_and(action.owner),
                                risks=page.risk_choices)

    def again(form, status=200):
        if status == 409:
            action.refresh_from_db()
        return _form_page(request, assessment, key=key, form=form, title=_("Change the measure"),
                          action=reverse("risk:action_edit", args=[action.pk]), submit=_("Save"), back=back,
                          status=status, measure=action, measure_risk=page.numbers.get(action.risk_id),
                          finder=full, search=page.search)

    if request.method == "GET":
        return again(make())

    def call(form):
        changes = form.changes(action)
        return services.update_action(request.user, action, form.cleaned_data["version"], **changes)

    return _submit(request, key, make, call, done=_("The measure is updated."), back=back, again=again,
                   version=_version_of(Action, action.pk))


# --- participation ------------------------------------------------------------------------------


@login_required
@require_POST
def participant_add(request, pk: int):
    assessment, changeable = _editable(request, pk)
    if not changeable:
        return redirect(_url(assessment))
    page = AssessmentPage(request, assessment)

    def call(form):
        services.add_participant(request.user, assessment, **form.service_kwargs())

    return _submit(request, "deltaker", page.participant_form, call, done=_("The participant is recorded."),
                   back=_url(assessment, "deltakere"), again=_on_page(request, assessment, "deltaker"))


@login_required
@require_POST
def participant_remove(request, participant_id: int):
    participant = Participant.objects.filter(pk=participant_id).first()
    if participant is None:
        raise Http404
    assessment = get_visible_or_404(request.user, Assessment, "edit", pk=participant.assessment_id)
    participant.assessment = assessment
    try:
        services.remove_participant(request.user, participant)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    except AccessDenied:
        raise Http404
    else:
        messages.success(request, _("The participant is removed from the ledger."))
    return redirect(_url(assessment, "deltakere"))


# --- a form on a page of its own ---------------------------------------------------------------


def _form_page(request, assessment, *, key, form, title, action, submit, back, status=200, **extra):
    error_forms = [{"key": key, "title": "", "form": form}] if form.errors else []
    return render(request, "risk/form.html", {
        "assessment": assessment, "key": key, "form": form, "title": title, "action": action, "submit": submit,
        "back": back, "error_forms": error_forms, **extra,
    }, status=status)
