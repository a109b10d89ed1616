"""Pages of sick-leave follow-up: episodes, the follow-up page of a case (plan,
meetings, the legal timeline), the employee's part, statistics and import.

Every view checks access first; what the user may not see is a 404. Reading a
sick-leave case's follow-up page is logged as an ACCESS audit event: episode
dates are health data."""

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from html import escape
from typing import NamedTuple

from django import forms as django_forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import F, Q
from django.forms.utils import flatatt
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.safestring import mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from tidsnok.absence import forms, importing, services, statistics
from tidsnok.absence.models import DialogueMeeting, Episode, FollowUpPlan, ImportJob, RecurrenceFlag
from tidsnok.absence.policy import may_import
from tidsnok.access.policy import AccessDenied, get_visible_or_404, visible
from tidsnok.audit.services import record_access
from tidsnok.cases.models import Case, Deadline, DeadlineStatus, Factor, Kind
from tidsnok.cases.policy import registrable_units
from tidsnok.cases.services import mark_not_required
from tidsnok.deadlines.rules import explain_text
from tidsnok.org import scope
from tidsnok.org.models import Person, Unit
from tidsnok.org.search import asked, chosen_unit, in_unit, listed, more_than, people_matching, unit_choices
from tidsnok.versioning import StaleVersion

PAGE_SIZE = 50
# Prompts of frequent absence shown at a time: HR for a large organisation has thousands.
FLAGS_PER_PAGE = 20
# People one list of names may hold (as on a new case); a larger scope chooses a unit first.
PEOPLE_LIMIT = 400
# The legal milestones drawn on the timeline, as day numbers (day 1 = first day).
MILESTONES = [
    (16, "16"), (28, "28"), (49, "49"), (56, "56"), (112, "112"), (182, "182"),
]


def _lang() -> str:
    return "en" if (get_language() or "nb").startswith("en") else "nb"


def _apply_errors(form, error: ValidationError):
    if hasattr(error, "message_dict"):
        for field, messages_ in error.message_dict.items():
            target = field if field in form.fields else None
            for message in messages_:
                form.add_error(target, message)
    else:
        for message in error.messages:
            form.add_error(None, message)


def _may_register(user) -> bool:
    return bool(scope.managed_unit_ids(user)) or scope.is_hr(user) or scope.is_admin(user)


# --- episodes -----------------------------------------------------------------------------------


@login_required
def episode_list(request):
    """Absence episodes the user may see: a manager's own people, HR's scope, or her own."""
    rows = visible(request.user, Episode).select_related("person", "person__unit").prefetch_related("grades")
    status = request.GET.get("status", "")
    if status == "open":
        rows = rows.filter(end__isnull=True)
    before = request.GET.get("before")
    if before and before.isdigit():
        rows = rows.filter(id__lt=int(before))
    # Newest first. Rows reached through a manager's (or limited HR's) people come through the
    # person index; ordering them by the bare key let PostgreSQL walk the whole organisation's
    # episodes backwards to find hers (docs/performance.md, finding 21).
    whole_organisation = scope.hr_scope(request.user) == scope.ALL
    newest = F("id").desc() if whole_organisation else (F("id") + 0).desc()
    page = list(rows.order_by(newest)[: PAGE_SIZE + 1])
    older = page[PAGE_SIZE - 1].pk if len(page) > PAGE_SIZE else None
    flags = Paginator(
        visible(request.user, RecurrenceFlag).filter(handled_on__isnull=True).select_related("person")
        .order_by("raised_on", "pk"),  # the longest waiting first
        FLAGS_PER_PAGE,
    ).get_page(request.GET.get("flagg"))
    return render(request, "absence/list.html", {
        "episodes": page[:PAGE_SIZE], "older": older, "status": status, "flags": flags,
        "may_register": _may_register(request.user), "flag_form": forms.FlagHandledForm(),
        "may_import": may_import(request.user),
    })


