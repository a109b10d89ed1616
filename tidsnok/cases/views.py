"""The case pages: the manager's path in the browser, and the concerned employee's.

Every view looks the case up through the access policy first (a case the user
may not see is a 404, on the page and on every form URL alike); every change goes
through a service in tidsnok.cases.services. The case page renders no form:
each form has a small page of its own, at the URL it posts to, linked from the
case page; on bad input that page is shown again with the input and its errors,
and nothing is written.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property

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
from django.views.decorators.http import require_GET, require_http_methods, require_POST

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
from tidsnok.cases.policy import HANDLER_ACTIONS, registrable_units
from tidsnok.deadlines.calendar import normalise_lang
from tidsnok.org import scope
from tidsnok.org.models import Person, Role, RoleAssignment, Unit
from tidsnok.org.search import asked, chosen_unit, in_unit, listed, people_matching, unit_choices
from tidsnok.versioning import STALE_INPUT_KEPT, StaleVersion

PAGE_SIZE = 25
# More people than this in one unit's subtree cannot be ticked off in a list:
# the page asks for a smaller unit instead.
PEOPLE_LIMIT = 400
# Parties first, in this order, in every list of people on a case.
ROLE_ORDER = {PartyRole.CONCERNED: 0, PartyRole.ACCUSED: 1, PartyRole.REPORTER: 2, PartyRole.WITNESS: 3,
              PartyRole.OTHER: 4}


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
    # Each cursor condition carries a plain bound on created_at as well: the same
    # rows, but the database can start the index walk at the cursor.
    if after is not None and before is None:
        at, pk = after
        rows = list(cases.filter(created_at__gte=at).filter(Q(created_at__gt=at) | Q(created_at=at, pk__gt=pk))
                    .order_by("created_at", "pk")[: PAGE_SIZE + 1])
        has_newer = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE][::-1]
        has_older = True
    else:
        if before is not None:
            at, pk = before
            cases = cases.filter(created_at__lte=at).filter(Q(created_at__lt=at) | Q(created_at=at, pk__lt=pk))
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
        .select_related("person").order_by("person__sort_name", "pk")
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


def _can_register(user) -> bool:
    return bool(scope.managed_unit_ids(user)) or scope.is_hr(user)


def _people_in(user, unit: Unit, search: str = "") -> tuple[PersonChoices, bool]:
    """People in the unit and below whom the user may see (not herself, not former
    employees), narrowed to names or employee numbers searched for, and whether there were
    too many to list."""
    me = scope.person_of(user)
    today = _today()
    people = (
        in_unit(visible(user, Person), unit)
        .filter(Q(end_date__isnull=True) | Q(end_date__gte=today))
        .filter(people_matching(search))
        .exclude(pk=me.pk if me else None)
    )
    rows = listed(people.select_related("unit"), PEOPLE_LIMIT, ("unit__path", "sort_name", "pk"), search)
    if rows is None:
        return PersonChoices([]), True
    return PersonChoices((p, f"{p.name}, {p.unit.name}") for p in rows), False


@login_required
def case_new(request):
    """Ny sak: register what the manager knows, from when she knew it."""
    user = request.user
    if not _can_register(user):
        raise Http404
    units = registrable_units(user)
    wanted = request.POST.get("unit") if request.method == "POST" else request.GET.get("enhet")
    unit = chosen_unit(units, wanted)
    if unit is None:
        raise Http404
    search = asked(request.POST if request.method == "POST" else request.GET)
    people, too_many = _people_in(user, unit, search)
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
        "form": form, "parties": parties, "units": unit_choices(units), "unit": unit, "too_many": too_many,
        "search": search,
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


def _party_label(p) -> str:
    return f"{p.person.name} ({p.get_role_display().lower()})"


class CasePage:
    """What the case page and its form pages read about one case, through the
    policy, each part on first use: the case page loads what it shows, a form
    page what its form offers. Either is a fixed number of queries however many
    entries, deadlines and measures the case has. The policy is asked once, for
    the case itself (_handled_case); see `handled` for its entries and measures."""

    def __init__(self, request, case):
        self.request = request
        self.user = request.user
        self.case = case
        self.lang = _lang()
        self.today = _today()

    @cached_property
    def handled(self) -> bool:
        """Whether the case was found through the policy for this very user, with
        handler-level access (_handled_case). Then every entry and measure of it
        is hers to see, internal or shared: handler-level access to the case is
        the policy's own route to them (cases.policy.entries_visible and
        measures_visible), and tests/cases/test_visibility_equivalence.py holds
        it to that. They are then read by the case's key alone, instead of
        building and testing the policy's conditions again for each."""
        return getattr(self.case, "_handled_by", None) is self.user

    def _entries(self):
        if self.handled:
            return Entry.objects.filter(case_id=self.case.pk)
        return visible(self.user, Entry).filter(case=self.case)

    def _measures(self):
        if self.handled:
            return Measure.objects.filter(case_id=self.case.pk)
        return visible(self.user, Measure).filter(case=self.case)

    # What the page shows.

    @cached_property
    def party_rows(self) -> list[Party]:
        return sorted(
            self.case.parties.select_related("person"),
            key=lambda p: (ROLE_ORDER.get(p.role, 9), p.person.name, p.pk),
        )

    @cached_property
    def party_lines(self) -> list[tuple[str, str]]:
        # One line per person: the concerned employee is often also the one who raised it.
        grouped: dict[int, list] = {}
        for p in self.party_rows:
            grouped.setdefault(p.person_id, [p.person.name, []])[1].append(p.get_role_display().lower())
        return [(name, ", ".join(roles)) for name, roles in grouped.values()]

    @cached_property
    def handler_rows(self) -> list:
        return list(
            self.case.handlers.filter(removed_at__isnull=True).select_related("person").order_by("added_at", "pk")
        )

    @cached_property
    def exclusion_rows(self) -> list:
        return list(self.case.exclusions.select_related("person").order_by("created_at", "pk"))

    @cached_property
    def measure_rows(self) -> list[Measure]:
        return list(self._measures().select_related("owner"))

    @cached_property
    def measures(self) -> dict[int, Measure]:
        return {m.pk: m for m in self.measure_rows}

    @cached_property
    def catalogue(self) -> list[Factor]:
        return list(Factor.objects.filter(organisation_id=self.case.organisation_id))

    @cached_property
    def case_factors(self) -> list[Factor]:
        ids = set(self.case.factors.values_list("pk", flat=True))
        return [f for f in self.catalogue if f.pk in ids]

    @cached_property
    def entry_rows(self) -> list[Entry]:
        return list(
            self._entries().select_related("author").order_by("occurred_on", "recorded_at", "pk")
        )

    @cached_property
    def names(self) -> dict[int, str]:
        """Names of everyone the entries mention. Reading them is part of reading
        the case, which the policy already allowed. One query whenever an entry
        names anyone, known here or not, so the count does not change as the case grows."""
        names = {p.person_id: p.person.name for p in self.party_rows}
        names.update((h.person_id, h.person.name) for h in self.handler_rows)
        names.update((e.person_id, e.person.name) for e in self.exclusion_rows)
        mentioned = set()
        for entry in self.entry_rows:
            data = entry.data or {}
            mentioned.update(p for p in data.get("participants", []) if isinstance(p, int))
            for key in ("hr_person", "person", "owner"):
                if isinstance(data.get(key), int):
                    mentioned.add(data[key])
            if entry.about_id:
                mentioned.add(entry.about_id)
        if mentioned:
            names.update(
                Person.objects.filter(organisation_id=self.case.organisation_id, pk__in=mentioned)
                .values_list("pk", "name")
            )
        return names

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

    # What the forms offer (the form pages only).

    @cached_property
    def colleagues(self) -> list[Person]:
        # Colleagues in the case's unit whom the user may see: the "free choice"
        # of participants and measure owners, bounded by one unit's size.
        return list(
            visible(self.user, Person).filter(unit_id=self.case.unit_id).filter(
                Q(end_date__isnull=True) | Q(end_date__gte=self.today)
            ).order_by("sort_name", "pk")[:PEOPLE_LIMIT]
        )

    @cached_property
    def _listed(self) -> list[tuple[Person, str]]:
        return (
            [(p.person, _party_label(p)) for p in self.party_rows]
            + [(h.person, f"{h.person.name} ({h.get_role_display().lower()})") for h in self.handler_rows]
            + [(p, p.name) for p in self.colleagues]
        )

    @cached_property
    def parties(self) -> PersonChoices:
        return PersonChoices((p.person, _party_label(p)) for p in self.party_rows)

    @cached_property
    def participants(self) -> PersonChoices:
        return PersonChoices(self._listed)

    @cached_property
    def owners(self) -> PersonChoices:
        excluded = {e.person_id for e in self.exclusion_rows}
        return PersonChoices((p, label) for p, label in self._listed if p.pk not in excluded)

    @cached_property
    def factor_choices(self) -> list[tuple[str, str]]:
        return [(f.code, f.name(self.lang)) for f in self.catalogue if f.active]

    @cached_property
    def measure_choices(self) -> list[tuple[str, str]]:
        return [(str(m.pk), m.what[:80]) for m in self.measure_rows if m.status != MeasureStatus.CANCELLED]


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
RECORD_HELP = gettext_lazy(
    "Give the date it happened. If you write it down later, the case shows both dates."
)
CLOSE_HELP = gettext_lazy("A case closes with a final evaluation, when every measure is done or cancelled.")


