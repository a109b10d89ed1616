"""The case pages: the manager's path in the browser, and the concerned employee's.

Every view looks the case up through the access policy first (a case the user
may not see is a 404, on the page and on every form URL alike); every change goes
through a service in tidsnok.cases.services. The forms on the case page post to
small views of their own; on bad input the case page is shown again with that
form filled in and its errors, and nothing is written.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Count, Exists, IntegerField, OuterRef, Prefetch, Q, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from tidsnok.access.policy import AccessDenied, can, get_visible_or_404, visible
from tidsnok.audit.services import record_access
from tidsnok.cases import guidance, hooks, services, timeline
from tidsnok.cases.forms import (
    AddHandlerForm,
    AskHrForm,
    AssessmentForm,
    CloseForm,
    CommentForm,
    ConclusionForm,
    ConversationForm,
    DecisionForm,
    FollowUpForm,
    MeasureForm,
    MeasureResponseForm,
    MeasureStatusForm,
    NewCaseForm,
    NoteForm,
    PartyFormSet,
    PersonChoices,
    ReopenForm,
    WaiveForm,
    apply_service_errors,
)
from tidsnok.cases.models import (
    ACCESS_LOGGED_KINDS,
    MANAGER_KINDS,
    OPEN_MEASURE_STATUSES,
    Case,
    Deadline,
    DeadlineStatus,
    Entry,
    EntryKind,
    Factor,
    Kind,
    Measure,
    MeasureStatus,
    Party,
    PartyRole,
    Status,
    Visibility,
)
from tidsnok.deadlines.calendar import normalise_lang
from tidsnok.org import scope
from tidsnok.org.models import Person, Role, RoleAssignment, Unit
from tidsnok.versioning import StaleVersion

PAGE_SIZE = 25
# More people than this in one unit's subtree cannot be ticked off in a list:
# the page asks for a smaller unit instead.
PEOPLE_LIMIT = 400
# Parties first, in this order, in every list of people on a case.
ROLE_ORDER = {PartyRole.CONCERNED: 0, PartyRole.ACCUSED: 1, PartyRole.REPORTER: 2, PartyRole.WITNESS: 3,
              PartyRole.OTHER: 4}

STALE_MESSAGE = gettext_lazy(
    "Someone else changed this meanwhile. Their change is shown here and your input is kept: check it and "
    "save again."
)


def _lang() -> str:
    return normalise_lang(get_language())


def _today():
    return timezone.localdate()


def _case_url(case, anchor: str = "") -> str:
    return reverse("cases:detail", args=[case.pk]) + (f"#{anchor}" if anchor else "")


# --- the list -----------------------------------------------------------------------------------


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _cursor(case) -> str:
    # Whole microseconds by integer arithmetic: a float timestamp can be off by
    # one, and then cases registered in the same microsecond would be skipped.
    return f"{(case.created_at - _EPOCH) // _MICROSECOND}-{case.pk}"


def _parse_cursor(value: str | None):
    """(created_at, pk) from "<microseconds>-<pk>", or None for anything else."""
    if not value or value.count("-") != 1:
        return None
    stamp, pk = value.split("-")
    if not (stamp.isdigit() and pk.isdigit()) or len(stamp) > 17:
        return None
    return _EPOCH + int(stamp) * _MICROSECOND, int(pk)


def _keyset_page(cases, request):
    """Newest first, PAGE_SIZE at a time by keyset (?before= / ?after=): no OFFSET
    and no COUNT over everything, so page 200 costs what page 1 does."""
    before = _parse_cursor(request.GET.get("before"))
    after = _parse_cursor(request.GET.get("after"))
    if after is not None and before is None:
        at, pk = after
        rows = list(cases.filter(Q(created_at__gt=at) | Q(created_at=at, pk__gt=pk))
                    .order_by("created_at", "pk")[: PAGE_SIZE + 1])
        has_newer = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE][::-1]
        has_older = True
    else:
        if before is not None:
            at, pk = before
            cases = cases.filter(Q(created_at__lt=at) | Q(created_at=at, pk__lt=pk))
        rows = list(cases.order_by("-created_at", "-pk")[: PAGE_SIZE + 1])
        has_older = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE]
        has_newer = before is not None
    return rows, {
        "newer": _cursor(rows[0]) if rows and has_newer else None,
        "older": _cursor(rows[-1]) if rows and has_older else None,
        "paged": before is not None or after is not None,
    }


class CaseFilters:
    """The list's filters, read leniently: an unknown value is simply no filter."""

    def __init__(self, data):
        self.status = data.get("status", "") if data.get("status", "") in Status.values else ""
        self.kind = data.get("kind", "") if data.get("kind", "") in Kind.values else ""
        self.overdue = data.get("overdue") == "1"

    def apply(self, cases, today):
        if self.status:
            cases = cases.filter(status=self.status)
        if self.kind:
            cases = cases.filter(kind=self.kind)
        if self.overdue:
            cases = cases.filter(Exists(_duty_deadlines().filter(due__lt=today)))
        return cases

    @property
    def active(self) -> bool:
        return bool(self.status or self.kind or self.overdue)


