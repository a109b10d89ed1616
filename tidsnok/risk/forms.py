"""Forms for the risk assessment pages.

As in the case pages (tidsnok.cases.forms), the forms only parse input: dates (dd.mm.yyyy or
ISO), choices and numbers. What is missing or wrong by the rules is said by tidsnok.risk.services,
whose ValidationError is put back on these fields (apply_service_errors), in one place for the
pages and the API alike. That is why most fields are not required here.

People and risks are offered as choices built once per page from rows already read through the
access policy (PersonChoices): an id outside the list is refused, so the list is itself the check.
"""

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tidsnok.cases.forms import Form, PersonChoices, QuickSelect, apply_service_errors, date_field, text_field
from tidsnok.cases.models import MeasureStatus
from tidsnok.risk import rules
from tidsnok.risk.models import Consequence, Likelihood, Method, ParticipantRole

__all__ = [
    "ActionChangeForm", "ActionForm", "ActionStatusForm", "CommentForm", "CompleteForm", "HeadForm",
    "ParticipantForm", "PersonChoices", "ReviewForm", "RiskEditForm", "RiskForm", "StartForm",
    "apply_service_errors",
]

TITLE_MAX = 200
# The factor choice for a risk outside the organisation's catalogue.
OTHER_FACTOR = "other"


def _choose(choices) -> list:
    return [("", _("Choose…"))] + list(choices)


def _title_field():
    return forms.CharField(label=_("Title"), required=False, max_length=TITLE_MAX,
                           help_text=_("For example the year, or what the round is about."))


def _method_field():
    return forms.ChoiceField(label=_("How was the work environment mapped?"), required=False,
                             widget=forms.RadioSelect, choices=Method.choices)


def _version_field():
    return forms.IntegerField(widget=forms.HiddenInput)


# --- the assessment -----------------------------------------------------------------------------


class StartForm(Form):
    """Starting an assessment. The unit list is rendered by the template (it may hold thousands
    of units for HR); the form only checks that the chosen one is among them."""

    unit = forms.CharField(label=_("Unit"), required=False)
    title = _title_field()
    method = _method_field()
    started_on = date_field(_("Started on"))

    def __init__(self, *args, units, **kwargs):
        super().__init__(*args, **kwargs)
        self.units = units
        if not self.is_bound:
            today = timezone.localdate()
            self.initial.setdefault("started_on", today)
            self.initial.setdefault("title", _("Mapping and risk assessment %(year)d") % {"year": today.year})

    def clean_unit(self):
        value = self.cleaned_data.get("unit", "")
        unit = self.units.filter(pk=int(value)).first() if str(value).isdigit() else None
        if unit is None:
            raise forms.ValidationError(_("Choose the unit the assessment is for."))
        return unit


class HeadForm(Form):
    title = _title_field()
    method = _method_field()
    started_on = date_field(_("Started on"))
    version = _version_field()


class CompleteForm(Form):
    summary = text_field(_("Conclusion"), help_text=_(
        "What the mapping found, which risks matter most, and what the action plan does about them."))
    completed_on = date_field(_("Completed on"))
    review_due = date_field(_("Next review"))
    version = _version_field()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["review_due"].help_text = _(
            "dd.mm.yyyy. At the latest a year after completion (%(basis)s); choose an earlier date if the unit "
            "changes."
        ) % {"basis": rules.REVIEW_BASIS}
        if not self.is_bound:
            today = timezone.localdate()
            self.initial.setdefault("completed_on", today)
            self.initial.setdefault("review_due", rules.default_review_due(today))


class ReviewForm(Form):
    review_due = date_field(_("Next review"))
    version = _version_field()


# --- the risk register --------------------------------------------------------------------------