def _entry_form(slug, page: CasePage, data=None):
    kind, form_class, _message = ENTRY_FORMS[slug]
    initial = {}
    if "visibility" in form_class.base_fields:
        shared = slug in DEFAULT_SHARED and not (slug == "samtale" and page.case.restricted)
        initial["visibility"] = Visibility.SHARED if shared else Visibility.INTERNAL
    return form_class(data, prefix=slug, context=page, initial=initial)


@dataclass
class FormBox:
    """A form of the case, with where it posts and what it is called."""

    key: str
    title: str
    form: object
    action: str
    submit: str


@dataclass
class FormLink:
    """A link from the case page to one of its form pages; `key` is the link's
    id, where the form page's cancel link comes back to."""

    key: str
    title: str
    url: str


def _handled_case(user, case_id, action="view"):
    """The case, if the user has handler-level access to it for `action`; else None.
    The case remembers whom it was found for (see CasePage.handled)."""
    found = list(visible(user, Case, action).select_related("unit", "owner").filter(pk=case_id)[:1])
    if not found:
        return None
    case = found[0]
    if action in HANDLER_ACTIONS:
        case._handled_by = user
    return case


def _render_case(request, case):
    """The case page: facts, timeline, measures, and links to the forms. No form
    is rendered here; each has a page of its own (see _form_page)."""
    user = request.user
    page = CasePage(request, case)
    deadlines = list(case.deadlines.all().order_by("due", "pk"))
    items, deadline_views, entry_views = page.timeline(deadlines)
    is_open = case.is_open
    # Asked only when there is a deadline a link to waive it could be shown for.
    can_waive = is_open and any(d.status == DeadlineStatus.OPEN for d in deadlines) and can(user, "waive", case)
    pk = case.pk

    record = []
    if is_open:
        for slug in ENTRY_FORMS:
            if slug == "konklusjon" and case.kind != Kind.HARASSMENT:
                continue
            record.append(FormLink(slug, ENTRY_TITLES[slug], reverse("cases:entry", args=[pk, slug])))
        record.append(FormLink("tiltak", _("Add a measure"), reverse("cases:measure_add", args=[pk])))
    responses: dict[int, list] = {}
    for view in entry_views:
        if view.entry.kind == EntryKind.MEASURE_RESPONSE and view.entry.measure_id:
            responses.setdefault(view.entry.measure_id, []).append(view)
    measure_rows = [
        {
            "measure": m, "overdue": m.is_open and m.due < page.today, "responses": responses.get(m.pk, []),
            "action": reverse("cases:measure_status", args=[pk, m.pk]) if is_open else None,
        }
        for m in page.measure_rows
    ]
    for item in items:
        d = item.deadline.deadline if item.deadline is not None else None
        if d is not None:
            item.waive = (reverse("cases:waive", args=[pk, d.pk])
                          if can_waive and is_open and d.status == DeadlineStatus.OPEN else None)
    ask_hr = close = reopen = add_handler = None
    if is_open:
        ask_hr = FormLink("usikker", _("I am unsure about the process or my impartiality"),
                          reverse("cases:ask_hr", args=[pk]))
        close = FormLink("avslutt", _("Close the case"), reverse("cases:close", args=[pk]))
        if scope.is_hr(user):
            add_handler = FormLink("behandler", _("Add a handler"), reverse("cases:add_handler", args=[pk]))
    else:
        reopen = FormLink("gjenapne", _("Reopen the case"), reverse("cases:reopen", args=[pk]))
    if case.restricted or case.kind in ACCESS_LOGGED_KINDS:
        # Harassment, reports and sick leave: every read is on the record (audit room).
        record_access(user, case, role=scope.role_label(user), reason="case_page")
    overdue = [d for d in deadline_views if d.overdue]
    return render(request, "cases/detail.html", {
        "case": case, "page": page, "items": items, "deadline_views": deadline_views,
        "picture": timeline.picture(case.known_at, deadline_views, page.today),
        "overdue": overdue, "record": record, "measure_rows": measure_rows,
        "ask_hr": ask_hr, "close": close, "reopen": reopen, "add_handler": add_handler,
        "exclusions": [
            timeline.exclusion_text(e.person.name, e.reason) for e in page.exclusion_rows
        ],
        "factor_rows": [(f.name(page.lang), f.legal_basis) for f in page.case_factors],
        "guidance_kind": guidance.for_kind(case.kind),
        "guidance_factors": [(f.name(page.lang), guidance.for_factor(f, page.lang)) for f in page.case_factors],
        "guidance_document": guidance.DOCUMENT,
        "when_to_talk_to_hr": guidance.WHEN_TO_TALK_TO_HR,
    })


