"""Forms for the case pages.

The forms only parse input (dates, choices); the rules of the domain live in
services, whose ValidationError is mapped back onto these fields
(`apply_service_errors`). That is why most fields are `required=False`: the
service says what is missing, in one place, for the web pages and the API alike.

People are offered as plain choices built once per page from rows already
loaded through the access policy: a ModelChoiceField would query again for
every form on the case page, and the choice list is itself the access check
(an id outside it is refused).
"""

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.forms.utils import flatatt
from django.utils import timezone
from django.utils.html import conditional_escape, escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from tidsnok.cases.models import (
    MANAGER_KINDS,
    JobSideArea,
    MeasureKind,
    MeasureStatus,
    PartyRole,
    Source,
    Visibility,
)

DATE_INPUT_FORMATS = ["%Y-%m-%d", "%d.%m.%Y", "%d.%m.%y"]

# The ways a manager learns of a case; sick leave and reports arrive through their own rooms.
MANAGER_SOURCES = [
    Source.EMPLOYEE_TOLD, Source.OBSERVED, Source.COLLEAGUE, Source.SAFETY_REP, Source.SURVEY, Source.OTHER,
]
PARTY_ROLES = [PartyRole.ACCUSED, PartyRole.WITNESS, PartyRole.OTHER]


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        # The date input needs ISO in its value; the browser shows it as dd.mm.yyyy.
        super().__init__(attrs=attrs, format="%Y-%m-%d")


def date_field(label, **kwargs):
    kwargs.setdefault("required", False)
    kwargs.setdefault("help_text", _("dd.mm.yyyy"))
    return forms.DateField(label=label, input_formats=DATE_INPUT_FORMATS, widget=DateInput(), **kwargs)


def text_field(label, **kwargs):
    kwargs.setdefault("required", False)
    return forms.CharField(label=label, widget=forms.Textarea(attrs={"rows": 4}), max_length=20000, **kwargs)


VISIBILITY_CHOICES = [
    (Visibility.SHARED.value, _("Shared: the concerned employee can read it")),
    (Visibility.INTERNAL.value, _("Internal: only those handling the case")),
]


def visibility_field(**kwargs):
    return forms.ChoiceField(
        label=_("Who may read it"), choices=VISIBILITY_CHOICES, widget=forms.RadioSelect, **kwargs
    )


def apply_service_errors(form, error: ValidationError, field_map: dict | None = None) -> None:
    """Put a service's ValidationError on the form: per field where the form has
    that field, the rest at the top of the form."""
    field_map = field_map or {}
    if not hasattr(error, "error_dict"):
        for message in error.messages:
            form.add_error(None, message)
        return
    for key, messages in error.message_dict.items():
        name = field_map.get(key, key)
        if name not in form.fields:
            name = None
        for message in messages:
            form.add_error(name, message)