def _duty_deadlines():
    # Open deadlines that are the employer's to meet: events NAV or the law bring
    # about by themselves are not "overdue" for anyone.
    return Deadline.objects.filter(case=OuterRef("pk"), status=DeadlineStatus.OPEN, expected_event=False)


def _list_rows(cases):
    """One query for the page of cases and one for the names of the concerned,
    whatever the page size: the next deadline and the count of open measures are
    subqueries, not a query per row."""
    next_deadline = _duty_deadlines().order_by("due", "pk")
    open_measures = (
        Measure.objects.filter(case=OuterRef("pk"), status__in=OPEN_MEASURE_STATUSES)
        .order_by().values("case").annotate(n=Count("pk")).values("n")
    )
    # Names of the concerned are never loaded for restricted kinds, not just hidden.
    concerned = (
        Party.objects.filter(role=PartyRole.CONCERNED, case__restricted=False)
        .select_related("person").order_by("person__name", "pk")
    )
    return (
        cases.select_related("unit", "owner")
        .annotate(
            next_due=Subquery(next_deadline.values("due")[:1]),
            next_title_nb=Subquery(next_deadline.values("title_nb")[:1]),
            next_title_en=Subquery(next_deadline.values("title_en")[:1]),
            open_measures=Coalesce(Subquery(open_measures, output_field=IntegerField()), 0),
        )
        .prefetch_related(Prefetch("parties", queryset=concerned, to_attr="concerned_parties"))
    )


@login_required
@require_GET
def case_list(request):
    """Saker: the cases the user handles, newest first."""
    filters = CaseFilters(request.GET)
    today = _today()
    cases = filters.apply(visible(request.user, Case), today)
    rows, pager = _keyset_page(_list_rows(cases), request)
    lang = _lang()
    for case in rows:
        case.next_title = case.next_title_en if lang == "en" else case.next_title_nb
        case.next_overdue = case.next_due is not None and case.next_due < today
    return render(request, "cases/list.html", {
        "cases": rows, "pager": pager, "filters": filters,
        "status_choices": Status.choices, "kind_choices": Kind.choices,
        "can_register": _can_register(request.user),
    })


@login_required
@require_GET
def my_cases(request):
    """Mine saker: the cases about the user herself (participation)."""
    cases = visible(request.user, Case, "participate").select_related("unit")
    rows, pager = _keyset_page(cases, request)
    return render(request, "cases/mine.html", {"cases": rows, "pager": pager})


# --- opening a case -----------------------------------------------------------------------------


def _registrable_units(user) -> list[Unit]:
    """Units whose people the user may open cases about: those she manages, and
    HR's scope."""
    managed = set(scope.managed_unit_ids(user))
    hr = scope.hr_scope(user)
    units = visible(user, Unit)
    if hr != scope.ALL:
        units = units.filter(pk__in=list(managed | set(hr)))
    return list(units.order_by("path"))


def _can_register(user) -> bool:
    return bool(scope.managed_unit_ids(user)) or scope.is_hr(user)


def _people_in(user, unit: Unit) -> tuple[PersonChoices, bool]:
    """People in the unit and below whom the user may see (not herself, not former
    employees), and whether there were too many to list."""
    me = scope.person_of(user)
    today = _today()
    rows = list(
        visible(user, Person)
        .filter(unit__path__startswith=unit.path)
        .filter(Q(end_date__isnull=True) | Q(end_date__gte=today))
        .exclude(pk=me.pk if me else None)
        .select_related("unit").order_by("unit__path", "name", "pk")[: PEOPLE_LIMIT + 1]
    )
    if len(rows) > PEOPLE_LIMIT:
        return PersonChoices([]), True
    return PersonChoices((p, f"{p.name}, {p.unit.name}") for p in rows), False


