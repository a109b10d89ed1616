"""Pages of the whistleblowing room.

/varsling/  the reporting channel: open without logging in (and from inside
            tidsnok). Reports, the receipt, the reporter's conversation, the
            published routines. Requests here leave no trace of who made them:
            the request log shows only "[reporting channel]" (web.middleware),
            nothing is put in the session, and answers are never cached.
/varsler/   the handlers: reports they handle, each report's page, the
            retaliation checks, and (HR, administrators) the channel's
            settings and the routines.

Every handler view finds the report through the access policy (what one may
not see is a 404, on the page and on every form URL alike); every change goes
through tidsnok.whistleblowing.services. On bad input the page is shown again
with that form filled in and its errors, status 400, and nothing is saved.
"""

from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Exists, OuterRef, Q
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tidsnok import crypto
from tidsnok.access.policy import AccessDenied, can, get_visible_or_404, visible
from tidsnok.audit.models import AuditEvent
from tidsnok.audit.services import record_access
from tidsnok.cases.models import Case, Deadline, DeadlineStatus, Entry, EntryKind, Handler, Kind
from tidsnok.deadlines.calendar import normalise_lang
from tidsnok.org import scope
from tidsnok.org.models import Organisation, Person
from tidsnok.org.search import asked, people_matching
from tidsnok.versioning import STALE_INPUT_KEPT, StaleVersion
from tidsnok.whistleblowing import attachments as files
from tidsnok.whistleblowing import retaliation, services
from tidsnok.whistleblowing.forms import (
    AssessmentForm,
    CheckForm,
    ClaimForm,
    CloseForm,
    ConclusionForm,
    ConsentForm,
    ExcludeForm,
    HandlerForm,
    MessageForm,
    NoteForm,
    ParticipationForm,
    PublishForm,
    ReceiptForm,
    RecordConsentForm,
    RedirectForm,
    ReportForm,
    ReporterMessageForm,
    RoutineForm,
    SettingsForm,
    StepForm,
    apply_service_errors,
)
from tidsnok.whistleblowing.models import (
    Anonymity,
    Assessment,
    Attachment,
    DesignatedHandler,
    Direction,
    Message,
    Report,
    Routine,
)

PAGE_SIZE = 25
# People one list of candidate handlers may hold; beyond it the person is searched for.
CANDIDATE_LIMIT = 400


def _no_store(response):
    # Reports, receipts and conversations are never kept by a browser or proxy cache.
    response["Cache-Control"] = "no-store, private"
    return response


def _today():
    return timezone.localdate()


@dataclass
class Box:
    """A form on a page, with where it posts and what it is called."""

    key: str
    title: str
    form: object
    action: str
    submit: str
    open: bool = False
    intro: str = ""


# --- the reporting channel ------------------------------------------------------------------------


def _organisation(request) -> Organisation | None:
    """Whose channel this is: the logged-in user's employer, the organisation
    number asked for (?org=), or the only organisation of this installation."""
    person = scope.person_of(request.user)
    if person is not None:
        return person.organisation
    number = (request.POST.get("organisation") or request.GET.get("org") or "").replace(" ", "").strip()
    if number:
        if not number.isdigit() or len(number) > 20:
            return None
        return Organisation.objects.filter(org_number=number).first()
    only = list(Organisation.objects.order_by("pk")[:2])
    return only[0] if len(only) == 1 else None


def _channel_context(request, organisation):
    org_id = organisation.pk if organisation else None
    person = scope.person_of(request.user)
    return {
        "organisation": organisation,
        "routine": services.current_routine(org_id) if org_id else None,
        "routines_missing": services.routines_warning(org_id),
        "org_query": f"?org={organisation.org_number}" if organisation and organisation.org_number and person is None else "",
        "has_own_reports": person is not None and services.reports_of(request.user).exists(),
        "is_handler": request.user.is_authenticated and services.is_handler(request.user),
    }


@require_GET
def channel(request):
    """Varsling: what it is, how to report, and the way back with a receipt."""
    organisation = _organisation(request)
    return _no_store(render(request, "whistleblowing/channel.html", _channel_context(request, organisation)))


@csrf_exempt
@require_http_methods(["GET", "POST"])
def new_report(request):
    # Uploads stay in memory (never a temporary file on disk): the handler must
    # be set before the CSRF check reads the body, hence the exempt/protect pair.
    request.upload_handlers = [files.UploadHandler(request)]
    return _new_report(request)