class RiskForm(Form):
    factor = forms.ChoiceField(label=_("Factor"), required=False)
    description = text_field(_("What may happen?"),
                             help_text=_("Describe the work and its conditions, never a person."))
    likelihood = forms.TypedChoiceField(label=_("How likely is it?"), required=False, coerce=int, empty_value=None,
                                        widget=forms.RadioSelect, choices=Likelihood.choices)
    consequence = forms.TypedChoiceField(label=_("How bad would it be?"), required=False, coerce=int,
                                         empty_value=None, widget=forms.RadioSelect, choices=Consequence.choices)
    current_measures = text_field(_("What is already done?"))

    def __init__(self, *args, factors, lang: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["factor"].choices = _choose(
            [(f.code, f.name(lang)) for f in factors] + [(OTHER_FACTOR, _("Other (not in the catalogue)"))]
        )

    def clean_factor(self):
        value = self.cleaned_data.get("factor", "")
        if not value:
            # Said here: the service takes an empty factor to mean "other", a choice she must make.
            raise forms.ValidationError(_("Choose the factor, or Other."))
        return value

    def service_kwargs(self) -> dict:
        c = self.cleaned_data
        factor = c.get("factor")
        return {
            "factor_code": None if factor == OTHER_FACTOR else factor,
            "description": c.get("description", ""),
            "likelihood": c.get("likelihood"),
            "consequence": c.get("consequence"),
            "current_measures": c.get("current_measures", ""),
        }


class RiskEditForm(RiskForm):
    version = _version_field()


# --- the action plan ----------------------------------------------------------------------------


class ActionForm(Form):
    what = text_field(_("What is the measure?"))
    risk = forms.ChoiceField(label=_("Which risk does it answer?"), required=False)
    owner = forms.ChoiceField(label=_("Who owns the measure?"), required=False, widget=QuickSelect)
    due = date_field(_("Due date"))

    def __init__(self, *args, people: PersonChoices, risks: dict, **kwargs):
        """`risks`: {str(pk): (label, Risk)} of the assessment's register, in order."""
        super().__init__(*args, **kwargs)
        self.people = people
        self.risks = risks
        self.fields["owner"].choices = _choose(people.choices)
        self.fields["risk"].choices = [("", _("None in particular"))] + [
            (key, label) for key, (label, _risk) in risks.items()
        ]

    def chosen_risk(self):
        found = self.risks.get(self.cleaned_data.get("risk") or "")
        return found[1] if found else None

    def service_kwargs(self) -> dict:
        c = self.cleaned_data
        return {"what": c.get("what", ""), "owner": self.people.get(c.get("owner")), "due": c.get("due"),
                "risk": self.chosen_risk()}


class ActionStatusForm(Form):
    """The owner of a measure sets its status (and says why when she cancels it)."""

    status = forms.ChoiceField(label=_("Status"), choices=MeasureStatus.choices)
    cancel_reason = forms.CharField(
        label=_("Reason for cancelling"), required=False, max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2}), help_text=_("Required when the measure is cancelled."),
    )
    version = _version_field()

    def changes(self, action) -> dict:
        changes = {}
        c = self.cleaned_data
        if c["status"] != action.status or (c["status"] == MeasureStatus.CANCELLED
                                            and c.get("cancel_reason", "") != action.cancel_reason):
            changes["status"] = c["status"]
            if c.get("cancel_reason"):
                changes["cancel_reason"] = c["cancel_reason"]
        return changes


class ActionChangeForm(ActionForm):
    """Those who change the assessment change all of a measure."""

    status = ActionStatusForm.base_fields["status"]
    cancel_reason = ActionStatusForm.base_fields["cancel_reason"]
    version = _version_field()

    def changes(self, action) -> dict:
        """Only what differs from the measure as it was: the service writes each given field to the
        audit log, tells a new owner, and gives a new due date its own reminders."""
        wanted = self.service_kwargs()
        changes = {}
        if wanted["what"].strip() != action.what:
            changes["what"] = wanted["what"]
        if wanted["owner"] is None or wanted["owner"].pk != action.owner_id:
            changes["owner"] = wanted["owner"]
        if wanted["due"] != action.due:
            changes["due"] = wanted["due"]
        if (wanted["risk"].pk if wanted["risk"] else None) != action.risk_id:
            changes["risk"] = wanted["risk"]
        changes.update(ActionStatusForm.changes(self, action))
        return changes


# --- participation ------------------------------------------------------------------------------


class ParticipantForm(Form):
    person = forms.ChoiceField(label=_("Who took part?"), required=False, widget=QuickSelect)
    role = forms.ChoiceField(label=_("Took part as"), required=False)
    took_part_on = date_field(_("Took part on"))

    def __init__(self, *args, people: PersonChoices, **kwargs):
        super().__init__(*args, **kwargs)
        self.people = people
        self.fields["person"].choices = _choose(people.choices)
        self.fields["role"].choices = _choose(ParticipantRole.choices)
        if not self.is_bound:
            self.initial.setdefault("took_part_on", timezone.localdate())

    def service_kwargs(self) -> dict:
        c = self.cleaned_data
        return {"person": self.people.get(c.get("person")), "role": c.get("role", ""),
                "took_part_on": c.get("took_part_on")}


class CommentForm(Form):
    text = text_field(_("Your comment"), help_text=_(
        "Everyone who reads the assessment sees your comment, with your name and role."))