@login_required
def case_new(request):
    """Ny sak: register what the manager knows, from when she knew it."""
    user = request.user
    if not _can_register(user):
        raise Http404
    units = _registrable_units(user)
    if not units:
        raise Http404
    by_id = {u.pk: u for u in units}
    wanted = request.POST.get("unit") if request.method == "POST" else request.GET.get("enhet")
    unit = by_id.get(int(wanted)) if wanted and str(wanted).isdigit() and int(wanted) in by_id else units[0]
    people, too_many = _people_in(user, unit)
    person = scope.person_of(user)
    factors = list(Factor.objects.filter(organisation_id=person.organisation_id, active=True))
    status = 200
    if request.method == "POST":
        form = NewCaseForm(request.POST, people=people, factors=factors)
        parties = PartyFormSet(request.POST, prefix="party", form_kwargs={"people": people})
        if form.is_valid() and parties.is_valid():
            c = form.cleaned_data
            try:
                case = services.open_case(
                    user, kind=c["kind"], concerns=form.concerned_people(),
                    parties=[p.party() for p in parties if p.party()], factors=c["factors"],
                    description=c["description"], source=c["source"], known_at=c["known_at"],
                    known_at_reason=c["known_at_reason"],
                )
            except ValidationError as error:
                apply_service_errors(form, error, {"parties": None})
            except AccessDenied:
                raise Http404
            else:
                messages.success(request, _("Case %(number)s is registered.") % {"number": case.number})
                return redirect(_case_url(case))
        status = 400
    else:
        form = NewCaseForm(initial={"unit": unit.pk}, people=people, factors=factors)
        parties = PartyFormSet(prefix="party", form_kwargs={"people": people})
    lang = _lang()
    chosen_kind = form["kind"].value()
    chosen_factors = set(form["factors"].value() or [])
    return render(request, "cases/new.html", {
        "form": form, "parties": parties, "units": units, "unit": unit, "too_many": too_many,
        "kinds": [
            {"value": k.value, "label": k.label, "guidance": guidance.for_kind(k.value), "checked": chosen_kind == k.value}
            for k in MANAGER_KINDS
        ],
        "factors": [
            {"code": f.code, "name": f.name(lang), "basis": f.legal_basis, "guidance": guidance.for_factor(f, lang),
             "checked": f.code in chosen_factors}
            for f in factors
        ],
        "guidance_document": guidance.DOCUMENT, "guidance_known_at": guidance.KNOWN_AT,
        "reason_days": settings.TIDSNOK_KNOWN_AT_REASON_DAYS,
    }, status=status)


# --- the case page ------------------------------------------------------------------------------