@csrf_protect
def _new_report(request):
    organisation = _organisation(request)
    ask_organisation = organisation is None
    status = 200
    if request.method == "POST":
        form = ReportForm(request.POST, request.FILES, ask_organisation=ask_organisation)
        too_large = getattr(request, "tidsnok_upload_too_large", False)
        if form.is_valid() and not too_large:
            if organisation is None:
                form.add_error("organisation", _("We found no organisation with that number."))
            else:
                c = form.cleaned_data
                try:
                    submitted = services.submit_report(
                        request.user, organisation, category=c["category"], anonymity=c["anonymity"],
                        description=c["description"], when=c["when"], involved=c["involved"],
                        attachments=c["attachments"],
                    )
                except ValidationError as error:
                    apply_service_errors(form, error)
                except services.ChannelBusy:
                    form.add_error(None, _("Too many reports are being sent just now. Wait a minute and send "
                                           "again: what you wrote is kept."))
                else:
                    return _submitted(request, submitted)
        if too_large:
            form.add_error("attachments", _("The files are larger than 20 MB in all."))
        status = 400
    else:
        initial = {}
        if not request.user.is_authenticated:
            initial["anonymity"] = Anonymity.ANONYMOUS
        form = ReportForm(initial=initial, ask_organisation=ask_organisation)
    context = _channel_context(request, organisation)
    context.update(form=form, error_forms=[Box("report", "", form, "", "")] if form.errors else [],
                   logged_in=request.user.is_authenticated)
    return _no_store(render(request, "whistleblowing/new.html", context, status=status))


def _submitted(request, submitted):
    """After sending: the receipt, shown this once (never stored, never in a URL)."""
    report = submitted.report
    context = {"report": report, "receipt": submitted.receipt,
               "groups": submitted.receipt.grouped.split("-") if submitted.receipt else []}
    return _no_store(render(request, "whistleblowing/sent.html", context))


def _receipt_refusal(error) -> str:
    if isinstance(error, services.ReceiptLimited):
        return _("Too many attempts. Wait a while and try again.")
    return _("We did not recognise the receipt. Check that you wrote all 24 characters.")


def _open(receipt_text):
    """(report, None) or (None, the refusal)."""
    try:
        return services.open_by_receipt(receipt_text), None
    except (services.ReceiptRefused, services.ReceiptLimited) as error:
        return None, error


def _conversation(report, *, for_handler: bool):
    rows = []
    attachments: dict[int | None, list] = {}
    for a in Attachment.objects.filter(report=report).order_by("pk"):
        attachments.setdefault(a.message_id, []).append(
            {"id": a.pk, "name": services.filename_of(a), "size": a.size, "type": a.content_type}
        )
    for m in Message.objects.filter(report=report).select_related("author").order_by("sent_on", "pk"):
        rows.append({
            "message": m, "body": services.body_of(m), "from_reporter": m.direction == Direction.FROM_REPORTER,
            "author": (m.author.name if m.author_id and for_handler else ""),
            "attachments": attachments.get(m.pk, []) if for_handler else [
                {"name": a["name"]} for a in attachments.get(m.pk, [])
            ],
        })
    return rows, attachments.get(None, [])


def _reporter_page(request, report, *, receipt_code="", message_form=None, consent_form=None, claim_form=None,
                   status=200, sent=False):
    """What the reporter sees: her report's status and the conversation. Handlers' names are not shown."""
    rows, _attachments = _conversation(report, for_handler=False)
    services.mark_read_by_reporter(report)
    case = report.case
    report.refresh_from_db()
    ask_consent = report.assessment == Assessment.PERSONAL_GRIEVANCE and report.redirect_consent is None
    is_open = case.status == "open"
    error_forms = [Box(k, "", f, "", "") for k, f in (("reply", message_form), ("consent", consent_form),
                                                       ("claim", claim_form))
                   if f is not None and f.errors]
    context = {
        "report": report, "case": case, "rows": rows, "is_open": is_open, "receipt_code": receipt_code,
        "message_form": (message_form or ReporterMessageForm()) if is_open else None,
        "consent_form": (consent_form or ConsentForm()) if ask_consent and is_open else None,
        "via_receipt": bool(receipt_code), "error_forms": error_forms, "sent": sent,
        "reply_action": reverse("reporting:receipt_reply") if receipt_code else reverse(
            "reporting:mine_detail", args=[report.pk]),
        "consent_action": reverse("reporting:receipt_consent") if receipt_code else reverse(
            "reporting:mine_consent", args=[report.pk]),
        # Retaliation can be claimed by whoever knows who she is: not on the anonymous path.
        "claim_form": (claim_form or ClaimForm()) if report.reporter_id and not receipt_code else None,
        "claim_action": reverse("reporting:mine_claim", args=[report.pk]) if report.reporter_id else "",
    }
    return _no_store(render(request, "whistleblowing/reporter.html", context, status=status))


@require_http_methods(["GET", "POST"])
def receipt(request):
    """Come back with the receipt. The receipt goes in the form body, never in the URL."""
    if request.method == "GET":
        return _no_store(render(request, "whistleblowing/receipt.html", {"form": ReceiptForm()}))
    form = ReceiptForm(request.POST)
    form.is_valid()
    report, refusal = _open(form.cleaned_data.get("receipt"))
    if report is None:
        return _refused(request, refusal, form)
    return _reporter_page(request, report, receipt_code=services.receipts.normalise(form.cleaned_data["receipt"]))


