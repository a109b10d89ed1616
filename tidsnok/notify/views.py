import io
from dataclasses import dataclass
from datetime import timedelta

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.cache import get_conditional_response, patch_cache_control, quote_etag
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from tidsnok.access.policy import AccessDenied, visible
from tidsnok.cases.models import Case
from tidsnok.notify import compliance, feed, services
from tidsnok.notify.forms import OrgSettingsForm, PeriodForm, PreferenceForm
from tidsnok.notify.messages import RISK_KINDS, case_path, notification_text, risk_path
from tidsnok.notify.models import Mail, Notification
from tidsnok.org import scope
from tidsnok.versioning import StaleVersion

PAGE_SIZE = 50
DEADLINES_PER_PAGE = 100
FEED_SESSION_KEY = "notify_new_feed_token"


def _lang() -> str:
    return "en" if (translation.get_language() or "nb").startswith("en") else "nb"


@dataclass
class Item:
    notification: Notification
    text: str
    link: str


@login_required
@require_http_methods(["GET", "POST"])
def notifications(request):
    """The bell's page: newest first, with marking as read (POST)."""
    if request.method == "POST":
        if "all" in request.POST:
            services.mark_read(request.user)
        else:
            ids = [int(i) for i in request.POST.getlist("id") if i.isdigit()]
            services.mark_read(request.user, ids)
        page = request.POST.get("page", "")
        return redirect(reverse("notify:notifications") + (f"?page={page}" if page.isdigit() else ""))
    rows = visible(request.user, Notification).select_related("case", "deadline").order_by("-created_at", "-id")
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    case_ids = {n.case_id for n in page if n.case_id}
    seen = set(visible(request.user, Case).filter(pk__in=case_ids).values_list("pk", flat=True)) if case_ids else set()
    lang = _lang()
    items = []
    for n in page:
        ok = n.case_id is None or n.case_id in seen
        text = notification_text(
            n.kind, n.data or {}, number=n.case.number if n.case_id and ok else "",
            title=n.deadline.title(lang) if n.deadline_id and ok else "", visible=ok,
        )
        if n.kind == "mail_failed":
            link = reverse("notify:deliveries")
        elif n.kind in RISK_KINDS:
            # The risk room's page decides what its reader may see (404 once she may not).
            link = risk_path(n.kind, n.data)
        elif n.case_id is None and str((n.data or {}).get("path", "")).startswith("/"):
            # A page of a room above this one (an access copy request), named by the room that
            # queued the notification: notify does not know those pages.
            link = n.data["path"]
        else:
            link = case_path(n.case_id) if n.case_id and ok else ""
        items.append(Item(n, text, link))
    unread = Notification.objects.shown().filter(user=request.user, read_at__isnull=True).count()
    return render(request, "notify/notifications.html", {
        "items": items, "page": page, "unread": unread, "is_admin": scope.is_admin(request.user),
    })


@login_required
@require_GET
def my_deadlines(request):
    """The deadlines I am responsible for: the same list as my calendar feed."""
    # A page at a time, not the first 500: HR may answer for thousands, and none may be left out.
    page = Paginator(feed.open_deadline_keys(request.user), DEADLINES_PER_PAGE).get_page(request.GET.get("page"))
    items = feed.deadline_items(page.object_list, _lang(), timezone.localdate())
    return render(request, "notify/deadlines.html", {"items": items, "page": page})


@login_required
@require_http_methods(["GET", "POST"])
def preferences(request):
    user = request.user
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "mode":
            form = PreferenceForm(request.POST)
            if form.is_valid():
                services.set_mode(user, form.cleaned_data["mode"])
                flash.success(request, _("Your choice is saved."))
                return redirect("notify:preferences")
        elif action in ("new_feed", "revoke_feed"):
            if action == "new_feed":
                request.session[FEED_SESSION_KEY] = services.new_calendar_feed(user)
                flash.success(request, _("Your new calendar address is ready. Any old address no longer works."))
            elif services.revoke_calendar_feed(user):
                flash.success(request, _("The calendar address is turned off."))
            return redirect("notify:preferences")
        else:
            return redirect("notify:preferences")
    else:
        form = PreferenceForm(initial={"mode": services.mode_of(user)})
    token = request.session.pop(FEED_SESSION_KEY, None)
    feed_url = request.build_absolute_uri(reverse("notify:calendar", args=[token])) if token else ""
    return render(request, "notify/preferences.html", {
        "form": form, "feed_url": feed_url, "has_feed": services.has_calendar_feed(user),
    })