def _handler_candidates(user, case, page: CasePage) -> PersonChoices:
    """Managers and HR whose role reaches the case's unit, whom the user may see,
    and who are neither handling the case already nor shut out of it."""
    ancestors = case.unit.ancestor_ids
    holders = RoleAssignment.objects.active().filter(
        role__in=[Role.MANAGER, Role.DEPUTY, Role.HR]
    ).filter(Q(unit__isnull=True) | Q(unit_id__in=ancestors))
    taken = {h.person_id for h in page.handler_rows} | {e.person_id for e in page.exclusion_rows}
    # From the role holders to the people: the other way round walked all 50,453 people of a
    # large employer, for HR, to find the few dozen who hold such a role.
    people = (
        visible(user, Person).filter(pk__in=holders.values("person_id"))
        .exclude(pk__in=list(taken)).order_by("sort_name", "pk")
    )
    return PersonChoices((p, p.name) for p in people)


@login_required
@require_GET
def case_detail(request, case_id: int):
    """The case: facts, timeline, measures and links to the forms for those
    handling it; the participation page for the concerned employee."""
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


# --- the forms of the case page -----------------------------------------------------------------
#
# Each form has a page of its own at the URL it posts to: GET shows the form,
# POST saves through a service and goes back to the case page, at what changed.
# On bad input the form page comes back with the input and the errors (400;
# 409 for a stale edit, with the other person's change shown), and nothing is
# written. The case page itself renders no form: it links to these pages.