class CasePage:
    """Everything the case page and its forms need, loaded once through the
    policy: a fixed number of queries however many entries, deadlines and
    measures the case has."""

    def __init__(self, request, case):
        user = request.user
        self.request = request
        self.case = case
        self.lang = _lang()
        self.today = _today()
        parties = sorted(
            case.parties.select_related("person"), key=lambda p: (ROLE_ORDER.get(p.role, 9), p.person.name, p.pk)
        )
        self.party_rows = parties
        # One line per person: the concerned employee is often also the one who raised it.
        grouped: dict[int, list] = {}
        for p in parties:
            grouped.setdefault(p.person_id, [p.person.name, []])[1].append(p.get_role_display().lower())
        self.party_lines = [(name, ", ".join(roles)) for name, roles in grouped.values()]
        self.handler_rows = list(
            case.handlers.filter(removed_at__isnull=True).select_related("person").order_by("added_at", "pk")
        )
        self.exclusion_rows = list(case.exclusions.select_related("person").order_by("created_at", "pk"))
        excluded = {e.person_id for e in self.exclusion_rows}
        self.measure_rows = list(visible(user, Measure).filter(case=case).select_related("owner"))
        self.measures = {m.pk: m for m in self.measure_rows}
        self.catalogue = list(Factor.objects.filter(organisation_id=case.organisation_id))
        case_factor_ids = set(case.factors.values_list("pk", flat=True))
        self.case_factors = [f for f in self.catalogue if f.pk in case_factor_ids]
        # Colleagues in the case's unit whom the user may see: the "free choice"
        # of participants and measure owners, bounded by one unit's size.
        colleagues = list(
            visible(user, Person).filter(unit_id=case.unit_id).filter(
                Q(end_date__isnull=True) | Q(end_date__gte=self.today)
            ).order_by("name", "pk")[:PEOPLE_LIMIT]
        )

        def party_label(p):
            return f"{p.person.name} ({p.get_role_display().lower()})"

        def handler_label(h):
            return f"{h.person.name} ({h.get_role_display().lower()})"

        self.parties = PersonChoices((p.person, party_label(p)) for p in parties)
        listed = (
            [(p.person, party_label(p)) for p in parties]
            + [(h.person, handler_label(h)) for h in self.handler_rows]
            + [(p, p.name) for p in colleagues]
        )
        self.participants = PersonChoices(listed)
        self.owners = PersonChoices((p, label) for p, label in listed if p.pk not in excluded)
        self.factor_choices = [(f.code, f.name(self.lang)) for f in self.catalogue if f.active]
        self.measure_choices = [
            (str(m.pk), m.what[:80]) for m in self.measure_rows if m.status != MeasureStatus.CANCELLED
        ]
        # Names of everyone the entries mention. Reading them is part of reading the
        # case, which the policy already allowed; most are parties or handlers.
        self.names = {pk: p.name for pk, p in self.participants.people.items()}
        self.names.update({e.person_id: e.person.name for e in self.exclusion_rows})
        self.entry_rows = list(
            visible(user, Entry).filter(case=case).select_related("author").order_by("occurred_on", "recorded_at", "pk")
        )
        mentioned = set()
        for entry in self.entry_rows:
            data = entry.data or {}
            mentioned.update(p for p in data.get("participants", []) if isinstance(p, int))
            for key in ("hr_person", "person", "owner"):
                if isinstance(data.get(key), int):
                    mentioned.add(data[key])
            if entry.about_id:
                mentioned.add(entry.about_id)
        unknown = mentioned - set(self.names)
        if unknown:
            self.names.update(
                Person.objects.filter(organisation_id=case.organisation_id, pk__in=unknown).values_list("pk", "name")
            )

    def timeline(self, deadlines):
        factor_names = {f.code: f.name(self.lang) for f in self.catalogue}
        titles = {d.pk: d.title(self.lang) for d in deadlines}
        entry_views = [
            timeline.describe_entry(e, names=self.names, factor_names=factor_names, measures=self.measures,
                                    deadline_titles=titles)
            for e in self.entry_rows
        ]
        by_id = {v.entry.pk: v for v in entry_views}
        deadline_views = [
            timeline.describe_deadline(d, case_known_at=self.case.known_at, lang=self.lang, today=self.today,
                                       entries=by_id)
            for d in deadlines
        ]
        return timeline.build(entry_views, deadline_views), deadline_views, entry_views


# slug in the URL -> (entry kind, form class, success message)
ENTRY_FORMS = {
    "samtale": (EntryKind.CONVERSATION, ConversationForm, gettext_lazy("The conversation is documented.")),
    "vurdering": (EntryKind.ASSESSMENT, AssessmentForm, gettext_lazy("The assessment is documented.")),
    "oppfolging": (EntryKind.FOLLOW_UP, FollowUpForm, gettext_lazy("The follow-up is documented.")),
    "beslutning": (EntryKind.DECISION, DecisionForm, gettext_lazy("The decision is documented.")),
    "konklusjon": (EntryKind.CONCLUSION, ConclusionForm, gettext_lazy("The conclusion is documented.")),
    "notat": (EntryKind.NOTE, NoteForm, gettext_lazy("The note is saved.")),
}
ENTRY_TITLES = {
    "samtale": gettext_lazy("Document a conversation"),
    "vurdering": gettext_lazy("Document an assessment"),
    "oppfolging": gettext_lazy("Document a follow-up"),
    "beslutning": gettext_lazy("Document a decision"),
    "konklusjon": gettext_lazy("Document the conclusion"),
    "notat": gettext_lazy("Write an internal note"),
}
# Default visibility of each form (services.SHARED_BY_DEFAULT), except that in
# restricted cases a conversation starts as internal: it may be with the accused.
DEFAULT_SHARED = {"samtale", "oppfolging", "beslutning"}


def _entry_form(slug, page: CasePage, data=None):
    kind, form_class, _message = ENTRY_FORMS[slug]
    initial = {}
    if "visibility" in form_class.base_fields:
        shared = slug in DEFAULT_SHARED and not (slug == "samtale" and page.case.restricted)
        initial["visibility"] = Visibility.SHARED if shared else Visibility.INTERNAL
    return form_class(data, prefix=slug, context=page, initial=initial)