def _refused(request, refusal, form=None):
    """The same page and words for an unknown receipt and a wrong one."""
    form = form or ReceiptForm()
    form.add_error("receipt", _receipt_refusal(refusal))
    limited = isinstance(refusal, services.ReceiptLimited)
    return _no_store(render(request, "whistleblowing/receipt.html", {
        "form": form, "error_forms": [Box("receipt", "", form, "", "")],
    }, status=429 if limited else 403))


@csrf_exempt
@require_POST
def receipt_reply(request):
    request.upload_handlers = [files.UploadHandler(request)]
    return _receipt_reply(request)


@csrf_protect
def _receipt_reply(request):
    report, refusal = _open(request.POST.get("receipt"))
    if report is None:
        return _refused(request, refusal)
    code = services.receipts.normalise(request.POST.get("receipt"))
    form = ReporterMessageForm(request.POST, request.FILES)
    return _reply(request, report, form, receipt_code=code, user=None)


def _reply(request, report, form, *, receipt_code, user):
    if getattr(request, "tidsnok_upload_too_large", False):
        form.is_valid()
        form.add_error("attachments", _("The files are larger than 20 MB in all."))
    elif form.is_valid():
        try:
            services.add_reporter_message(user, report, form.cleaned_data["body"],
                                          attachments=form.cleaned_data["attachments"])
        except ValidationError as error:
            apply_service_errors(form, error)
        except AccessDenied:
            raise Http404
        else:
            return _reporter_page(request, report, receipt_code=receipt_code, sent=True)
    return _reporter_page(request, report, receipt_code=receipt_code, message_form=form, status=400)


@require_POST
def receipt_consent(request):
    report, refusal = _open(request.POST.get("receipt"))
    if report is None:
        return _refused(request, refusal)
    code = services.receipts.normalise(request.POST.get("receipt"))
    return _consent(request, report, receipt_code=code, user=None)


def _consent(request, report, *, receipt_code, user):
    form = ConsentForm(request.POST)
    if form.is_valid() and form.cleaned_data["consent"] in ("yes", "no"):
        try:
            services.set_redirect_consent(user, report, form.cleaned_data["consent"] == "yes")
        except ValidationError as error:
            apply_service_errors(form, error)
        except AccessDenied:
            raise Http404
        else:
            return _reporter_page(request, report, receipt_code=receipt_code, sent=True)
    elif not form.errors:
        form.add_error("consent", _("Choose yes or no."))
    return _reporter_page(request, report, receipt_code=receipt_code, consent_form=form, status=400)


@login_required
@require_GET
def my_reports(request):
    rows = services.reports_of(request.user).order_by("-received_on", "-pk")
    return _no_store(render(request, "whistleblowing/mine.html", {"reports": rows}))


def _my_report(request, report_id):
    report = services.reports_of(request.user).filter(pk=report_id).first()
    if report is None:
        raise Http404
    return report


@login_required
@csrf_exempt
@require_http_methods(["GET", "POST"])
def my_report(request, report_id: int):
    if request.method == "POST":
        request.upload_handlers = [files.UploadHandler(request)]
    return _my_report_view(request, report_id)


@csrf_protect
def _my_report_view(request, report_id):
    report = _my_report(request, report_id)
    if request.method == "GET":
        return _reporter_page(request, report)
    form = ReporterMessageForm(request.POST, request.FILES)
    return _reply(request, report, form, receipt_code="", user=request.user)


@login_required
@require_POST
def my_report_consent(request, report_id: int):
    report = _my_report(request, report_id)
    return _consent(request, report, receipt_code="", user=request.user)


@login_required
@require_POST
def my_report_claim(request, report_id: int):
    """The reporter says she has met retaliation: a case of its own, with HR at once."""
    report = _my_report(request, report_id)
    form = ClaimForm(request.POST)
    if form.is_valid():
        try:
            retaliation.claim_retaliation(request.user, report.reporter, form.cleaned_data["description"])
        except ValidationError as error:
            apply_service_errors(form, error)
        except AccessDenied:
            raise Http404
        else:
            return _reporter_page(request, report, sent=True)
    return _reporter_page(request, report, claim_form=form, status=400)


@require_GET
def routines(request):
    """The organisation's published whistleblowing routines (aml § 2 A-6), for everyone."""
    organisation = _organisation(request)
    routine = services.current_routine(organisation.pk) if organisation else None
    earlier = []
    if routine is not None:
        earlier = list(Routine.objects.filter(organisation=organisation, published_on__isnull=False)
                       .exclude(pk=routine.pk).order_by("-number"))
    context = _channel_context(request, organisation)
    context.update(routine=routine, earlier=earlier)
    return render(request, "whistleblowing/routines_public.html", context)