class Form(forms.Form):
    """A form without a colon after each label: most labels here are questions."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class QuickSelect(forms.Select):
    """A <select> of plain (value, label) choices written in Python. Django renders each option
    through its own template, about 0.5 ms apiece: two lists of 60 people were a third of the risk
    assessment page's time at 50,000 employees. The same markup: the attributes the bound field
    gives (id, aria-describedby, aria-invalid) on the select, `selected` on the chosen option.
    Grouped choices are left to Django."""

    def render(self, name, value, attrs=None, renderer=None):
        if any(isinstance(label, (list, tuple)) for _value, label in self.choices):
            return super().render(name, value, attrs, renderer)
        chosen = set(self.format_value(value))
        options = []
        for option_value, label in self.choices:
            option_value = "" if option_value is None else str(option_value)
            selected = " selected" if option_value in chosen else ""
            options.append(f'<option value="{escape(option_value)}"{selected}>{conditional_escape(label)}</option>')
        final_attrs = self.build_attrs(self.attrs, attrs)
        return mark_safe(f'<select name="{escape(name)}"{flatatt(final_attrs)}>\n' + "\n".join(options) + "\n</select>")


class PersonChoices:
    """People offered on a page, as (id, label) choices, with the rows to map back."""

    def __init__(self, people_with_labels):
        self.people = {}
        self.choices = []
        for person, label in people_with_labels:
            if person.pk not in self.people:
                self.people[person.pk] = person
                self.choices.append((str(person.pk), label))

    def get(self, value):
        try:
            return self.people.get(int(value))
        except (TypeError, ValueError):
            return None


# --- opening a case -----------------------------------------------------------------------------


class NewCaseForm(Form):
    unit = forms.IntegerField(widget=forms.HiddenInput)
    kind = forms.ChoiceField(
        label=_("What kind of case is it?"), required=False, widget=forms.RadioSelect,
        choices=[(k.value, k.label) for k in MANAGER_KINDS],
    )
    concerns = forms.MultipleChoiceField(
        label=_("Who does it concern?"), required=False, widget=forms.CheckboxSelectMultiple,
        help_text=_("The employee or employees the case is about."),
    )
    factors = forms.MultipleChoiceField(
        label=_("Which factors are involved?"), required=False, widget=forms.CheckboxSelectMultiple,
        help_text=_("The psychosocial factors in the law. Choose those that fit; you can confirm them in the assessment."),
    )
    description = text_field(_("What happened?"), help_text=_("Facts: what you were told or saw. No diagnoses."))
    source = forms.ChoiceField(
        label=_("How did you learn of it?"), required=False,
        choices=[("", _("Choose…"))] + [(s.value, s.label) for s in MANAGER_SOURCES],
    )
    known_at = date_field(_("When did you first know?"),
                          help_text=_("dd.mm.yyyy. The deadlines run from this date."))
    known_at_reason = text_field(_("Why is it registered only now?"))

    def __init__(self, *args, people: PersonChoices, factors, **kwargs):
        super().__init__(*args, **kwargs)
        self.people = people
        self.fields["concerns"].choices = people.choices
        self.fields["factors"].choices = [(f.code, f.code) for f in factors]
        self.fields["known_at_reason"].help_text = _(
            "Required if you first knew more than %(days)d days ago."
        ) % {"days": settings.TIDSNOK_KNOWN_AT_REASON_DAYS}
        if not self.is_bound:
            self.initial.setdefault("known_at", timezone.localdate())

    def concerned_people(self):
        return [self.people.get(pk) for pk in self.cleaned_data.get("concerns", [])]


class PartyForm(Form):
    person = forms.ChoiceField(label=_("Person"), required=False)
    role = forms.ChoiceField(
        label=_("Role in the case"), required=False,
        choices=[("", _("Choose…"))] + [(r.value, r.label) for r in PARTY_ROLES],
    )

    def __init__(self, *args, people: PersonChoices, **kwargs):
        super().__init__(*args, **kwargs)
        self.people = people
        self.fields["person"].choices = [("", _("Nobody"))] + people.choices

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("person") and not cleaned.get("role"):
            self.add_error("role", _("Choose the person's role in the case."))
        return cleaned

    def party(self):
        person = self.people.get(self.cleaned_data.get("person"))
        return (person, self.cleaned_data["role"]) if person else None


PartyFormSet = forms.formset_factory(PartyForm, extra=3, max_num=3, validate_max=True)


# --- entries on a case --------------------------------------------------------------------------


class EntryForm(Form):
    """The fields every handler entry has; subclasses add theirs and `payload()`."""

    occurred_on = date_field(_("Date it happened"))
    text = text_field(_("What happened"))

    def __init__(self, *args, context=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.context = context
        if not self.is_bound:
            self.initial.setdefault("occurred_on", timezone.localdate())

    def payload(self) -> dict:
        """Keyword arguments for services.add_entry beyond kind and occurred_on."""
        return {"text": self.cleaned_data.get("text", "")}

    def service_kwargs(self) -> dict:
        return {"occurred_on": self.cleaned_data.get("occurred_on"), **self.payload()}


class SharedEntryForm(EntryForm):
    visibility = visibility_field()

    def payload(self):
        return {**super().payload(), "visibility": self.cleaned_data["visibility"]}


class ConversationForm(SharedEntryForm):
    participants = forms.MultipleChoiceField(
        label=_("Who took part?"), required=False, widget=forms.CheckboxSelectMultiple,
    )
    about = forms.ChoiceField(
        label=_("Which party is it about?"), required=False,
        help_text=_("A shared entry about one party is shown to that party only."),
    )
    field_order = ["occurred_on", "participants", "text", "about", "visibility"]

    def __init__(self, *args, context, **kwargs):
        super().__init__(*args, context=context, **kwargs)
        self.fields["text"].label = _("Summary of the conversation")
        self.fields["participants"].choices = context.participants.choices
        self.fields["about"].choices = [("", _("The case as a whole"))] + context.parties.choices

    def payload(self):
        return {
            **super().payload(),
            "data": {"participants": [int(p) for p in self.cleaned_data.get("participants", [])]},
            "about": self.context.parties.get(self.cleaned_data.get("about")),
        }


HEALTH_RISK_CHOICES = [("low", _("Low")), ("medium", _("Medium")), ("high", _("High"))]
WORK_RELATED_CHOICES = [("yes", _("Yes")), ("no", _("No")), ("uncertain", _("Uncertain"))]


class AssessmentForm(SharedEntryForm):
    health_risk = forms.ChoiceField(label=_("Risk to health"), required=False, widget=forms.RadioSelect,
                                    choices=HEALTH_RISK_CHOICES)
    work_related = forms.ChoiceField(label=_("Is it work-related?"), required=False, widget=forms.RadioSelect,
                                     choices=WORK_RELATED_CHOICES)
    affects_work_ability = forms.BooleanField(label=_("It affects the ability to work"), required=False)
    affects_several = forms.BooleanField(label=_("It affects several people in the team"), required=False)
    factors_confirmed = forms.MultipleChoiceField(
        label=_("Factors confirmed by the assessment"), required=False, widget=forms.CheckboxSelectMultiple,
    )
    field_order = ["occurred_on", "health_risk", "work_related", "affects_work_ability", "affects_several",
                   "factors_confirmed", "text", "visibility"]

    def __init__(self, *args, context, **kwargs):
        super().__init__(*args, context=context, **kwargs)
        self.fields["text"].label = _("What the assessment is based on")
        self.fields["factors_confirmed"].choices = context.factor_choices

    def payload(self):
        data = {key: self.cleaned_data.get(key) for key in (
            "health_risk", "work_related", "affects_work_ability", "affects_several", "factors_confirmed",
        )}
        return {**super().payload(), "data": data}


class FollowUpForm(SharedEntryForm):
    measure = forms.ChoiceField(label=_("Which measure is followed up?"), required=False)
    field_order = ["occurred_on", "measure", "text", "visibility"]

    def __init__(self, *args, context, **kwargs):
        super().__init__(*args, context=context, **kwargs)
        self.fields["text"].label = _("What effect has it had?")
        self.fields["measure"].choices = [("", _("The case as a whole"))] + context.measure_choices

    def payload(self):
        return {**super().payload(), "measure": self.context.measures.get(self._measure_id())}

    def _measure_id(self):
        value = self.cleaned_data.get("measure")
        return int(value) if value else None


class DecisionForm(SharedEntryForm):
    def __init__(self, *args, context, **kwargs):
        super().__init__(*args, context=context, **kwargs)
        self.fields["text"].label = _("What was decided, and why")


class ConclusionForm(SharedEntryForm):
    def __init__(self, *args, context, **kwargs):
        super().__init__(*args, context=context, **kwargs)
        self.fields["text"].label = _("The conclusion, and what it is based on")


class NoteForm(EntryForm):
    def __init__(self, *args, context, **kwargs):
        super().__init__(*args, context=context, **kwargs)
        self.fields["text"].label = _("Note")
        self.fields["text"].help_text = _("Internal: only those handling the case can read it.")


# --- measures -----------------------------------------------------------------------------------


class MeasureForm(Form):
    what = text_field(_("What is the measure?"))
    kind = forms.ChoiceField(
        label=_("Type of measure"), required=False, widget=forms.RadioSelect,
        choices=MeasureKind.choices,
        help_text=_("Organisational (job-side) measures change the work itself: workload, tasks, hours, "
                    "organisation. Individual measures support the person."),
    )
    area = forms.ChoiceField(label=_("Area"), required=False,
                             choices=[("", _("Not given"))] + list(JobSideArea.choices))
    owner = forms.ChoiceField(label=_("Who owns the measure?"), required=False)
    due = date_field(_("Due date"))
    visibility = visibility_field()

    def __init__(self, *args, context, **kwargs):
        super().__init__(*args, **kwargs)
        self.context = context
        self.fields["owner"].choices = [("", _("Choose…"))] + context.owners.choices
        if not self.is_bound:
            self.initial.setdefault("visibility", Visibility.SHARED.value)

    def service_kwargs(self):
        c = self.cleaned_data
        return {
            "what": c.get("what", ""), "kind": c.get("kind", ""), "area": c.get("area", ""),
            "owner": self.context.owners.get(c.get("owner")), "due": c.get("due"), "visibility": c["visibility"],
        }


class MeasureStatusForm(Form):
    status = forms.ChoiceField(label=_("New status"), choices=MeasureStatus.choices)
    cancel_reason = forms.CharField(
        label=_("Reason for cancelling"), required=False, max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2}), help_text=_("Required when the measure is cancelled."),
    )
    version = forms.IntegerField(widget=forms.HiddenInput)

    def service_kwargs(self):
        changes = {"status": self.cleaned_data["status"]}
        if self.cleaned_data.get("cancel_reason"):
            changes["cancel_reason"] = self.cleaned_data["cancel_reason"]
        return changes


# --- the case as a whole ------------------------------------------------------------------------


class CloseForm(Form):
    evaluation = text_field(
        _("Final evaluation"), help_text=_("What was done, what effect it had, and what is needed from here."),
    )
    version = forms.IntegerField(widget=forms.HiddenInput)


class ReopenForm(Form):
    reason = text_field(_("Why is the case reopened?"))
    version = forms.IntegerField(widget=forms.HiddenInput)


class AskHrForm(Form):
    note = text_field(_("What are you unsure of?"), help_text=_("HR is involved and gets your note."))


class WaiveForm(Form):
    reason = forms.CharField(label=_("Why is the deadline waived?"), required=False, max_length=5000,
                             widget=forms.Textarea(attrs={"rows": 2}))


class AddHandlerForm(Form):
    person = forms.ChoiceField(label=_("Person"), required=False)
    reason = text_field(_("Why is the person added?"))

    def __init__(self, *args, candidates: PersonChoices, **kwargs):
        super().__init__(*args, **kwargs)
        self.candidates = candidates
        self.fields["person"].choices = [("", _("Choose…"))] + candidates.choices


# --- the concerned employee ---------------------------------------------------------------------


class CommentForm(Form):
    text = text_field(_("Your comment"))


class MeasureResponseForm(Form):
    agrees = forms.ChoiceField(
        label=_("Do you agree with the measure?"), widget=forms.RadioSelect,
        choices=[("yes", _("Yes, I agree")), ("no", _("No, I do not agree"))],
        error_messages={"required": _("Say whether you agree with the measure.")},
    )
    comment = text_field(_("Comment (optional)"))