@dataclass
class FormBox:
    """A form on the case page, with where it posts and what it is called."""

    key: str
    title: str
    form: object
    action: str
    submit: str
    open: bool = False
    stale: bool = False


def _handled_case(user, case_id, action="view"):
    return visible(user, Case, action).select_related("unit", "owner").filter(pk=case_id).first()


def _render_case(request, case, *, bound=None, status=200, stale_key=None):
    """The case page; `bound` replaces the blank form under the same key with one
    the user filled in (and its errors)."""
    user = request.user
    bound = bound or {}
    page = CasePage(request, case)
    deadlines = list(case.deadlines.all().order_by("due", "pk"))
    items, deadline_views, entry_views = page.timeline(deadlines)
    is_open = case.is_open
    can_waive = can(user, "waive", case)
    is_hr = scope.is_hr(user)

    def box(key, title, form, action, submit):
        form = bound.get(key, form)
        return FormBox(key=key, title=title, form=form, action=action, submit=submit,
                       open=key in bound, stale=key == stale_key)

    boxes = []
    if is_open:
        for slug in ENTRY_FORMS:
            if slug == "konklusjon" and case.kind != Kind.HARASSMENT:
                continue
            boxes.append(box(slug, ENTRY_TITLES[slug], _entry_form(slug, page) if slug not in bound else None,
                             reverse("cases:entry", args=[case.pk, slug]), _("Save")))
        boxes.append(box("tiltak", _("Add a measure"), MeasureForm(prefix="tiltak", context=page),
                         reverse("cases:measure_add", args=[case.pk]), _("Add the measure")))
    measure_rows = []
    responses: dict[int, list] = {}
    for view in entry_views:
        if view.entry.kind == EntryKind.MEASURE_RESPONSE and view.entry.measure_id:
            responses.setdefault(view.entry.measure_id, []).append(view)
    for measure in page.measure_rows:
        key = f"m{measure.pk}"
        form = bound.get(key) or MeasureStatusForm(
            prefix=key, initial={"status": measure.status, "version": measure.version}
        )
        measure_rows.append({
            "key": key, "measure": measure, "form": form if is_open else None, "open": key in bound, "stale": key == stale_key,
            "overdue": measure.is_open and measure.due < page.today,
            "responses": responses.get(measure.pk, []),
            "action": reverse("cases:measure_status", args=[case.pk, measure.pk]),
        })
    waive_forms = {}
    if can_waive and is_open:
        for d in deadlines:
            if d.status == DeadlineStatus.OPEN:
                key = f"d{d.pk}"
                waive_forms[d.pk] = {"key": key, "form": bound.get(key) or WaiveForm(prefix=key), "open": key in bound,
                                     "action": reverse("cases:waive", args=[case.pk, d.pk])}
    for item in items:
        if item.deadline is not None:
            item.waive = waive_forms.get(item.deadline.deadline.pk)
    ask_hr = close = reopen = add_handler = None
    if is_open:
        ask_hr = box("usikker", _("I am unsure about the process or my impartiality"), AskHrForm(prefix="usikker"),
                     reverse("cases:ask_hr", args=[case.pk]), _("Involve HR"))
        close = box("avslutt", _("Close the case"), CloseForm(prefix="avslutt", initial={"version": case.version}),
                    reverse("cases:close", args=[case.pk]), _("Close the case"))
    else:
        reopen = box("gjenapne", _("Reopen the case"), ReopenForm(prefix="gjenapne", initial={"version": case.version}),
                     reverse("cases:reopen", args=[case.pk]), _("Reopen"))
    if is_hr and is_open:
        candidates = _handler_candidates(user, case, page)
        add_handler = box("behandler", _("Add a handler"), AddHandlerForm(prefix="behandler", candidates=candidates),
                          reverse("cases:add_handler", args=[case.pk]), _("Add"))
    error_forms = [b for b in boxes + [ask_hr, close, reopen, add_handler] if b and b.form.errors]
    error_forms += [
        FormBox(key=f"m{r['measure'].pk}", title=_("Measure: %(what)s") % {"what": r["measure"].what[:60]},
                form=r["form"], action="", submit="")
        for r in measure_rows if r["form"] is not None and r["form"].errors
    ]
    error_forms += [
        FormBox(key=f"d{pk}", title=_("Waive deadline"), form=w["form"], action="", submit="")
        for pk, w in waive_forms.items() if w["form"].errors
    ]
    if (case.restricted or case.kind in ACCESS_LOGGED_KINDS) and status == 200:
        # Harassment, reports and sick leave: every read is on the record (audit room).
        record_access(user, case, role=",".join(sorted(scope.roles_of(user))), reason="case_page")
    overdue = [d for d in deadline_views if d.overdue]
    return render(request, "cases/detail.html", {
        "case": case, "page": page, "items": items, "deadline_views": deadline_views,
        "picture": timeline.picture(case.known_at, deadline_views, page.today),
        "overdue": overdue, "boxes": boxes, "measure_rows": measure_rows,
        "ask_hr": ask_hr, "close": close, "reopen": reopen, "add_handler": add_handler,
        "error_forms": error_forms, "stale_message": STALE_MESSAGE if stale_key else "",
        "exclusions": [
            timeline.exclusion_text(e.person.name, e.reason) for e in page.exclusion_rows
        ],
        "factor_rows": [(f.name(page.lang), f.legal_basis) for f in page.case_factors],
        "guidance_kind": guidance.for_kind(case.kind),
        "guidance_factors": [(f.name(page.lang), guidance.for_factor(f, page.lang)) for f in page.case_factors],
        "guidance_document": guidance.DOCUMENT,
        "when_to_talk_to_hr": guidance.WHEN_TO_TALK_TO_HR,
    }, status=status)


