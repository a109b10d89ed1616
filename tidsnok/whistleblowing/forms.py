"""Forms of the reporting channel and of the handlers' pages.

Forms only parse input; the rules live in services, whose ValidationError is
put back on the fields (cases.forms.apply_service_errors).
"""

from django import forms
from django.utils.translation import gettext_lazy as _

from tidsnok.cases.forms import DATE_INPUT_FORMATS, DateInput, Form, apply_service_errors  # noqa: F401
from tidsnok.cases.models import MANAGER_KINDS, Kind
from tidsnok.whistleblowing import attachments
from tidsnok.whistleblowing.models import Anonymity, Assessment, Category

CATEGORY_HELP = {
    Category.WORK_ENVIRONMENT: _("For example bullying, a culture of fear, unsafe workload, conflicts left unhandled."),
    Category.HARASSMENT: _("Sexual or other harassment, or discrimination."),
    Category.HEALTH_SAFETY: _("Danger to the life or health of employees, patients, pupils or others."),
    Category.FINANCIAL_CRIME: _("Corruption, fraud, embezzlement, bribes, breaches of procurement rules."),
    Category.ABUSE_OF_AUTHORITY: _("Decisions taken for the wrong reasons, favouritism, misuse of a position."),
    Category.DATA_SECURITY: _("Personal data handled unlawfully, information security neglected."),
    Category.OTHER: _("Other breaches of law, ethical guidelines or norms most people agree on."),
}
ANONYMITY_HELP = {
    Anonymity.NAMED: _("Your name is on the report. You are protected against retaliation."),
    Anonymity.CONFIDENTIAL: _(
        "Only those handling the report know who you are. You are protected against retaliation."
    ),
    Anonymity.ANONYMOUS: _(
        "Nobody, not even tidsnok, knows who you are. You get a receipt to read answers and add information. "
        "We cannot protect you as well if we do not know who you are."
    ),
}


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": attachments.ACCEPT}))
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        if isinstance(data, (list, tuple)):
            return [f for f in data if f]
        return [data] if data else []