@require_GET
def calendar(request, token):
    """The secret calendar address: no login, the token is the key. 404 once revoked."""
    # The token is checked on every poll, before any ETag or cache: a revoked
    # address is gone at once, whatever a client or the cache still holds.
    user = services.feed_user(token)
    if user is None:
        raise Http404
    snapshot = feed.snapshot(user)
    response = HttpResponse(content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="tidsnok.ics"'
    response["X-Robots-Tag"] = "noindex"
    response["ETag"] = quote_etag(snapshot.etag)
    # Not never_cache: its no-store forbids the client to keep the body, so it
    # would have nothing to revalidate and the ETag would be useless; and a
    # calendar client keeps the events anyway, that is its job. "private" still
    # keeps the feed of a secret address out of shared caches, and "no-cache"
    # makes the client ask on every poll, so a change or a revocation is seen at
    # the next one, as before.
    patch_cache_control(response, private=True, no_cache=True)
    conditional = get_conditional_response(request, etag=response["ETag"], response=response)
    if conditional is not response:
        return conditional  # 304 with the ETag and Cache-Control: no body built or read
    response.content = snapshot.body()
    return response


@login_required
@require_http_methods(["GET", "POST"])
def org_settings(request):
    """Reminder rules for the organisation: HR (organisation-wide) and administrators."""
    user = request.user
    if not services.can_edit_org_settings(user):
        raise Http404
    person = scope.person_of(user)
    current = services.org_settings(person.organisation_id)
    if request.method == "POST":
        form = OrgSettingsForm(request.POST)
        if form.is_valid():
            try:
                services.update_org_settings(
                    user, person.organisation, reminder_lead_days=form.cleaned_data["reminder_lead_days"],
                    escalate_after_days=form.cleaned_data["escalate_after_days"],
                    version=form.cleaned_data.get("version"),
                )
            except StaleVersion as exc:
                form.add_error(None, str(exc))
            except ValidationError as exc:
                for name, errors in exc.message_dict.items():
                    form.add_error(name if name in form.fields else None, errors)
            else:
                flash.success(request, _("The reminder rules are saved."))
                return redirect("notify:org_settings")
    else:
        form = OrgSettingsForm(initial={
            "reminder_lead_days": current.reminder_lead_days, "escalate_after_days": current.escalate_after_days,
            "version": current.version if current.pk else None,
        })
    return render(request, "notify/org_settings.html", {"form": form, "current": current})


@login_required
@require_http_methods(["GET", "POST"])
def deliveries(request):
    """E-mails that failed for good, and those still being retried: administrators only."""
    if not scope.is_admin(request.user):
        raise Http404
    if request.method == "POST":
        ids = [int(i) for i in request.POST.getlist("id") if i.isdigit()]
        try:
            count = services.retry_mail(request.user, ids)
        except AccessDenied:
            raise Http404
        flash.success(request, _("%(count)d e-mail(s) will be sent again.") % {"count": count})
        return redirect("notify:deliveries")
    org_id = scope.organisation_id_of(request.user)
    mine = Mail.objects.filter(user__person__organisation_id=org_id) | Mail.objects.filter(user__isnull=True)
    failed = mine.filter(failed_at__isnull=False, sent_at__isnull=True).order_by("-failed_at", "-id")
    page = Paginator(failed, PAGE_SIZE).get_page(request.GET.get("page"))
    retrying = mine.filter(failed_at__isnull=True, sent_at__isnull=True, attempts__gt=0).order_by("next_attempt_at")[:PAGE_SIZE]
    waiting = mine.filter(failed_at__isnull=True, sent_at__isnull=True).count()
    return render(request, "notify/deliveries.html", {"page": page, "retrying": retrying, "waiting": waiting})


# --- compliance ---------------------------------------------------------------------------------


def _period(request, params=None):
    params = request.GET if params is None else params
    today = timezone.localdate()
    default = {"start": today - timedelta(days=89), "end": today}
    form = PeriodForm(params or None, initial=default)
    if params and form.is_valid():
        return form, form.cleaned_data["start"], form.cleaned_data["end"], today
    if not params:
        form = PeriodForm(initial=default)
    return form, default["start"], default["end"], today


def _require_compliance(user):
    if not compliance.may_see_compliance(user):
        raise Http404


@login_required
@require_GET
def compliance_overview(request):
    """One level of the unit tree at a time (?unit=ID opens a unit): thousands of rows are no use
    on a page. Each row sums the units below it; the CSV file has every unit on its own."""
    _require_compliance(request.user)
    params = request.GET.copy()
    opened_id = params.pop("unit", [None])[-1]
    form, start, end, today = _period(request, params)
    try:
        shown = compliance.level(request.user, start, end, today, int(opened_id) if opened_id else None)
    except (ValueError, compliance.UnitNotInScope):
        raise Http404
    if shown.own:
        shown.own.label = _("%(unit)s, own cases") % {"unit": shown.own.unit.name}
    bars, height = compliance.chart(([shown.own] if shown.own else []) + shown.rows)
    return render(request, "notify/compliance.html", {
        "form": form, "start": start, "end": end, "level": shown, "total": shown.total, "bars": bars,
        "chart_height": height, "chart_width": compliance.CHART_LABEL + compliance.CHART_BAR + 60,
        "bar_x": compliance.CHART_LABEL, "bar_full": compliance.CHART_BAR,
        "is_hr": scope.is_hr(request.user), "query": params.urlencode(),
        "unit_query": f"{params.urlencode()}&" if params else "",
    })


@login_required
@require_GET
def compliance_unit(request, unit_id):
    _require_compliance(request.user)
    unit = get_object_or_404(compliance.units_in_scope(request.user), pk=unit_id)
    form, start, end, today = _period(request)
    cases = compliance.unit_cases(request.user, unit, start, end, today)
    return render(request, "notify/compliance_unit.html", {
        "unit": unit, "cases": [(row, case_path(row.case.pk)) for row in cases], "start": start, "end": end,
        "query": request.GET.urlencode(),
    })


@login_required
@require_GET
def compliance_csv(request):
    _require_compliance(request.user)
    _form, start, end, today = _period(request)
    rows, total = compliance.overview(request.user, start, end, today)
    out = io.StringIO()
    compliance.write_csv(out, rows, total, [
        _("Unit code"), _("Unit"), _("Open deadlines"), _("Overdue now"), _("Met on time"), _("Late"),
        _("Percent on time"),
    ], _("Total"))
    response = HttpResponse("\ufeff" + out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="etterlevelse-{start:%Y%m%d}-{end:%Y%m%d}.csv"'
    return response