def _handler_candidates(user, case, page: CasePage) -> PersonChoices:
    """Managers and HR whose role reaches the case's unit, whom the user may see,
    and who are neither handling the case already nor shut out of it."""
    ancestors = [int(p) for p in case.unit.path.strip("/").split("/") if p]
    holders = RoleAssignment.objects.active().filter(
        role__in=[Role.MANAGER, Role.DEPUTY, Role.HR]
    ).filter(Q(unit__isnull=True) | Q(unit_id__in=ancestors))
    taken = {h.person_id for h in page.handler_rows} | {e.person_id for e in page.exclusion_rows}
    people = (
        visible(user, Person).filter(Exists(holders.filter(person=OuterRef("pk"))))
        .exclude(pk__in=list(taken)).order_by("name", "pk")
    )
    return PersonChoices((p, p.name) for p in people)


@login_required
@require_GET
def case_detail(request, case_id: int):
    """The case: facts, timeline, measures and forms for those handling it; the
    participation page for the concerned employee."""
    case = _handled_case(request.user, case_id)
    if case is None:
        case = get_visible_or_404(request.user, Case, "participate", pk=case_id)
        return _render_participation(request, case)
    own_page = hooks.case_pages.get(case.kind)
    if own_page is not None and "tidslinje" not in request.GET:
        # Kinds with a page of their own (a whistleblowing report); this page
        # stays reachable from there for the timeline, measures and deadlines.
        return redirect(own_page(case))
    return _render_case(request, case)


# --- changes on the case page -------------------------------------------------------------------


def _case_for_change(request, case_id, action="edit"):
    case = _handled_case(request.user, case_id, action)
    if case is None:
        raise Http404
    return case


@login_required
@require_POST
def add_entry(request, case_id: int, slug: str):
    if slug not in ENTRY_FORMS:
        raise Http404
    case = _case_for_change(request, case_id)
    kind, _form_class, done = ENTRY_FORMS[slug]
    page = CasePage(request, case)
    form = _entry_form(slug, page, request.POST)
    if form.is_valid():
        try:
            entry = services.add_entry(request.user, case, kind=kind, **form.service_kwargs())
        except ValidationError as error:
            apply_service_errors(form, error)
        except AccessDenied:
            raise Http404
        else:
            messages.success(request, str(done))
            return redirect(_case_url(case, f"entry-{entry.pk}"))
    return _render_case(request, case, bound={slug: form}, status=400)


@login_required
@require_POST
def add_measure(request, case_id: int):
    case = _case_for_change(request, case_id)
    page = CasePage(request, case)
    form = MeasureForm(request.POST, prefix="tiltak", context=page)
    if form.is_valid():
        try:
            measure = services.add_measure(request.user, case, **form.service_kwargs())
        except ValidationError as error:
            apply_service_errors(form, error)
        except AccessDenied:
            raise Http404
        else:
            messages.success(request, _("The measure is added."))
            return redirect(_case_url(case, f"measure-{measure.pk}"))
    return _render_case(request, case, bound={"tiltak": form}, status=400)