# --- handlers: the list ---------------------------------------------------------------------------


def _reports(user):
    return visible(user, Report).filter(case__kind=Kind.WHISTLEBLOWING)


@login_required
@require_GET
def report_list(request):
    """Varsler: the reports the user handles, newest first."""
    user = request.user
    status = request.GET.get("status") if request.GET.get("status") in ("open", "closed") else ""
    rows = _reports(user).select_related("case")
    if status:
        rows = rows.filter(case__status=status)
    page = Paginator(rows.order_by("-received_on", "-pk"), PAGE_SIZE).get_page(request.GET.get("side"))
    case_ids = [r.case_id for r in page]
    lang = normalise_lang(request.LANGUAGE_CODE)
    next_due = {}
    # The cases are already the user's (the page came through the policy).
    # Sorted here: asked to sort them, SQLite walked every open deadline of the organisation by
    # its (status, due) index (23,000 at 50,000 employees), not the page's cases' few by case.
    open_deadlines = Deadline.objects.filter(case_id__in=case_ids, status=DeadlineStatus.OPEN).order_by()
    for d in sorted(open_deadlines, key=lambda d: (d.due, d.pk)):
        next_due.setdefault(d.case_id, (d.due, d.title(lang)))
    latest_from_reporter = {}
    for case_id, sent_on in Message.objects.filter(
        report__case_id__in=case_ids, direction=Direction.FROM_REPORTER
    ).values_list("report__case_id", "sent_on"):
        if case_id not in latest_from_reporter or sent_on > latest_from_reporter[case_id]:
            latest_from_reporter[case_id] = sent_on
    today = _today()
    items = [{
        "report": r, "next_due": next_due.get(r.case_id), "overdue": bool(next_due.get(r.case_id))
        and next_due[r.case_id][0] < today, "latest_from_reporter": latest_from_reporter.get(r.case_id),
    } for r in page]
    person = scope.person_of(user)
    return render(request, "whistleblowing/list.html", {
        "items": items, "page": page, "status": status, "can_manage": services.can_manage(user),
        "routines_missing": services.routines_warning(person.organisation_id if person else None),
    })


# --- handlers: one report -------------------------------------------------------------------------


def _report_for(user, case_id, action="view") -> Report:
    case = visible(user, Case, action).filter(pk=case_id, kind=Kind.WHISTLEBLOWING).first()
    if case is None:
        raise Http404
    report = Report.objects.select_related("case", "reporter", "reporter__unit").filter(case=case).first()
    if report is None:
        raise Http404
    report.case = case
    return report


def _readers(case):
    """Who has read the report (ACCESS events), newest first."""
    events = (
        AuditEvent.objects.filter(action="ACCESS")
        .filter(Q(object_type="cases.case", object_id=str(case.pk))
                | Q(object_type="whistleblowing.attachment", data__case=case.pk))
        .order_by("-seq").values_list("actor_id", "time", "object_type")[:200]
    )
    names = {}
    rows = list(events)
    user_ids = {r[0] for r in rows if r[0]}
    for user_id, name in Person.objects.filter(user_id__in=user_ids).values_list("user_id", "name"):
        names[user_id] = name
    return [{"name": names.get(u, "–"), "time": t, "attachment": o != "cases.case"} for u, t, o in rows]


ENTRY_LABELS = {
    EntryKind.NOTE: gettext_lazy("Internal note"),
    EntryKind.FOLLOW_UP: gettext_lazy("Investigation step"),
    EntryKind.CONCLUSION: gettext_lazy("Conclusion"),
}


def _entry_line(entry, names) -> dict:
    data = entry.data or {}
    label = ENTRY_LABELS.get(entry.kind) or entry.get_kind_display()
    detail = ""
    if entry.kind == EntryKind.MESSAGE:
        if data.get("direction") == Direction.FROM_REPORTER:
            label = _("Message from the reporter")
        elif data.get("feedback"):
            label = _("Feedback to the reporter")
        else:
            label = _("Message to the reporter")
    elif entry.kind == EntryKind.DECISION and data.get("event") == "assessment":
        label = _("Assessment")
        detail = str(Assessment(data["assessment"]).label) if data.get("assessment") in Assessment.values else ""
    elif entry.kind == EntryKind.DECISION and data.get("event") == "redirect_consent":
        label = _("The reporter's consent to redirect")
        detail = _("Consents") if data.get("consent") else _("Does not consent")
    elif entry.kind == EntryKind.DECISION and data.get("event") == "redirected":
        label = _("Redirected")
        detail = _("To case %(number)s") % {"number": data.get("to_number", "")}
    elif entry.kind == EntryKind.EXCLUSION:
        detail = names.get(data.get("person"), "")
    elif entry.kind == EntryKind.NOTE and data.get("event") == "exclusion_reason":
        label = _("Why %(name)s cannot handle the report") % {"name": names.get(data.get("person"), "")}
    return {"entry": entry, "label": label, "detail": detail}