def _case_for_change(request, case_id, action="edit"):
    case = _handled_case(request.user, case_id, action)
    if case is None:
        raise Http404
    return case


def _back_url(case, anchor: str) -> str:
    """Where a form page's cancel link goes: the case page at the form's link. For
    kinds with a page of their own, the case page is the timeline view of it."""
    query = "?tidslinje=1" if case.kind in hooks.case_pages else ""
    return reverse("cases:detail", args=[case.pk]) + query + f"#{anchor}"


def _form_page(request, case, box: FormBox, *, status=200, back="", intro=(), measure=None, deadline=None,
               guidance_list=()):
    """One form of the case on a page of its own; `back` is the anchor on the case page to return to."""
    # The error summary links to the fields; on a page with one form it needs no title.
    summary = [FormBox(key=box.key, title="", form=box.form, action="", submit="")] if box.form.errors else []
    return render(request, "cases/form.html", {
        "case": case, "box": box, "error_forms": summary, "back": _back_url(case, back or box.key),
        "intro": intro, "measure": measure, "deadline": deadline, "guidance_list": guidance_list,
    }, status=status)


def _closed(request, case):
    """A form page of an open case, asked for when the case is closed (an old link)."""
    messages.info(request, _("The case is closed. Reopen it to add to it."))
    return redirect(_case_url(case))