@login_required
@require_POST
def measure_status(request, case_id: int, measure_id: int):
    case = _case_for_change(request, case_id)
    measure = get_visible_or_404(request.user, Measure, pk=measure_id, case=case)
    key = f"m{measure.pk}"
    form = MeasureStatusForm(request.POST, prefix=key)
    if form.is_valid():
        try:
            services.update_measure(request.user, measure, form.cleaned_data["version"], **form.service_kwargs())
        except StaleVersion:
            # Keep what she chose, but against the version she can now see, so one
            # more click saves it once she has checked the other change.
            data = request.POST.copy()
            data[f"{key}-version"] = str(Measure.objects.filter(pk=measure.pk).values_list("version", flat=True)[0])
            stale = MeasureStatusForm(data, prefix=key)
            stale.is_valid()
            stale.add_error(None, str(STALE_MESSAGE))
            return _render_case(request, case, bound={key: stale}, status=409, stale_key=key)
        except ValidationError as error:
            apply_service_errors(form, error)
        except AccessDenied:
            raise Http404
        else:
            messages.success(request, _("The measure is updated."))
            return redirect(_case_url(case, f"measure-{measure.pk}"))
    return _render_case(request, case, bound={key: form}, status=400)


def _with_current_version(request, key, form_class, case):
    data = request.POST.copy()
    data[f"{key}-version"] = str(Case.objects.filter(pk=case.pk).values_list("version", flat=True)[0])
    form = form_class(data, prefix=key)
    form.is_valid()
    form.add_error(None, str(STALE_MESSAGE))
    return form


@login_required
@require_POST
def close_case(request, case_id: int):
    case = _case_for_change(request, case_id, "close")
    form = CloseForm(request.POST, prefix="avslutt")
    if form.is_valid():
        try:
            services.close_case(request.user, case, form.cleaned_data["evaluation"], form.cleaned_data["version"])
        except StaleVersion:
            case.refresh_from_db()
            stale = _with_current_version(request, "avslutt", CloseForm, case)
            return _render_case(request, case, bound={"avslutt": stale}, status=409, stale_key="avslutt")
        except ValidationError as error:
            apply_service_errors(form, error)
        except AccessDenied:
            raise Http404
        else:
            messages.success(request, _("The case is closed."))
            return redirect(_case_url(case))
    return _render_case(request, case, bound={"avslutt": form}, status=400)


@login_required
@require_POST
def reopen_case(request, case_id: int):
    case = _case_for_change(request, case_id)
    form = ReopenForm(request.POST, prefix="gjenapne")
    if form.is_valid():
        try:
            services.reopen_case(request.user, case, form.cleaned_data["reason"], form.cleaned_data["version"])
        except StaleVersion:
            case.refresh_from_db()
            stale = _with_current_version(request, "gjenapne", ReopenForm, case)
            return _render_case(request, case, bound={"gjenapne": stale}, status=409, stale_key="gjenapne")
        except ValidationError as error:
            apply_service_errors(form, error)
        except AccessDenied:
            raise Http404
        else:
            messages.success(request, _("The case is reopened."))
            return redirect(_case_url(case))
    return _render_case(request, case, bound={"gjenapne": form}, status=400)


@login_required
@require_POST
def ask_hr(request, case_id: int):
    case = _case_for_change(request, case_id)
    form = AskHrForm(request.POST, prefix="usikker")
    if form.is_valid():
        try:
            services.ask_hr(request.user, case, form.cleaned_data["note"])
        except ValidationError as error:
            apply_service_errors(form, error)
        except AccessDenied:
            raise Http404
        else:
            case.refresh_from_db()
            if case.handlers.filter(role="hr", removed_at__isnull=True).exists():
                messages.success(request, _("HR is involved and has your note."))
            else:
                messages.warning(request, _("Your note is saved, but no HR adviser covers this unit. Contact HR "
                                            "directly."))
            return redirect(_case_url(case))
    return _render_case(request, case, bound={"usikker": form}, status=400)


@login_required
@require_POST
def waive_deadline(request, case_id: int, deadline_id: int):
    case = _case_for_change(request, case_id, "waive")
    # Deadlines have no policy of their own: they are read through their case.
    deadline = case.deadlines.filter(pk=deadline_id).first()
    if deadline is None:
        raise Http404
    key = f"d{deadline.pk}"
    form = WaiveForm(request.POST, prefix=key)
    if form.is_valid():
        try:
            services.waive_deadline(request.user, deadline, form.cleaned_data["reason"])
        except ValidationError as error:
            apply_service_errors(form, error)
        except AccessDenied:
            raise Http404
        else:
            messages.success(request, _("The deadline is waived."))
            return redirect(_case_url(case, f"deadline-{deadline.pk}"))
    return _render_case(request, case, bound={key: form}, status=400)