EXCLUSION_REASONS = {
    services.NAMED_IN_REPORT: gettext_lazy("named in the report"),
    services.IS_REPORTER: gettext_lazy("sent the report"),
    services.EXCLUDED_BY_HANDLER: gettext_lazy("excluded by a handler"),
}


def _page_context(request, report, bound=None):
    user = request.user
    bound = bound or {}
    case = report.case
    is_open = case.status == "open"
    content = services.content_of(report)
    rows, report_attachments = _conversation(report, for_handler=True)
    handlers = list(case.handlers.filter(removed_at__isnull=True).select_related("person").order_by("added_at", "pk"))
    exclusions = list(case.exclusions.select_related("person").order_by("created_at", "pk"))
    names = {h.person_id: h.person.name for h in handlers}
    names.update({x.person_id: x.person.name for x in exclusions})
    entries = [
        _entry_line(e, names)
        for e in visible(user, Entry).filter(case=case).select_related("author").order_by("occurred_on", "pk")
        if e.kind not in (EntryKind.SYSTEM, EntryKind.RETALIATION_CHECK)
    ]
    lang = normalise_lang(request.LANGUAGE_CODE)
    today = _today()
    deadlines = [
        {"d": d, "title": d.title(lang), "overdue": d.status == DeadlineStatus.OPEN and d.due < today}
        for d in case.deadlines.order_by("due", "pk")
    ]
    checks = list(
        retaliation.checks_visible(user).filter(protection__case=case)
        .select_related("protection__person", "decided_by", "documented_by").order_by("change_on", "pk")
    )
    base = reverse("whistleblowing:report", args=[case.pk])

    def box(key, title, form, submit, intro=""):
        return Box(key=key, title=title, form=bound.get(key, form), action=f"{base}{key}/", submit=submit,
                   open=key in bound, intro=intro)

    boxes = []
    colleagues = []
    if is_open:
        boxes.append(box("melding", _("Write to the reporter"), MessageForm(prefix="melding"), _("Send")))
        boxes.append(box("notat", _("Write an internal note"), NoteForm(prefix="notat"), _("Save")))
        boxes.append(box("steg", _("Document an investigation step"),
                         StepForm(prefix="steg", initial={"occurred_on": today}), _("Save")))
        boxes.append(box("vurdering", _("Assess the report"),
                         AssessmentForm(prefix="vurdering", initial={
                             "version": report.version,
                             "assessment": report.assessment if report.assessment != Assessment.PENDING else None,
                         }), _("Save the assessment"),
                         intro=_("Whistleblowing (aml § 2 A-1) is about censurable conditions in the organisation, "
                                 "including an unsound work environment. A complaint only about one's own "
                                 "employment is normally a personal grievance: with the reporter's consent it "
                                 "goes to the ordinary follow-up.")))
        if report.assessment == Assessment.PERSONAL_GRIEVANCE:
            boxes.append(box("samtykke", _("Record the reporter's consent"), RecordConsentForm(prefix="samtykke"),
                             _("Save"), intro=_("If the reporter answered you in a conversation. The reporter can "
                                                "also answer on her own page.")))
            if report.redirect_consent and report.reporter_id:
                boxes.append(box("omdiriger", _("Redirect to the ordinary follow-up"), RedirectForm(prefix="omdiriger"),
                                 _("Open the case")))
        boxes.append(box("konklusjon", _("Document the conclusion"), ConclusionForm(prefix="konklusjon"), _("Save")))
        colleagues = [p for p in services.potential_handlers(report.organisation_id)
                      if p.pk not in {x.person_id for x in exclusions}]
        boxes.append(box("utelukk", _("Exclude someone for impartiality"),
                         ExcludeForm(prefix="utelukk", people=colleagues), _("Exclude"),
                         intro=_("Someone who is involved, or close to those involved, must not handle the "
                                 "report. The other handlers see who is excluded.")))
        boxes.append(box("avslutt", _("Close with feedback to the reporter"),
                         CloseForm(prefix="avslutt", initial={"version": case.version}), _("Close the case")))
    people = list(Person.objects.filter(organisation_id=report.organisation_id).order_by("sort_name", "pk")[:1000]) \
        if checks and scope.is_hr(user) else []
    check_rows = []
    for c in checks:
        key = f"kontroll{c.pk}"
        form = None
        if not c.documented_on and scope.is_hr(user) and can(user, "edit", case):
            form = bound.get(key) or CheckForm(prefix=key, people=people, initial={"version": c.version})
        check_rows.append({
            "check": c, "key": key, "form": form, "open": key in bound,
            "justification": crypto.decrypt(c.reported_justification_enc) if c.reported_justification_enc else "",
            "grounds": crypto.decrypt(c.grounds_enc) if c.grounds_enc else "",
            "action": reverse("whistleblowing:check", args=[case.pk, c.pk]),
        })
    error_forms = [b for b in boxes if b.form.errors]
    error_forms += [Box(r["key"], _("Retaliation check"), r["form"], "", "") for r in check_rows
                    if r["form"] is not None and r["form"].errors]
    return {
        "report": report, "case": case, "content": content, "rows": rows, "report_attachments": report_attachments,
        "handlers": handlers,
        "exclusions": [{"name": x.person.name, "reason": EXCLUSION_REASONS.get(x.reason, x.reason), "date": x.created_at}
                       for x in exclusions],
        "entries": entries, "deadlines": deadlines, "checks": check_rows, "readers": _readers(case),
        "boxes": boxes, "error_forms": error_forms, "is_open": is_open,
        "acknowledged": services.acknowledged(report), "anonymous": report.anonymity == Anonymity.ANONYMOUS,
        "can_export": can(user, "export", case),
        "ack_action": f"{base}kvitter/",
    }


