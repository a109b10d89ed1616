"""The audit log viewer for administrators.

It lives in web, not in audit: audit is the lowest room and must not know about
roles (org.scope), while web sits on top and may use both.
"""

import json

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from tidsnok.audit.models import AuditEvent
from tidsnok.audit.services import verify_chain
from tidsnok.org import scope

PAGE_SIZE = 50
HASH_PREFIX = 12

# The reasons audit.chain gives, worded for the interface (chain.PROBLEMS has
# the English the command line prints).
PROBLEM_TEXT = {
    "missing": gettext_lazy("events %(missing_from)s to %(missing_to)s are missing before it"),
    "missing_one": gettext_lazy("event %(missing_from)s is missing before it"),
    "sequence": gettext_lazy("its sequence number is out of order (expected event %(expected)s)"),
    "link": gettext_lazy("its link to the previous event does not match"),
    "content": gettext_lazy("its content does not match its hash"),
    "tail_missing": gettext_lazy(
        "the chain head says the log runs to event %(head_seq)s, but it ends at event %(last_seq)s"
    ),
    "head_mismatch": gettext_lazy("the chain head does not match it"),
    "past_head": gettext_lazy("the log runs past the chain head (event %(head_seq)s) to event %(last_seq)s"),
    "unknown_key": gettext_lazy(
        "it moves the chain to key %(key)s, which is neither AUDIT_KEY nor in AUDIT_KEY_FALLBACKS"
    ),
    "key_order": gettext_lazy("it moves the chain back to key %(key)s, which is not newer than the key before it"),
}


class AuditFilterForm(forms.Form):
    actor = forms.CharField(
        label=gettext_lazy("Actor"), required=False, max_length=254,
        help_text=gettext_lazy("E-mail address or user id."),
    )
    object = forms.CharField(
        label=gettext_lazy("Object"), required=False, max_length=130,
        help_text=gettext_lazy("Type and/or id, e.g. org.person, org.person:12 or :12."),
    )
    action = forms.CharField(
        label=gettext_lazy("Action"), required=False, max_length=61,
        help_text=gettext_lazy(
            "Exact, or a prefix: person finds person.created and person.changed; "
            "unit.c* finds all starting with unit.c."
        ),
    )


def _filter_events(events, data: dict):
    """Narrow the events by the cleaned filter values. Each filter matches an
    index that ends in -seq, so the newest-first page stays an index scan."""
    actor = data.get("actor", "").strip()
    if actor:
        if actor.isdigit():
            events = events.filter(actor_id=int(actor))
        else:
            # Resolve the address first, so the events are filtered on the
            # indexed actor_id rather than through a join.
            user_id = get_user_model().objects.filter(email__iexact=actor).values_list("pk", flat=True).first()
            events = events.filter(actor_id=user_id) if user_id is not None else events.none()
    obj = data.get("object", "").strip()
    if obj:
        if ":" in obj:
            object_type, object_id = (part.strip() for part in obj.split(":", 1))
        elif "." in obj:
            object_type, object_id = obj, ""
        else:
            object_type, object_id = "", obj
        if object_type:
            events = events.filter(object_type=object_type)
        if object_id:
            events = events.filter(object_id=object_id)
    action = data.get("action", "").strip()
    if action:
        if action.endswith("*"):
            events = events.filter(action__startswith=action[:-1])
        elif action.endswith("."):
            events = events.filter(action__startswith=action)
        else:
            events = events.filter(Q(action=action) | Q(action__startswith=action + "."))
    return events


def _positive_int(value) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def _verify_message(request) -> None:
    result = verify_chain(checkpoint=True)  # a full check: later PDFs start from here
    if result.ok:
        messages.success(
            request,
            _("The chain holds: %(count)s events, head %(head)s.")
            % {"count": result.checked, "head": result.head_hash[:HASH_PREFIX]},
        )
        return
    problem = result.problem
    if problem == "missing" and result.detail["missing_from"] == result.detail["missing_to"]:
        problem = "missing_one"
    reason = PROBLEM_TEXT[problem] % result.detail
    event = result.bad_event
    if event is None:
        text = _("The chain is broken at event %(seq)s, which is not in the log: %(reason)s.") % {
            "seq": result.first_bad_seq, "reason": reason,
        }
    else:
        text = _("The chain is broken at event %(seq)s (%(time)s, %(action)s): %(reason)s.") % {
            "seq": event.seq,
            "time": timezone.localtime(event.time).strftime("%d.%m.%Y %H:%M:%S"),
            "action": event.action,
            "reason": reason,
        }
    messages.error(request, text)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def audit_log(request):
    """Newest first, in pages of PAGE_SIZE by keyset (?before=<seq> for older,
    ?after=<seq> for newer): no OFFSET and no COUNT(*), so a page costs the
    same on the first day and after ten million events."""
    if not scope.is_admin(request.user):
        raise Http404
    if request.method == "POST":
        # "Verify chain". Back to the same page (filters kept) to show the result.
        _verify_message(request)
        return redirect(request.get_full_path())

    form = AuditFilterForm(request.GET)
    events = AuditEvent.objects.select_related("actor")
    if form.is_valid():
        events = _filter_events(events, form.cleaned_data)
    else:
        # Unfiltered events under a filter the user believes applied would mislead.
        events = events.none()
    before = _positive_int(request.GET.get("before"))
    after = _positive_int(request.GET.get("after"))
    if after is not None and before is None:
        # A page of newer events: the PAGE_SIZE just above `after`, shown newest first.
        rows = list(events.filter(seq__gt=after).order_by("seq")[: PAGE_SIZE + 1])
        has_newer = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE][::-1]
        has_older = True
    else:
        if before is not None:
            events = events.filter(seq__lt=before)
        rows = list(events.order_by("-seq")[: PAGE_SIZE + 1])
        has_older = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE]
        has_newer = before is not None
    for event in rows:
        event.data_json = json.dumps(event.data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        event.hash_prefix = event.hash[:HASH_PREFIX]
    return render(
        request,
        "web/audit_log.html",
        {
            "form": form,
            "events": rows,
            "newer_after": rows[0].seq if rows and has_newer else None,
            "older_before": rows[-1].seq if rows and has_older else None,
            "paged": before is not None or after is not None,
        },
    )
