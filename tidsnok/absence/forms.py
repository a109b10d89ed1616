"""Forms of sick-leave follow-up. None of them has a place for a diagnosis."""

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tidsnok.absence.models import Certification, MeetingKind, Recipient, WorkRelated
from tidsnok.absence.services import MEETING_PARTICIPANTS

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
NO_DIAGNOSIS = _("Never write a diagnosis or other medical details: tidsnok does not store them.")


class EpisodeForm(forms.Form):
    person = forms.ModelChoiceField(queryset=None, label=_("Employee"), empty_label=_("Choose the employee"))
    start = forms.DateField(label=_("First day of absence"), widget=DATE)
    end = forms.DateField(label=_("Last day"), required=False, widget=DATE,
                          help_text=_("Leave empty while the absence lasts."))
    grade = forms.IntegerField(label=_("Sick-leave grade (%)"), min_value=1, max_value=100, initial=100)
    certified = forms.ChoiceField(label=_("Certified by"), choices=Certification.choices, widget=forms.RadioSelect)
    work_related = forms.ChoiceField(label=_("Work-related"), choices=WorkRelated.choices, initial=WorkRelated.NO,
                                     widget=forms.RadioSelect,
                                     help_text=_("If the job contributes to the absence, something in the job must "
                                                 "change: the case will need a job-side measure."))
    factors = forms.MultipleChoiceField(label=_("Factors involved"), required=False,
                                        widget=forms.CheckboxSelectMultiple)
    open_case = forms.BooleanField(label=_("Open a follow-up case even if the absence is short"), required=False)

    def __init__(self, *args, people, factors, lang="nb", listed=None, **kwargs):
        """`people` may be chosen; `listed` ((id, label) pairs) are those shown, when not all of
        them fit in one list."""
        super().__init__(*args, **kwargs)
        self.fields["person"].queryset = people
        if listed is not None:
            self.fields["person"].choices = [("", self.fields["person"].empty_label), *listed]
        self.fields["factors"].choices = [(f.code, f.name(lang)) for f in factors]
        self.fields["start"].help_text = NO_DIAGNOSIS


class EpisodeEditForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput)
    end = forms.DateField(label=_("Last day"), required=False, widget=DATE)
    certified = forms.ChoiceField(label=_("Certified by"), choices=Certification.choices, widget=forms.RadioSelect)


class GradeForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput)
    from_date = forms.DateField(label=_("From"), widget=DATE)
    grade = forms.IntegerField(label=_("New grade (%)"), min_value=1, max_value=100)


class WorkRelatedForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput)
    level = forms.ChoiceField(label=_("Is the absence work-related?"), choices=WorkRelated.choices,
                              widget=forms.RadioSelect)
    factors = forms.MultipleChoiceField(label=_("Factors involved"), required=False,
                                        widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, factors, lang="nb", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["factors"].choices = [(f.code, f.name(lang)) for f in factors]


class PlanForm(forms.Form):
    """NAV's structure of the follow-up plan (aml § 4-6 (3))."""

    work_tasks_and_capacity = forms.CharField(
        label=_("Work tasks and work capacity"), widget=forms.Textarea,
        help_text=_("What can the employee do, and what not? Describe tasks, not health."))
    employer_measures = forms.CharField(label=_("Adaptation and measures by the employer"), widget=forms.Textarea)
    assisted_measures = forms.CharField(label=_("Measures with help from NAV or others"), widget=forms.Textarea,
                                        required=False)
    further_follow_up = forms.CharField(label=_("Plan for further follow-up"), widget=forms.Textarea)
    made_on = forms.DateField(label=_("Made on"), widget=DATE, initial=timezone.localdate)


class PlanResponseForm(forms.Form):
    approves = forms.TypedChoiceField(
        label=_("Do you agree with the plan?"), coerce=lambda v: v == "yes", widget=forms.RadioSelect,
        choices=[("yes", _("Yes, I agree")), ("no", _("No, I disagree"))])
    comment = forms.CharField(label=_("Your comment"), widget=forms.Textarea, required=False)


class EmployeeAbsentForm(forms.Form):
    reason = forms.CharField(label=_("Why did the employee not take part?"), widget=forms.Textarea)


class PlanSentForm(forms.Form):
    recipient = forms.ChoiceField(label=_("Sent to"), choices=Recipient.choices, widget=forms.RadioSelect)
    sent_on = forms.DateField(label=_("Sent on"), widget=DATE, initial=timezone.localdate)


class MeetingForm(forms.Form):
    kind = forms.ChoiceField(label=_("Meeting"), choices=MeetingKind.choices)
    planned_on = forms.DateField(label=_("Date"), widget=DATE)
    participants = forms.MultipleChoiceField(
        label=_("Participants"), widget=forms.CheckboxSelectMultiple, initial=["employee", "manager"],
        choices=[
            ("employee", _("The employee")), ("manager", _("The manager")), ("doctor", _("The certifying doctor")),
            ("safety_rep", _("Safety representative (if the employee wants)")),
            ("occupational_health", _("Occupational health service")), ("nav", _("NAV")),
        ],
    )

    def clean_participants(self):
        value = self.cleaned_data["participants"]
        assert set(value) <= set(MEETING_PARTICIPANTS)
        return value


class MeetingHeldForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput)
    held_on = forms.DateField(label=_("Held on"), widget=DATE, initial=timezone.localdate)
    minutes = forms.CharField(label=_("Minutes and agreed measures"), widget=forms.Textarea)


class NotRequiredForm(forms.Form):
    deadline = forms.IntegerField(widget=forms.HiddenInput)
    reason = forms.CharField(label=_("Why is it obviously unnecessary?"), widget=forms.Textarea)


class FlagHandledForm(forms.Form):
    note = forms.CharField(label=_("What was done"), widget=forms.Textarea,
                           help_text=_("For example: we had a conversation about how work is going."))


class ImportForm(forms.Form):
    file = forms.FileField(label=_("CSV file from the payroll or HR system"),
                           help_text=_("Columns: ansattnummer, fravaers_id, fra, til, grad, type (egenmelding or "
                                       "sykmelding), arbeidsrelatert (nei, delvis or ja). No diagnosis column."))


class StatisticsForm(forms.Form):
    start = forms.DateField(label=_("From"), widget=DATE, required=False)
    end = forms.DateField(label=_("To"), widget=DATE, required=False)
    unit = forms.ModelChoiceField(queryset=None, label=_("Unit"), required=False, empty_label=_("All I may see"))

    def __init__(self, *args, units, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit"].queryset = units