def _render_report(request, report, *, bound=None, status=200):
    context = _page_context(request, report, bound)
    if status == 200:
        # Every read of a report is on the record, and its handlers see who read it.
        record_access(request.user, report.case, role=scope.role_label(request.user),
                      reason="report_page")
        context["readers"] = _readers(report.case)
    return _no_store(render(request, "whistleblowing/report.html", context, status=status))


@login_required
@require_GET
def report_page(request, case_id: int):
    report = _report_for(request.user, case_id)
    return _render_report(request, report)


def _done(request, report, message, anchor=""):
    messages.success(request, message)
    return redirect(reverse("whistleblowing:report", args=[report.case_id]) + (f"#{anchor}" if anchor else ""))


def _act(request, report, key, form, run, done):
    """Validate, run the service, and redirect; on refusal show the page again with the form."""
    if form.is_valid():
        try:
            run(form.cleaned_data)
        except StaleVersion:
            form.add_error(None, str(STALE_INPUT_KEPT))
            report = _report_for(request.user, report.case_id)
            return _render_report(request, report, bound={key: form}, status=409)
        except ValidationError as error:
            apply_service_errors(form, error)
        except AccessDenied:
            raise Http404
        else:
            return _done(request, report, done)
    return _render_report(request, report, bound={key: form}, status=400)


@login_required
@require_POST
def report_action(request, case_id: int, action: str):
    user = request.user
    report = _report_for(user, case_id, "close" if action == "avslutt" else "edit")
    post = request.POST
    if action == "melding":
        return _act(request, report, action, MessageForm(post, prefix=action),
                    lambda c: services.send_message(user, report, c["body"], feedback=c["feedback"]),
                    _("The message is sent."))
    if action == "kvitter":
        try:
            services.acknowledge(user, report)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
            return redirect("whistleblowing:report", case_id=case_id)
        return _done(request, report, _("Receipt is acknowledged to the reporter."))
    if action == "notat":
        return _act(request, report, action, NoteForm(post, prefix=action),
                    lambda c: services.add_note(user, report, c["text"]), _("The note is saved."))
    if action == "steg":
        return _act(request, report, action, StepForm(post, prefix=action),
                    lambda c: services.add_investigation_step(user, report, c["occurred_on"], c["text"]),
                    _("The investigation step is documented."))
    if action == "konklusjon":
        return _act(request, report, action, ConclusionForm(post, prefix=action),
                    lambda c: services.add_conclusion(user, report, c["text"]), _("The conclusion is documented."))
    if action == "vurdering":
        return _act(request, report, action, AssessmentForm(post, prefix=action),
                    lambda c: services.record_assessment(user, report, c["version"], assessment=c["assessment"],
                                                         reasoning=c["reasoning"]),
                    _("The assessment is saved."))
    if action == "samtykke":
        def consent(c):
            if c["consent"] not in ("yes", "no"):
                raise ValidationError({"consent": [_("Choose the reporter's answer.")]})
            services.record_consent(user, report, consent=c["consent"] == "yes")
        return _act(request, report, action, RecordConsentForm(post, prefix=action), consent,
                    _("The reporter's answer is recorded."))
    if action == "omdiriger":
        return _act(request, report, action, RedirectForm(post, prefix=action),
                    lambda c: services.redirect_report(user, report, kind=c["kind"], note=c["note"]),
                    _("A case for the ordinary follow-up is opened."))
    if action == "avslutt":
        return _act(request, report, action, CloseForm(post, prefix=action),
                    lambda c: services.close_with_feedback(user, report, c["version"], evaluation=c["evaluation"],
                                                           feedback=c["feedback"]),
                    _("The case is closed and the reporter has your feedback."))
    if action == "utelukk":
        people = services.potential_handlers(report.organisation_id)
        by_id = {p.pk: p for p in people}

        def exclude(c):
            person = by_id.get(c["person"])
            if person is None:
                raise ValidationError({"person": [_("Choose who is excluded.")]})
            services.exclude_handler(user, report, person, c["reason"])
        return _act(request, report, action, ExcludeForm(post, prefix=action, people=people), exclude,
                    _("The person is excluded from the report."))
    raise Http404