def _entry_box(case, slug, form) -> FormBox:
    return FormBox(key=slug, title=str(ENTRY_TITLES[slug]), form=form,
                   action=reverse("cases:entry", args=[case.pk, slug]), submit=_("Save"))


@login_required
@require_http_methods(["GET", "POST"])
def add_entry(request, case_id: int, slug: str):
    if slug not in ENTRY_FORMS:
        raise Http404
    case = _case_for_change(request, case_id)
    kind, _form_class, done = ENTRY_FORMS[slug]
    page = CasePage(request, case)
    if request.method == "GET":
        if not case.is_open:
            return _closed(request, case)
        return _form_page(request, case, _entry_box(case, slug, _entry_form(slug, page)), intro=[RECORD_HELP])
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
    return _form_page(request, case, _entry_box(case, slug, form), status=400, intro=[RECORD_HELP])


@login_required
@require_http_methods(["GET", "POST"])
def add_measure(request, case_id: int):
    case = _case_for_change(request, case_id)
    page = CasePage(request, case)

    def form_page(form, status=200):
        box = FormBox(key="tiltak", title=_("Add a measure"), form=form,
                      action=reverse("cases:measure_add", args=[case.pk]), submit=_("Add the measure"))
        return _form_page(request, case, box, status=status)

    if request.method == "GET":
        if not case.is_open:
            return _closed(request, case)
        return form_page(MeasureForm(prefix="tiltak", context=page))
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
    return form_page(form, 400)


@login_required
@require_http_methods(["GET", "POST"])
def measure_status(request, case_id: int, measure_id: int):
    case = _case_for_change(request, case_id)
    measure = get_visible_or_404(request.user, Measure, pk=measure_id, case=case)
    key = f"m{measure.pk}"

    def form_page(form, status=200):
        # The measure as it stands beside the form: after a stale edit, that is the other person's change.
        box = FormBox(key=key, title=_("Change status"), form=form,
                      action=reverse("cases:measure_status", args=[case.pk, measure.pk]), submit=_("Save"))
        return _form_page(request, case, box, status=status, back=f"measure-{measure.pk}",
                          measure=measure)

    if request.method == "GET":
        if not case.is_open:
            return _closed(request, case)
        return form_page(MeasureStatusForm(prefix=key, initial={"status": measure.status, "version": measure.version}))
    form = MeasureStatusForm(request.POST, prefix=key)
    if form.is_valid():
        try:
            services.update_measure(request.user, measure, form.cleaned_data["version"], **form.service_kwargs())
        except StaleVersion:
            # Keep what she chose, but against the version she can now see, so one
            # more click saves it once she has checked the other change.
            measure.refresh_from_db()
            data = request.POST.copy()
            data[f"{key}-version"] = str(measure.version)
            stale = MeasureStatusForm(data, prefix=key)
            stale.is_valid()
            stale.add_error(None, str(STALE_INPUT_KEPT))
            return form_page(stale, 409)
        except ValidationError as error:
            apply_service_errors(form, error)
        except AccessDenied:
            raise Http404
        else:
            messages.success(request, _("The measure is updated."))
            return redirect(_case_url(case, f"measure-{measure.pk}"))
    return form_page(form, 400)


def _with_current_version(request, key, form_class, case):
    data = request.POST.copy()
    data[f"{key}-version"] = str(case.version)
    form = form_class(data, prefix=key)
    form.is_valid()
    form.add_error(None, str(STALE_INPUT_KEPT))
    return form


@login_required
@require_http_methods(["GET", "POST"])
def close_case(request, case_id: int):
    case = _case_for_change(request, case_id, "close")

    def form_page(form, status=200):
        box = FormBox(key="avslutt", title=_("Close the case"), form=form,
                      action=reverse("cases:close", args=[case.pk]), submit=_("Close the case"))
        return _form_page(request, case, box, status=status, intro=[CLOSE_HELP])

    if request.method == "GET":
        if not case.is_open:
            return redirect(_case_url(case))
        return form_page(CloseForm(prefix="avslutt", initial={"version": case.version}))
    form = CloseForm(request.POST, prefix="avslutt")
    if form.is_valid():
        try:
            services.close_case(request.user, case, form.cleaned_data["evaluation"], form.cleaned_data["version"])
        except StaleVersion:
            case.refresh_from_db()
            return form_page(_with_current_version(request, "avslutt", CloseForm, case), 409)
        except ValidationError as error:
            apply_service_errors(form, error)
        except AccessDenied:
            raise Http404
        else:
            messages.success(request, _("The case is closed."))
            return redirect(_case_url(case))
    return form_page(form, 400)