@login_required
@require_POST
def add_handler(request, case_id: int):
    case = _case_for_change(request, case_id)
    if not scope.is_hr(request.user):
        raise Http404
    page = CasePage(request, case)
    candidates = _handler_candidates(request.user, case, page)
    form = AddHandlerForm(request.POST, prefix="behandler", candidates=candidates)
    if form.is_valid():
        person = candidates.get(form.cleaned_data["person"])
        if person is None:
            form.add_error("person", _("Choose who is added."))
        else:
            try:
                services.add_handler(request.user, case, person, form.cleaned_data["reason"])
            except ValidationError as error:
                apply_service_errors(form, error)
            except AccessDenied:
                raise Http404
            else:
                messages.success(request, _("%(name)s is added as a handler.") % {"name": person.name})
                return redirect(_case_url(case))
    return _render_case(request, case, bound={"behandler": form}, status=400)


# --- the concerned employee ---------------------------------------------------------------------


def _render_participation(request, case, *, bound=None, status=200):
    user = request.user
    bound = bound or {}
    lang = _lang()
    entries = list(
        visible(user, Entry).filter(case=case).select_related("author").order_by("occurred_on", "recorded_at", "pk")
    )
    measures = list(visible(user, Measure, "participate").filter(case=case).select_related("owner"))
    by_measure = {m.pk: m for m in measures}
    names = {e.author_id: e.author.name for e in entries if e.author_id}
    views = [
        timeline.describe_entry(e, names=names, factor_names={}, measures=by_measure, deadline_titles={})
        for e in entries
    ]
    responses: dict[int, list] = {}
    for view in views:
        if view.entry.kind == EntryKind.MEASURE_RESPONSE and view.entry.measure_id:
            responses.setdefault(view.entry.measure_id, []).append(view)
    rows = []
    for m in measures:
        key = f"r{m.pk}"
        rows.append({
            "key": key, "measure": m, "responses": responses.get(m.pk, []),
            "form": (bound.get(key) or MeasureResponseForm(prefix=key)) if case.is_open else None,
            "open": key in bound, "action": reverse("cases:respond", args=[case.pk, m.pk]),
        })
    comment = (bound.get("kommentar") or CommentForm(prefix="kommentar")) if case.is_open else None
    error_forms = [f for f in [comment] + [r["form"] for r in rows] if f is not None and f.errors]
    return render(request, "cases/participation.html", {
        "case": case, "entries": views, "measure_rows": rows, "comment": comment, "error_forms": error_forms,
        "participation": guidance.PARTICIPATION, "lang": lang,
    }, status=status)


@login_required
@require_POST
def comment(request, case_id: int):
    case = get_visible_or_404(request.user, Case, "participate", pk=case_id)
    form = CommentForm(request.POST, prefix="kommentar")
    if form.is_valid():
        try:
            entry = services.add_entry(request.user, case, kind=EntryKind.COMMENT, occurred_on=_today(),
                                       text=form.cleaned_data["text"])
        except ValidationError as error:
            apply_service_errors(form, error)
        except AccessDenied:
            raise Http404
        else:
            messages.success(request, _("Your comment is saved."))
            return redirect(_case_url(case, f"entry-{entry.pk}"))
    return _render_participation(request, case, bound={"kommentar": form}, status=400)


@login_required
@require_POST
def respond(request, case_id: int, measure_id: int):
    case = get_visible_or_404(request.user, Case, "participate", pk=case_id)
    measure = get_visible_or_404(request.user, Measure, "participate", pk=measure_id, case=case)
    key = f"r{measure.pk}"
    form = MeasureResponseForm(request.POST, prefix=key)
    if form.is_valid():
        try:
            services.respond_to_measure(request.user, measure, agrees=form.cleaned_data["agrees"] == "yes",
                                        comment=form.cleaned_data["comment"])
        except ValidationError as error:
            apply_service_errors(form, error)
        except AccessDenied:
            raise Http404
        else:
            messages.success(request, _("Your answer is saved."))
            return redirect(_case_url(case, f"measure-{measure.pk}"))
    return _render_participation(request, case, bound={key: form}, status=400)
