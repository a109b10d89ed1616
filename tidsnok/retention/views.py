from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from tidsnok.access.policy import AccessDenied
from tidsnok.org import scope
from tidsnok.retention import services
from tidsnok.retention.forms import RuleForm
from tidsnok.retention.models import DataClass, Mode
from tidsnok.versioning import StaleVersion

# What each class holds and what its period is counted from, for the page.
EXPLANATIONS = {
    DataClass.PSYCHOSOCIAL: gettext_lazy("Psychosocial concerns, conflicts and violence or threat incidents, with their "
                              "entries, measures and deadlines. Counted from the day the case was closed."),
    DataClass.HARASSMENT: gettext_lazy("Harassment and retaliation cases, with their entries, measures and deadlines. "
                            "Counted from the day the case was closed."),
    DataClass.SICK_LEAVE: gettext_lazy("Sick-leave follow-up cases with their absence episodes, follow-up plan versions and "
                            "dialogue meetings. Counted from the day the case was closed."),
    DataClass.EPISODES: gettext_lazy("Absence episodes that never led to a follow-up case. Counted from the last day of "
                          "absence; an episode without a last day is never reached."),
    DataClass.PROMPTS: gettext_lazy("Frequent-absence prompts to managers and what was done about them. Counted from "
                                    "the day the prompt was handled; one still waiting is never reached."),
    DataClass.WHISTLEBLOWING: gettext_lazy("Whistleblowing reports with their messages, attachments and retaliation watch. "
                                "Counted from the day the case was closed; kept while a retaliation watch runs."),
    DataClass.RISK: gettext_lazy("A unit's risk assessments with their risks, action plans, participants, comments and "
                                 "survey counts. Counted from the day a newer assessment of the unit was completed; the "
                                 "unit's latest completed assessment is never reached."),
}


def _initial(rule, data_class):
    if rule is None:
        return {"data_class": data_class, "months": None, "mode": Mode.DELETE, "version": 0}
    return {"data_class": data_class, "months": rule.months, "mode": rule.mode, "version": rule.version}


@login_required
@require_http_methods(["GET", "POST"])
def policy(request):
    """The retention policy: administrators set it, HR for the whole organisation reads it."""
    user = request.user
    if not services.may_view(user):
        raise Http404
    editable = services.may_edit(user)
    organisation = scope.person_of(user).organisation
    bound = None
    if request.method == "POST":
        if not editable:
            raise Http404
        bound = RuleForm(request.POST, auto_id=f"id_{request.POST.get('data_class', '')}_%s")
        if bound.is_valid():
            data = bound.cleaned_data
            try:
                services.set_rule(user, organisation, data["data_class"], months=data["months"], mode=data["mode"],
                                  version=data["version"])
            except AccessDenied:
                raise Http404
            except StaleVersion as exc:
                bound.add_error(None, str(exc))
            except ValidationError as exc:
                for name, errors in exc.message_dict.items():
                    bound.add_error(name if name in bound.fields else None, errors)
            else:
                flash.success(request, _("The retention rule is saved."))
                return redirect("retention:policy")
    rows = []
    for row in services.policy_of(organisation, timezone.localdate()):
        data_class, rule = DataClass(row.data_class), row.rule
        if bound is not None and bound.data.get("data_class") == data_class.value:
            form = bound
        else:
            form = RuleForm(initial=_initial(rule, data_class.value), auto_id=f"id_{data_class.value}_%s")
        rows.append({
            "data_class": data_class, "explanation": EXPLANATIONS[data_class],
            "rule": rule if rule is not None and rule.months is not None else None, "changed": rule,
            "minimum": row.minimum, "outcome": row.outcome, "form": form,
            "counts": services.unit_of(data_class),
        })
    return render(request, "retention/policy.html", {"rows": rows, "editable": editable})