@login_required
@require_POST
def document_check(request, case_id: int, check_id: int):
    user = request.user
    report = _report_for(user, case_id, "edit")
    check = retaliation.checks_visible(user).filter(pk=check_id, protection__case=report.case).first()
    if check is None or not scope.is_hr(user):
        raise Http404
    key = f"kontroll{check.pk}"
    people = {p.pk: p for p in Person.objects.filter(organisation_id=report.organisation_id)}
    form = CheckForm(request.POST, prefix=key, people=people.values())

    def run(c):
        retaliation.document_check(user, check, c["version"], grounds=c["grounds"],
                                   decided_by=people.get(c["decided_by"]), outcome=c["outcome"])
    return _act(request, report, key, form, run, _("The retaliation check is documented."))


@login_required
@require_GET
def attachment(request, case_id: int, attachment_id: int):
    report = _report_for(request.user, case_id)
    try:
        row, data = services.read_attachment(request.user, report, attachment_id)
    except AccessDenied:
        raise Http404
    response = HttpResponse(data, content_type=row.content_type)
    response["Content-Disposition"] = content_disposition_header(True, services.filename_of(row))
    response["X-Content-Type-Options"] = "nosniff"
    return _no_store(response)


# --- retaliation checks ---------------------------------------------------------------------------


@login_required
@require_GET
def checks(request):
    """The retaliation checks on the cases the user handles."""
    # The protected person is named only to those who handle her case (as in the API).
    mine = Handler.objects.filter(case=OuterRef("protection__case"), person=scope.person_of(request.user),
                                  removed_at__isnull=True)
    rows = (
        retaliation.checks_visible(request.user)
        .select_related("protection__case", "protection__person")
        .annotate(handles=Exists(mine))
        .order_by("documented_on", "-change_on", "-pk")
    )
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("side"))
    items = []
    for c in page:
        case = c.protection.case
        url = (reverse("whistleblowing:report", args=[case.pk]) if case.kind == Kind.WHISTLEBLOWING
               else reverse("cases:detail", args=[case.pk]))
        items.append({"check": c, "case": case, "url": url})
    return render(request, "whistleblowing/checks.html", {"items": items, "page": page})


# --- settings and routines (HR, administrators) ---------------------------------------------------


def _manager_org(request):
    if not services.can_manage(request.user):
        raise Http404
    person = scope.person_of(request.user)
    if person is None:
        raise Http404
    return person.organisation


def _settings_page(request, organisation, *, settings_form=None, handler_form=None, status=200):
    current = services.settings_of(organisation.pk)
    designated = list(DesignatedHandler.objects.filter(organisation=organisation).select_related("person", "person__unit")
                      .order_by("person__sort_name"))
    search = asked(request.GET)
    # Never a list cut off at some length: in a large organisation the person is found by name.
    candidates = list(
        visible(request.user, Person).exclude(pk__in=[d.person_id for d in designated])
        .filter(people_matching(search)).select_related("unit").order_by("sort_name", "pk")[: CANDIDATE_LIMIT + 1]
    )
    too_many = len(candidates) > CANDIDATE_LIMIT
    settings_form = settings_form or SettingsForm(prefix="innstillinger", initial=current)
    handler_form = handler_form or HandlerForm(prefix="mottaker", people=[] if too_many else candidates)
    error_forms = [Box(k, "", f, "", "") for k, f in (("innstillinger", settings_form), ("mottaker", handler_form))
                   if f.errors]
    return render(request, "whistleblowing/settings.html", {
        "organisation": organisation, "current": current, "designated": designated,
        "default_handlers": [] if designated else services.designated_handlers(organisation.pk),
        "settings_form": settings_form, "handler_form": handler_form, "error_forms": error_forms,
        "search": search, "too_many": too_many,
    }, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def settings_view(request):
    organisation = _manager_org(request)
    if request.method == "GET":
        return _settings_page(request, organisation)
    form = SettingsForm(request.POST, prefix="innstillinger")
    if form.is_valid():
        c = form.cleaned_data
        try:
            services.update_settings(request.user, organisation, protection_months=c["protection_months"],
                                     acknowledge_days=c["acknowledge_days"], feedback_months=c["feedback_months"])
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, _("The settings are saved. New deadlines apply to reports received from today."))
            return redirect("whistleblowing:settings")
    return _settings_page(request, organisation, settings_form=form, status=400)