class ChoiceWithHelp(forms.RadioSelect):
    """Radio buttons with a line of help under each choice (templates read `help`)."""

    option_template_name = "whistleblowing/_radio_option.html"

    def __init__(self, *args, help_texts=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.help_texts = help_texts or {}

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        option["help"] = self.help_texts.get(value, "")
        if option["help"] and option["attrs"].get("id"):
            option["help_id"] = f"{option['attrs']['id']}-help"
            option["attrs"]["aria-describedby"] = option["help_id"]
        return option


class ReportForm(Form):
    organisation = forms.CharField(
        label=_("Organisation number of your employer"), max_length=20, required=False,
        help_text=_("Nine digits. Ask your employer, or find it in the Brønnøysund Register Centre."),
    )
    category = forms.ChoiceField(
        label=_("What is the report about?"), choices=Category.choices, required=False,
        widget=ChoiceWithHelp(help_texts=CATEGORY_HELP),
    )
    description = forms.CharField(
        label=_("What happened?"), required=False, max_length=20000,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=_("Describe what you saw or experienced, as concretely as you can."),
    )
    when = forms.CharField(
        label=_("When did it happen?"), required=False, max_length=2000,
        help_text=_("A date, a period, or whether it is still going on."),
    )
    involved = forms.CharField(
        label=_("Who is involved?"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Names or roles of those involved, and of any witnesses. Anyone you name who would otherwise "
                    "handle reports is kept out of handling yours."),
    )
    anonymity = forms.ChoiceField(
        label=_("Do you want to give your name?"), choices=Anonymity.choices, required=False,
        widget=ChoiceWithHelp(help_texts=ANONYMITY_HELP),
    )
    attachments = MultipleFileField(label=_("Attachments (optional)"), help_text=attachments.HELP)

    def __init__(self, *args, ask_organisation=False, **kwargs):
        super().__init__(*args, **kwargs)
        if not ask_organisation:
            del self.fields["organisation"]


class ReceiptForm(Form):
    receipt = forms.CharField(
        label=_("Your receipt"), max_length=80, required=False,
        help_text=_("The 24 characters you got when you sent the report, for example ABCD-EFGH-JKMN-PQRS-TVWX-YZ12."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"}),
    )


class ReporterMessageForm(Form):
    body = forms.CharField(label=_("Your message"), required=False, max_length=20000,
                           widget=forms.Textarea(attrs={"rows": 5}))
    attachments = MultipleFileField(label=_("Attachments (optional)"), help_text=attachments.HELP)


class ConsentForm(Form):
    consent = forms.ChoiceField(
        label=_("May your report be followed up as a personal matter?"),
        choices=[("yes", _("Yes, follow it up with my manager or HR")), ("no", _("No"))],
        widget=forms.RadioSelect, required=False,
    )


class ClaimForm(Form):
    description = forms.CharField(
        label=_("What happened to you?"), required=False, max_length=20000, widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("For example changed shifts or tasks, a warning, being left out, threats. HR follows it up at "
                    "once, as a case of its own."),
    )


# --- handlers ---------------------------------------------------------------------------------------


class MessageForm(Form):
    body = forms.CharField(label=_("Message to the reporter"), required=False, max_length=20000,
                           widget=forms.Textarea(attrs={"rows": 5}))
    feedback = forms.BooleanField(
        label=_("This is feedback on how the report is followed up"), required=False,
        help_text=_("Feedback meets the deadline for feedback to the reporter."),
    )


class NoteForm(Form):
    text = forms.CharField(label=_("Internal note"), required=False, max_length=20000,
                           widget=forms.Textarea(attrs={"rows": 4}),
                           help_text=_("Only those handling the report read it. The reporter never does."))


class StepForm(Form):
    occurred_on = forms.DateField(label=_("When"), required=False, input_formats=DATE_INPUT_FORMATS,
                                  widget=DateInput(), help_text=_("dd.mm.yyyy"))
    text = forms.CharField(label=_("What was done"), required=False, max_length=20000,
                           widget=forms.Textarea(attrs={"rows": 4}),
                           help_text=_("An interview, documents gathered, an expert consulted, ..."))


class ConclusionForm(Form):
    text = forms.CharField(label=_("Conclusion"), required=False, max_length=20000,
                           widget=forms.Textarea(attrs={"rows": 4}),
                           help_text=_("What the investigation found. Decide measures on the timeline page."))


class AssessmentForm(Form):
    assessment = forms.ChoiceField(
        label=_("Assessment"), required=False, widget=forms.RadioSelect,
        choices=[(Assessment.WHISTLEBLOWING.value, Assessment.WHISTLEBLOWING.label),
                 (Assessment.PERSONAL_GRIEVANCE.value, Assessment.PERSONAL_GRIEVANCE.label)],
    )
    reasoning = forms.CharField(label=_("Reasons"), required=False, max_length=20000,
                                widget=forms.Textarea(attrs={"rows": 4}))
    version = forms.IntegerField(widget=forms.HiddenInput)


class RecordConsentForm(Form):
    consent = forms.ChoiceField(
        label=_("The reporter's answer"), required=False, widget=forms.RadioSelect,
        choices=[("yes", _("Consents to the redirection")), ("no", _("Does not consent"))],
    )


class RedirectForm(Form):
    kind = forms.ChoiceField(label=_("Kind of case"), required=False,
                             choices=[(k.value, k.label) for k in MANAGER_KINDS], initial=Kind.PSYCHOSOCIAL)
    note = forms.CharField(label=_("What the new case is about"), required=False, max_length=20000,
                           widget=forms.Textarea(attrs={"rows": 4}),
                           help_text=_("Seen by those who handle the new case: write only what the reporter "
                                       "agreed to pass on."))


class CloseForm(Form):
    feedback = forms.CharField(label=_("Feedback to the reporter"), required=False, max_length=20000,
                               widget=forms.Textarea(attrs={"rows": 5}),
                               help_text=_("What was done and the outcome, as far as you can tell the reporter."))
    evaluation = forms.CharField(label=_("Final evaluation (internal)"), required=False, max_length=20000,
                                 widget=forms.Textarea(attrs={"rows": 4}))
    version = forms.IntegerField(widget=forms.HiddenInput)


class ExcludeForm(Form):
    person = forms.TypedChoiceField(label=_("Who cannot handle the report"), coerce=int, required=False,
                                    empty_value=None)
    reason = forms.CharField(label=_("Why"), required=False, max_length=2000,
                             widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, people=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["person"].choices = [("", "–")] + [(p.pk, p.name) for p in people]


class CheckForm(Form):
    grounds = forms.CharField(label=_("Objective grounds for the change"), required=False, max_length=20000,
                              widget=forms.Textarea(attrs={"rows": 4}))
    decided_by = forms.TypedChoiceField(label=_("Who decided the change"), coerce=int, required=False,
                                        empty_value=None)
    outcome = forms.ChoiceField(
        label=_("Outcome"), required=False, widget=forms.RadioSelect,
        choices=[("objective_grounds", _("The change has objective grounds independent of the report")),
                 ("retaliation_suspected", _("Retaliation is suspected: open a retaliation case"))],
    )
    version = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args, people=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["decided_by"].choices = [("", "–")] + [(p.pk, p.name) for p in people]


# --- settings and routines -----------------------------------------------------------------------


class SettingsForm(Form):
    protection_months = forms.IntegerField(
        label=_("Protection against retaliation (months)"), required=False,
        help_text=_("How long a reporter is watched for adverse changes. Policy default: 12 months."),
    )
    acknowledge_days = forms.IntegerField(
        label=_("Acknowledge receipt within (days)"), required=False,
        help_text=_("Policy default: 7 days, from EU directive 2019/1937 (not Norwegian law)."),
    )
    feedback_months = forms.IntegerField(
        label=_("Feedback to the reporter within (months)"), required=False,
        help_text=_("The law asks for an investigation within reasonable time (aml § 2 A-3). Policy default: 3 "
                    "months, from EU directive 2019/1937."),
    )


class HandlerForm(Form):
    person = forms.TypedChoiceField(label=_("Person"), coerce=int, required=False, empty_value=None)

    def __init__(self, *args, people=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["person"].choices = [("", "–")] + [(p.pk, f"{p.name}, {p.unit.name}") for p in people]


class RoutineForm(Form):
    encouragement = forms.CharField(label=_("1. Encouragement to report"), required=False, max_length=20000,
                                    widget=forms.Textarea(attrs={"rows": 8}))
    how_to_report = forms.CharField(label=_("2. How to report, internally and externally"), required=False,
                                    max_length=20000, widget=forms.Textarea(attrs={"rows": 8}))
    handling = forms.CharField(label=_("3. How reports are received, handled and followed up"), required=False,
                               max_length=20000, widget=forms.Textarea(attrs={"rows": 8}))
    version = forms.IntegerField(widget=forms.HiddenInput)


CAPACITY_CHOICES = [
    ("employee", _("Employee")),
    ("union_rep", _("Union representative")),
    ("safety_rep", _("Safety representative")),
    ("amu", _("Working environment committee (AMU)")),
    ("other", _("Other")),
]


class ParticipationForm(Form):
    who = forms.CharField(label=_("Who took part"), required=False, max_length=200,
                          help_text=_("Names, or for example \"all employees at a staff meeting\"."))
    capacity = forms.ChoiceField(label=_("Capacity"), choices=CAPACITY_CHOICES, required=False)
    on = forms.DateField(label=_("When"), required=False, input_formats=DATE_INPUT_FORMATS, widget=DateInput(),
                         help_text=_("dd.mm.yyyy"))
    comment = forms.CharField(label=_("Their comments"), required=False, max_length=20000,
                              widget=forms.Textarea(attrs={"rows": 3}))


class PublishForm(Form):
    version = forms.IntegerField(widget=forms.HiddenInput)
