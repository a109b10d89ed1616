"""The access copy's pages.

For HR whose scope reaches the person, and administrators: the open requests,
finding the person, what the copy will hold, the download (which can mark a
request delivered). For anyone else those pages do not exist (404).
For every employee: asking for her own copy ("Be om innsyn").
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tidsnok.access.policy import AccessDenied
from tidsnok.org import scope
from tidsnok.org.search import asked, people_matching
from tidsnok.reports.access_copy import (
    LANGUAGES,
    AlreadyDelivered,
    UnknownLanguage,
    check_language,
    collect,
    export_access_copy,
    exportable_people,
    person_for_export,
)
from tidsnok.reports.access_copy_requests import open_request_of, open_requests, request_access_copy, requests_of
from tidsnok.reports.models import AccessRequest
from tidsnok.reports.views import pdf_response

# The most names a search lists: HR with the whole organisation in scope narrows by name.
RESULT_LIMIT = 20
# Open requests a page lists, the most urgent first.
REQUEST_LIMIT = 100


def _may_use(user) -> bool:
    return scope.is_admin(user) or scope.is_hr(user)


def _person_or_404(user, person_id):
    try:
        return person_for_export(user, person_id)
    except AccessDenied:
        raise Http404 from None


@login_required
@require_GET
def find(request):
    if not _may_use(request.user):
        raise Http404
    search = asked(request.GET)
    found, more = [], False
    if search:
        rows = list(
            exportable_people(request.user).filter(people_matching(search)).select_related("unit")
            .order_by("sort_name", "pk")[: RESULT_LIMIT + 1]
        )
        found, more = rows[:RESULT_LIMIT], len(rows) > RESULT_LIMIT
    return render(request, "reports/access_copy_find.html", {
        "search": search, "found": found, "more": more, "limit": RESULT_LIMIT,
        # A page at a time, the most urgent first: none is left out, however many are open.
        "requests": Paginator(open_requests(request.user), REQUEST_LIMIT).get_page(request.GET.get("side")),
        "today": timezone.localdate(),
    })


@login_required
@require_GET
def person(request, person_id: int):
    if not _may_use(request.user):
        raise Http404
    chosen = _person_or_404(request.user, person_id)
    collected = collect(request.user, chosen)
    counts = collected.counts()
    rows = [
        ("roles", _("Roles held")),
        ("episodes", _("Absence episodes")),
        ("cases", _("Cases that concern the person")),
        ("entries_shared", _("Entries shared with the person")),
        ("entries_internal", _("Internal entries")),
        ("entries_about_others", _("Entries about other parties (left out)")),
        ("measures", _("Measures")),
        ("deadlines", _("Deadlines")),
        ("plan_versions", _("Follow-up plan versions")),
        ("other_cases", _("Cases about someone else (number and role only)")),
        ("mentions", _("Entries about the person in other cases (counted only)")),
        ("unreadable_cases", _("Cases restricted to their handlers (counted only)")),
        ("reports", _("Whistleblowing reports filed by name")),
        ("risk_participations", _("Risk assessments the person took part in")),
        ("risk_comments", _("Comments on risk assessments")),
        ("risk_actions", _("Measures of action plans the person owns")),
        ("reads", _("Reads of the person's cases")),
        ("events", _("Audit events about the person record")),
    ]
    return render(request, "reports/access_copy_person.html", {
        "person": chosen, "counts": [(key, label, counts[key]) for key, label in rows],
        "reaches_content": collected.reaches_content, "today": timezone.localdate(),
        "open_request": open_request_of(chosen),
        "lang": request.LANGUAGE_CODE if request.LANGUAGE_CODE in LANGUAGES else "nb",
    })


@login_required
@require_POST
def pdf(request, person_id: int):
    """The download: a POST, since it writes to the audit log."""
    if not _may_use(request.user):
        raise Http404
    chosen = _person_or_404(request.user, person_id)
    try:
        lang = check_language(request.POST.get("lang", "nb"))
    except UnknownLanguage:
        return HttpResponseBadRequest(
            _("Unknown language for the access copy: choose Norwegian bokmål (nb) or English (en)."),
            content_type="text/plain; charset=utf-8",
        )
    answered = None
    wanted = request.POST.get("request", "")
    if wanted:
        answered = AccessRequest.objects.filter(pk=int(wanted) if wanted.isdigit() else 0, person=chosen).first()
        if answered is None or not answered.is_open:
            return _already_delivered()
    try:
        exported = export_access_copy(request.user, chosen, lang, answered)
    except AlreadyDelivered:
        return _already_delivered()
    return pdf_response(exported)


def _already_delivered():
    return HttpResponseBadRequest(
        _("This request is already answered. Download the copy again without marking a request."),
        content_type="text/plain; charset=utf-8",
    )


@login_required
@require_http_methods(["GET", "POST"])
def ask(request):
    """An employee asks for her own access copy; HR is told and has one month."""
    if scope.person_of(request.user) is None:
        raise Http404
    if request.method == "POST":
        asked_for, created = request_access_copy(request.user)
        if created:
            messages.success(request, _("Your request is received. HR will give you the copy by %(due)s.")
                             % {"due": asked_for.due_on.strftime("%d.%m.%Y")})
        else:
            messages.info(request, _("You have already asked. HR will give you the copy by %(due)s.")
                          % {"due": asked_for.due_on.strftime("%d.%m.%Y")})
        return redirect("access_copy_ask")
    # All of them: one can be open at a time, so they are few.
    return render(request, "reports/access_copy_ask.html", {"requests": list(requests_of(request.user))})