@login_required
@require_POST
def handlers_view(request):
    organisation = _manager_org(request)
    remove = request.POST.get("remove")
    if remove:
        person = Person.objects.filter(organisation=organisation, pk=remove if remove.isdigit() else 0).first()
        if person is None:
            raise Http404
        services.remove_designated_handler(request.user, organisation, person)
        messages.success(request, _("%(name)s no longer receives new reports.") % {"name": person.name})
        return redirect("whistleblowing:settings")
    chosen = request.POST.get("mottaker-person", "")
    candidates = list(visible(request.user, Person).filter(pk=chosen if chosen.isdigit() else 0).select_related("unit"))
    form = HandlerForm(request.POST, prefix="mottaker", people=candidates)
    if form.is_valid():
        person = {p.pk: p for p in candidates}.get(form.cleaned_data["person"])
        try:
            services.add_designated_handler(request.user, organisation, person)
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, _("%(name)s receives new reports.") % {"name": person.name})
            return redirect("whistleblowing:settings")
    return _settings_page(request, organisation, handler_form=form, status=400)


@login_required
@require_http_methods(["GET", "POST"])
def routine_list(request):
    organisation = _manager_org(request)
    if request.method == "POST":
        routine = services.start_routine(request.user, organisation)
        return redirect("whistleblowing:routine", routine_id=routine.pk)
    rows = list(visible(request.user, Routine, "edit").order_by("-number"))
    return render(request, "whistleblowing/routines.html", {
        "routines": rows, "has_draft": any(r.published_on is None for r in rows),
        "routines_missing": services.routines_warning(organisation.pk),
    })


def _routine_page(request, routine, *, bound=None, status=200):
    bound = bound or {}
    draft = routine.published_on is None
    base = reverse("whistleblowing:routine", args=[routine.pk])
    edit = bound.get("rutine") or RoutineForm(prefix="rutine", initial={
        "encouragement": routine.encouragement, "how_to_report": routine.how_to_report,
        "handling": routine.handling, "version": routine.version,
    })
    participation = bound.get("medvirkning") or ParticipationForm(prefix="medvirkning", initial={"on": _today()})
    publish = bound.get("publiser") or PublishForm(prefix="publiser", initial={"version": routine.version})
    forms = {"rutine": edit, "medvirkning": participation, "publiser": publish}
    error_forms = [Box(k, "", f, "", "") for k, f in forms.items() if f.errors]
    return render(request, "whistleblowing/routine.html", {
        "routine": routine, "draft": draft, "edit": edit if draft else None,
        "participation_form": participation if draft else None, "publish_form": publish if draft else None,
        "participation": list(routine.participation.order_by("on", "pk")),
        "edit_action": f"{base}", "participation_action": f"{base}medvirkning/", "publish_action": f"{base}publiser/",
        "error_forms": error_forms, "bound": bound,
    }, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def routine_view(request, routine_id: int):
    _manager_org(request)
    routine = get_visible_or_404(request.user, Routine, "edit", pk=routine_id)
    if request.method == "GET":
        return _routine_page(request, routine)
    form = RoutineForm(request.POST, prefix="rutine")
    if form.is_valid():
        c = form.cleaned_data
        try:
            services.update_routine(request.user, routine, c["version"], encouragement=c["encouragement"],
                                    how_to_report=c["how_to_report"], handling=c["handling"])
        except StaleVersion:
            form.add_error(None, str(STALE_INPUT_KEPT))
            return _routine_page(request, routine, bound={"rutine": form}, status=409)
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, _("The draft is saved."))
            return redirect("whistleblowing:routine", routine_id=routine.pk)
    return _routine_page(request, routine, bound={"rutine": form}, status=400)


@login_required
@require_POST
def routine_participation(request, routine_id: int):
    _manager_org(request)
    routine = get_visible_or_404(request.user, Routine, "edit", pk=routine_id)
    form = ParticipationForm(request.POST, prefix="medvirkning")
    if form.is_valid():
        c = form.cleaned_data
        try:
            services.add_participation(request.user, routine, who=c["who"], capacity=c["capacity"], on=c["on"],
                                       comment=c["comment"])
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, _("The participation is recorded."))
            return redirect("whistleblowing:routine", routine_id=routine.pk)
    return _routine_page(request, routine, bound={"medvirkning": form}, status=400)


@login_required
@require_POST
def routine_publish(request, routine_id: int):
    _manager_org(request)
    routine = get_visible_or_404(request.user, Routine, "edit", pk=routine_id)
    form = PublishForm(request.POST, prefix="publiser")
    if form.is_valid():
        try:
            services.publish_routine(request.user, routine, form.cleaned_data["version"])
        except StaleVersion:
            form.add_error(None, str(STALE_INPUT_KEPT))
            return _routine_page(request, routine, bound={"publiser": form}, status=409)
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, _("Version %(number)d is published for all employees.") % {"number": routine.number})
            return redirect("whistleblowing:routine", routine_id=routine.pk)
    return _routine_page(request, routine, bound={"publiser": form}, status=400)