@login_required
@require_http_methods(["GET", "POST"])
def reopen_case(request, case_id: int):
    case = _case_for_change(request, case_id)

    def form_page(form, status=200):
        box = FormBox(key="gjenapne", title=_("Reopen the case"), form=form,
                      action=reverse("cases:reopen", args=[case.pk]), submit=_("Reopen"))
        return _form_page(request, case, box, status=status)

    if request.method == "GET":
        if case.is_open:
            return redirect(_case_url(case))
        return form_page(ReopenForm(prefix="gjenapne", initial={"version": case.version}))
    form = ReopenForm(request.POST, prefix="gjenapne")
    if form.is_valid():
        try:
            services.reopen_case(request.user, case, form.cleaned_data["reason"], form.cleaned_data["version"])
        except StaleVersion:
            case.refresh_from_db()
            return form_page(_with_current_version(request, "gjenapne", ReopenForm, case), 409)
        except ValidationError as error:
            apply_service_errors(form, error)
        except AccessDenied:
            raise Http404
        else:
            messages.success(request, _("The case is reopened."))
            return redirect(_case_url(case))
    return form_page(form, 400)


@login_required
@require_http_methods(["GET", "POST"])
def ask_hr(request, case_id: int):
    case = _case_for_change(request, case_id)

    def form_page(form, status=200):
        box = FormBox(key="usikker", title=_("I am unsure about the process or my impartiality"), form=form,
                      action=reverse("cases:ask_hr", args=[case.pk]), submit=_("Involve HR"))
        return _form_page(request, case, box, status=status, guidance_list=guidance.WHEN_TO_TALK_TO_HR)

    if request.method == "GET":
        if not case.is_open:
            return _closed(request, case)
        return form_page(AskHrForm(prefix="usikker"))
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
    return form_page(form, 400)


@login_required
@require_http_methods(["GET", "POST"])
def waive_deadline(request, case_id: int, deadline_id: int):
    case = _case_for_change(request, case_id, "waive")
    # Deadlines have no policy of their own: they are read through their case.
    deadline = case.deadlines.filter(pk=deadline_id).first()
    if deadline is None:
        raise Http404
    key = f"d{deadline.pk}"
    back = f"deadline-{deadline.pk}"

    def form_page(form, status=200):
        box = FormBox(key=key, title=_("Waive deadline"), form=form,
                      action=reverse("cases:waive", args=[case.pk, deadline.pk]), submit=_("Waive"))
        view = timeline.describe_deadline(deadline, case_known_at=case.known_at, lang=_lang(), today=_today(),
                                          entries={})
        return _form_page(request, case, box, status=status, back=back, deadline=view)

    if request.method == "GET":
        if not case.is_open or deadline.status != DeadlineStatus.OPEN:
            return redirect(_case_url(case, back))
        return form_page(WaiveForm(prefix=key))
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
            return redirect(_case_url(case, back))
    return form_page(form, 400)


@login_required
@require_http_methods(["GET", "POST"])
def add_handler(request, case_id: int):
    case = _case_for_change(request, case_id)
    if not scope.is_hr(request.user):
        raise Http404
    candidates = _handler_candidates(request.user, case, CasePage(request, case))

    def form_page(form, status=200):
        box = FormBox(key="behandler", title=_("Add a handler"), form=form,
                      action=reverse("cases:add_handler", args=[case.pk]), submit=_("Add"))
        return _form_page(request, case, box, status=status)

    if request.method == "GET":
        if not case.is_open:
            return _closed(request, case)
        return form_page(AddHandlerForm(prefix="behandler", candidates=candidates))
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
    return form_page(form, 400)


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
        "case": case, "entries": views, "entry_items": [timeline.Item(on=v.entry.occurred_on, entry=v) for v in views],
        "measure_rows": rows, "comment": comment, "error_forms": error_forms,
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
