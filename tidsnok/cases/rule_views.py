"""The deadline rules page: every rule in force with its basis, and for HR
(whole organisation) the organisation's own offsets of the policy rules."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from tidsnok.deadlines import services as deadline_services
from tidsnok.deadlines.queries import overrides_map
from tidsnok.deadlines.rules import CATALOGUE, apply_override
from tidsnok.org import scope


def _may_see(user) -> bool:
    return bool(scope.managed_unit_ids(user)) or scope.is_hr(user) or scope.is_admin(user)


def _may_change(user) -> bool:
    return scope.hr_scope(user) == scope.ALL or scope.is_admin(user)


@login_required
def rule_list(request):
    if not _may_see(request.user):
        raise Http404
    today = timezone.localdate()
    lang = "en" if (get_language() or "nb").startswith("en") else "nb"
    overrides = overrides_map(scope.organisation_id_of(request.user))
    rows = []
    for rule in CATALOGUE:
        if not rule.in_force_on(today):
            continue
        current = apply_override(rule, today, overrides)
        rows.append({"rule": current, "default": rule.offset, "title": current.title(lang), "note": current.note(lang)})
    return render(request, "cases/rules.html", {"rows": rows, "may_change": _may_change(request.user)})


@login_required
@require_POST
def rule_change(request, rule_id: str):
    if not _may_change(request.user):
        raise Http404
    person = scope.person_of(request.user)
    try:
        offset = int(request.POST.get("offset", ""))
        effective = request.POST.get("effective_from") or None
        effective_from = timezone.datetime.fromisoformat(effective).date() if effective else None
        deadline_services.set_rule_offset(request.user, person.organisation, rule_id, offset, effective_from)
    except ValueError:
        messages.error(request, _("Give the number as a whole number and the date as a date."))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("Saved. The change applies to cases that start on or after its date."))
    return redirect("cases:rules")