def _episode_people(user, wanted_unit, search):
    """(who may be chosen, who is listed, units to choose from, the unit chosen, too many?).
    Anyone the user may see may be chosen; the list holds at most PEOPLE_LIMIT names, so a
    larger scope (HR for 50,000 people, a unit of 800) is listed a unit at a time and narrowed
    by name or employee number, like a new case."""
    me = scope.person_of(user)
    people = visible(user, Person).exclude(pk=me.pk if me else None)
    if not more_than(people, PEOPLE_LIMIT):
        return people, list(people.select_related("unit").order_by("sort_name", "pk")), [], None, False
    # An administrator may register absence for anyone she may see.
    units = registrable_units(user, every_visible=scope.is_admin(user))
    unit = chosen_unit(units, wanted_unit)
    if unit is None:
        return people, [], [], None, True
    rows = in_unit(people, unit).filter(people_matching(search)).select_related("unit")
    rows = listed(rows, PEOPLE_LIMIT, ("unit__path", "sort_name", "pk"), search)
    if rows is None:
        return people, [], units, unit, True
    return people, rows, units, unit, False


@login_required
def episode_new(request):
    if not _may_register(request.user):
        raise Http404
    me = scope.person_of(request.user)
    params = request.POST if request.method == "POST" else request.GET
    search = asked(params)
    people, listed, units, unit, too_many = _episode_people(request.user, params.get("enhet"), search)
    factors = Factor.objects.filter(organisation_id=me.organisation_id, active=True)
    form = forms.EpisodeForm(
        request.POST or None, people=people, factors=factors, lang=_lang(),
        listed=[(p.pk, f"{p.name}, {p.unit.name}" if unit is not None else p.name) for p in listed],
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            episode = services.register_episode(
                request.user, person=data["person"], start=data["start"], end=data["end"], grade=data["grade"],
                certified=data["certified"], work_related=data["work_related"], factors=data["factors"],
                open_case=data["open_case"],
            )
        except ValidationError as error:
            _apply_errors(form, error)
        else:
            messages.success(request, _("The absence is registered."))
            if episode.case_id:
                return redirect("absence:follow_up", case_id=episode.case_id)
            return redirect("absence:list")
    return render(request, "absence/new.html", {
        "form": form, "units": unit_choices(units), "unit": unit, "too_many": too_many, "search": search,
    })


@login_required
def episode_detail(request, episode_id: int):
    episode = get_visible_or_404(request.user, Episode, pk=episode_id)
    may_edit = visible(request.user, Episode, "edit").filter(pk=episode.pk).exists()
    own = scope.person_of(request.user) == episode.person
    factors = Factor.objects.filter(organisation_id=episode.organisation_id, active=True)
    edit_form = forms.EpisodeEditForm(initial={"version": episode.version, "end": episode.end,
                                               "certified": episode.certified})
    grade_form = forms.GradeForm(initial={"version": episode.version, "from_date": timezone.localdate()})
    related_form = forms.WorkRelatedForm(
        initial={"version": episode.version, "level": episode.work_related,
                 "factors": list(episode.work_related_factors.values_list("code", flat=True))},
        factors=factors, lang=_lang())
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "edit" and may_edit:
                edit_form = forms.EpisodeEditForm(request.POST)
                if edit_form.is_valid():
                    d = edit_form.cleaned_data
                    services.update_episode(request.user, episode, d["version"], end=d["end"], certified=d["certified"])
                    messages.success(request, _("Saved."))
                    return redirect("absence:episode", episode_id=episode.pk)
            elif action == "grade" and may_edit:
                grade_form = forms.GradeForm(request.POST)
                if grade_form.is_valid():
                    d = grade_form.cleaned_data
                    services.set_grade(request.user, episode, d["version"], from_date=d["from_date"], grade=d["grade"])
                    messages.success(request, _("Saved."))
                    return redirect("absence:episode", episode_id=episode.pk)
            elif action == "work_related" and (may_edit or own):
                related_form = forms.WorkRelatedForm(request.POST, factors=factors, lang=_lang())
                if related_form.is_valid():
                    d = related_form.cleaned_data
                    services.mark_work_related(request.user, episode, d["version"], level=d["level"], factors=d["factors"])
                    messages.success(request, _("Saved."))
                    return redirect("absence:episode", episode_id=episode.pk)
            else:
                raise Http404
        except StaleVersion as error:
            messages.error(request, str(error))
        except ValidationError as error:
            target = {"edit": edit_form, "grade": grade_form, "work_related": related_form}[action]
            _apply_errors(target, error)
    return render(request, "absence/episode.html", {
        "episode": episode, "grades": episode.grades.all(), "may_edit": may_edit, "own": own,
        "edit_form": edit_form, "grade_form": grade_form, "related_form": related_form,
    })


@login_required
@require_POST
def flag_handled(request, flag_id: int):
    flag = get_visible_or_404(request.user, RecurrenceFlag, pk=flag_id)
    form = forms.FlagHandledForm(request.POST)
    if form.is_valid():
        try:
            services.handle_flag(request.user, flag, form.cleaned_data["note"])
            messages.success(request, _("Recorded. Thank you for following up."))
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
    else:
        messages.error(request, _("Write what was done."))
    return redirect("absence:list")


# --- the follow-up page of a case ---------------------------------------------------------------


def _timeline(case, episodes, deadlines):
    """Positions (0–100 %) of the legal milestones, the deadlines and today on one axis."""
    if not episodes:
        return None
    start = episodes[0].period_start
    today = timezone.localdate()
    last_day = max([start + timedelta(days=365), *[d.due for d in deadlines]])
    span = (last_day - start).days or 1

    def x(day: date) -> float:
        return round(100 * max(0, min((day - start).days, span)) / span, 2)

    marks = [
        {"x": x(d.due), "title": d.title(_lang()), "status": d.status, "due": d.due,
         "met_x": x(d.met_on) if d.met_on else None}
        for d in deadlines if d.status != DeadlineStatus.NOT_REQUIRED
    ]
    absent = [{"x": x(e.start), "width": max(0.5, x(e.end or today) - x(e.start))} for e in episodes]
    return {"start": start, "end": last_day, "today_x": x(today), "marks": marks, "absent": absent}


def _follow_up_context(request, case, participant_only):
    episodes = list(Episode.objects.filter(case=case).prefetch_related("grades").order_by("start"))
    plan = FollowUpPlan.objects.filter(case=case).first()
    versions = list(plan.versions.prefetch_related("sendings").order_by("-number")) if plan else []
    meetings = list(DialogueMeeting.objects.filter(case=case))
    deadlines = [d for d in case.deadlines.order_by("due") if d.rule_id.startswith("sick_leave.")]
    lang = _lang()
    deadline_rows = [
        {"deadline": d, "title": d.title(lang), "why": explain_text(d.explanation, lang),
         "overdue": d.status == DeadlineStatus.OPEN and d.due < timezone.localdate() and not d.expected_event}
        for d in deadlines
    ]
    return {
        "case": case, "episodes": episodes, "plan": plan, "versions": versions, "latest": versions[0] if versions else None,
        "meetings": meetings, "deadline_rows": deadline_rows, "timeline": _timeline(case, episodes, deadlines),
        "participant_only": participant_only,
        "plan_form": forms.PlanForm(initial=_plan_initial(versions)), "response_form": forms.PlanResponseForm(),
        "absent_form": forms.EmployeeAbsentForm(), "sent_form": forms.PlanSentForm(), "meeting_form": forms.MeetingForm(),
        "not_required_form": forms.NotRequiredForm(),
        "held_forms": {m.pk: forms.MeetingHeldForm(initial={"version": m.version}, auto_id=f"held{m.pk}-%s")
                       for m in meetings if not m.held_on},
    }


def _plan_initial(versions):
    if not versions:
        return {}
    v = versions[0]
    return {"work_tasks_and_capacity": v.work_tasks_and_capacity, "employer_measures": v.employer_measures,
            "assisted_measures": v.assisted_measures, "further_follow_up": v.further_follow_up}


def _case_for(request, case_id):
    """(case, participant_only): handlers see everything; the employee her part."""
    try:
        case = visible(request.user, Case).get(pk=case_id, kind=Kind.SICK_LEAVE)
        return case, False
    except Case.DoesNotExist:
        pass
    case = get_visible_or_404(request.user, Case, "participate", pk=case_id, kind=Kind.SICK_LEAVE)
    return case, True


@login_required
def follow_up(request, case_id: int):
    case, participant_only = _case_for(request, case_id)
    record_access(request.user, case, reason="sick_leave_follow_up")
    context = _follow_up_context(request, case, participant_only)
    return render(request, "absence/follow_up.html", context)


def _redirect(case):
    return redirect(reverse("absence:follow_up", args=[case.pk]))


@login_required
@require_POST
def follow_up_action(request, case_id: int, action: str):
    """One small POST per action on the follow-up page; errors come back on the page."""
    case, participant_only = _case_for(request, case_id)
    context = _follow_up_context(request, case, participant_only)
    form = None
    try:
        with transaction.atomic():
            if action == "plan" and not participant_only:
                form = context["plan_form"] = forms.PlanForm(request.POST)
                if form.is_valid():
                    services.save_plan(request.user, case, **form.cleaned_data)
                    messages.success(request, _("A new version of the follow-up plan is saved."))
                    return _redirect(case)
            elif action == "respond" and participant_only:
                form = context["response_form"] = forms.PlanResponseForm(request.POST)
                if form.is_valid() and context["latest"] is not None:
                    services.respond_to_plan(request.user, context["latest"], approves=form.cleaned_data["approves"],
                                             comment=form.cleaned_data["comment"])
                    messages.success(request, _("Your answer is recorded."))
                    return _redirect(case)
            elif action == "employee_absent" and not participant_only and context["latest"] is not None:
                form = context["absent_form"] = forms.EmployeeAbsentForm(request.POST)
                if form.is_valid():
                    services.record_employee_absent(request.user, context["latest"], form.cleaned_data["reason"])
                    messages.success(request, _("Recorded."))
                    return _redirect(case)
            elif action == "sent" and not participant_only and context["latest"] is not None:
                form = context["sent_form"] = forms.PlanSentForm(request.POST)
                if form.is_valid():
                    services.record_plan_sent(request.user, context["latest"], **form.cleaned_data)
                    messages.success(request, _("Recorded when and to whom the plan was sent."))
                    return _redirect(case)
            elif action == "meeting" and not participant_only:
                form = context["meeting_form"] = forms.MeetingForm(request.POST)
                if form.is_valid():
                    services.invite_meeting(request.user, case, **form.cleaned_data)
                    messages.success(request, _("The meeting is registered."))
                    return _redirect(case)
            elif action.startswith("held-") and not participant_only:
                meeting = DialogueMeeting.objects.filter(case=case, pk=action.removeprefix("held-")).first()
                if meeting is None:
                    raise Http404
                form = forms.MeetingHeldForm(request.POST, auto_id=f"held{meeting.pk}-%s")
                context["held_forms"][meeting.pk] = form
                if form.is_valid():
                    d = form.cleaned_data
                    services.record_meeting_held(request.user, meeting, d["version"], held_on=d["held_on"],
                                                 minutes=d["minutes"])
                    messages.success(request, _("The meeting is recorded as held."))
                    return _redirect(case)
            elif action == "request_meeting":
                services.request_meeting_1(request.user, case, "employee" if participant_only else "manager")
                messages.success(request, _("Dialogue meeting 1 is requested."))
                return _redirect(case)
            elif action == "not_required" and not participant_only:
                form = context["not_required_form"] = forms.NotRequiredForm(request.POST)
                if form.is_valid():
                    deadline = Deadline.objects.filter(case=case, pk=form.cleaned_data["deadline"]).first()
                    if deadline is None:
                        raise Http404
                    mark_not_required(request.user, deadline, form.cleaned_data["reason"])
                    messages.success(request, _("Recorded as obviously unnecessary, with your reason."))
                    return _redirect(case)
            else:
                raise Http404
    except StaleVersion as error:
        messages.error(request, str(error))
    except AccessDenied:
        raise Http404
    except ValidationError as error:
        if form is not None:
            _apply_errors(form, error)
        else:
            messages.error(request, " ".join(error.messages))
    return render(request, "absence/follow_up.html", context, status=400)


# --- statistics and import ----------------------------------------------------------------------


# A page of the table shows this many units (a year is 12 rows each); the CSV has them all. A
# whole municipality has thousands of units: tens of thousands of rows are no use on a page, and
# cost more to render than to compute.
STATISTICS_UNITS_PER_PAGE = 20
# Up to this many units in scope, the unit list holds them all. Above it (HR for a municipality:
# thousands, a 180 KB page), one level of the tree at a time, as the compliance overview does.
UNIT_OPTIONS_FLAT = 100
# Indents an option by its depth; a select cannot hold markup.
INDENT = "\u2003"
_TENTH = Decimal("0.1")


class _StatisticsLine(NamedTuple):
    unit_name: str
    month: str
    rate: str
    short: str
    long: str
    self_certified: str
    doctor: str
    related: str


def _one_decimal(value: float, separator: str) -> str:
    """`value|floatformat:1` without the template machinery: the same rounding (half up, from the
    float's shortest decimal form) and the language's decimal separator, no grouping."""
    return str(Decimal(repr(value)).quantize(_TENTH, ROUND_HALF_UP)).replace(".", separator)


class _UnitSelect(django_forms.Select):
    """The statistics form's unit list written in one pass: a municipality has thousands of units,
    and Django's rendering of a template per option costs more than the figures themselves. The
    same markup as forms.Select; the field (and its validation) is the form's own."""

    def __init__(self, units: list[tuple[int, str]], empty_label: str):
        super().__init__()
        self.units = units
        self.empty_label = empty_label

    def render(self, name, value, attrs=None, renderer=None):
        selected = set(self.format_value(value))
        options = "".join(
            f'<option value="{key}"{" selected" if str(key) in selected else ""}>{escape(label)}</option>'
            for key, label in [("", self.empty_label), *self.units]
        )
        attributes = flatatt(self.build_attrs(self.attrs, attrs))
        return mark_safe(f'<select name="{escape(name)}"{attributes}>{options}</select>')


def _statistics_lines(rows, separator: str) -> list[_StatisticsLine]:
    return [
        _StatisticsLine(row.unit_name, f"{row.month:%m.%Y}", *(_one_decimal(value, separator) for value in (
            row.rate, row.short_pct, row.long_pct, row.self_pct, row.doctor_pct, row.related_pct)))
        for row in rows
    ]


def _statistics_table_rows(lines: list[_StatisticsLine]) -> str:
    """The table's rows in one pass, for the same reason as _UnitSelect: a page is 20 units of 12
    months, about 2,000 cells, and the template engine spent 20-30 ms on them (at 50,000 employees,
    half of HR's page from the cache). Every cell is escaped."""
    cells = "</td><td>"
    return mark_safe("".join(
        f"<tr><td>{escape(line.unit_name)}</td><td>{escape(line.month)}</td><td>"
        + cells.join(f"{escape(value)} %" for value in line[2:])
        + "</td></tr>"
        for line in lines
    ))


def _unit_options(units, chosen) -> tuple[list[tuple[int, str]], bool]:
    """The statistics form's unit list: (options, whether it is one level of the tree).

    A large scope lists the top of the tree (the units in scope whose parent is not, and the units
    right below them), and with a unit chosen also its line of ancestors and the units right
    below it, indented by depth. The form accepts any unit in scope, whether listed or not."""
    if not more_than(units, UNIT_OPTIONS_FLAT):
        return list(units.values_list("id", "name")), False
    tops = list(units.exclude(parent_id__in=units.values("pk")).values_list("pk", flat=True))
    wanted = Q(pk__in=tops) | Q(parent_id__in=tops)
    if chosen is not None:
        ancestors = chosen.ancestor_ids
        wanted |= Q(pk__in=ancestors) | Q(parent_id=chosen.pk)
    rows = list(units.filter(wanted).values_list("id", "name", "depth"))
    least = min(depth for _pk, _name, depth in rows)
    return [(pk, INDENT * (depth - least) + name) for pk, name, depth in rows], True


@login_required
def statistics_page(request):
    person = scope.person_of(request.user)
    try:
        allowed = statistics.unit_scope(request.user)
    except AccessDenied:
        raise Http404
    units = Unit.objects.filter(organisation_id=person.organisation_id).order_by("path")
    if allowed != scope.ALL:
        units = units.filter(pk__in=list(allowed))
    form = forms.StatisticsForm(request.GET or None, units=units)
    first, last = statistics.default_period()
    unit = None
    if form.is_valid():
        first = form.cleaned_data["start"] or first
        last = form.cleaned_data["end"] or last
        unit = form.cleaned_data["unit"]
    unit_field = form.fields["unit"]
    options, one_level = _unit_options(units, unit)
    unit_field.widget = _UnitSelect(options, str(unit_field.empty_label))
    if one_level:
        unit_field.help_text = _("Choose a unit and press Show: the list then also holds the units right below it.")
    if first > last:
        form.add_error("start", _("The period starts after it ends."))
        first, last = statistics.default_period()
    stats = statistics.compute(request.user, person.organisation, first, last, unit)
    if request.GET.get("format") == "csv":
        response = HttpResponse(statistics.as_csv(stats), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="sykefravaer.csv"'
        return response
    trend = stats.trend()
    top = max([rate for _m, rate in trend] + [1.0])
    bars = []
    for i, (month, rate) in enumerate(trend):
        height = round(100 * rate / top, 1)
        bars.append({"month": month, "rate": rate, "height": height, "y": round(120 - height, 1), "x": i * 40 + 30})
    page = Paginator(stats.units(), STATISTICS_UNITS_PER_PAGE).get_page(request.GET.get("page"))
    lines = _statistics_lines(stats.rows_of(unit_id for unit_id, _name in page.object_list),
                              formats.get_format("DECIMAL_SEPARATOR"))
    query = request.GET.copy()
    for parameter in ("page", "format"):
        query.pop(parameter, None)
    return render(request, "absence/statistics.html", {
        "form": form, "stats": stats, "first": first, "last": last, "bars": bars, "chart_width": len(bars) * 40 + 40,
        "csv_query": query.urlencode(), "page": page, "table_rows": _statistics_table_rows(lines),
        "page_query": f"{query.urlencode()}&" if query else "",
    })


@login_required
def import_page(request):
    if not may_import(request.user):
        raise Http404
    person = scope.person_of(request.user)
    form = forms.ImportForm(request.POST or None, request.FILES or None)
    result = None
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        outcome = importing.submit(request.user, person.organisation, upload.read(), upload.name)
        if isinstance(outcome, ImportJob):
            messages.success(request, _(
                "The file has %(rows)d rows, too many to import while you wait. It is imported in the background "
                "(a large file can take several minutes): its result appears below.") % {"rows": outcome.rows})
            return redirect("absence:import")
        result = outcome
        if result.ok:
            messages.success(request, _("Imported: %(created)d new, %(changed)d changed, %(unchanged)d unchanged.") % result.summary)
            return redirect("absence:import")
    jobs = list(visible(request.user, ImportJob).order_by("-queued_at", "-pk")[:10])
    return render(request, "absence/import.html", {
        "form": form, "result": result, "jobs": jobs, "at_once": importing.IMPORT_AT_ONCE,
    })
