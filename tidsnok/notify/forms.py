from datetime import timedelta

from django import forms
from django.utils.translation import gettext_lazy as _

from tidsnok.notify.models import MAX_WORKING_DAYS, Mode


class PreferenceForm(forms.Form):
    mode = forms.ChoiceField(label=_("Reminders by e-mail"), choices=Mode.choices, widget=forms.RadioSelect)


class OrgSettingsForm(forms.Form):
    reminder_lead_days = forms.IntegerField(
        label=_("Remind this many working days before the due date"), min_value=0, max_value=MAX_WORKING_DAYS,
        help_text=_("0 sends no reminder before the due date. Default 2."),
    )
    escalate_after_days = forms.IntegerField(
        label=_("Escalate when overdue by this many working days"), min_value=1, max_value=MAX_WORKING_DAYS,
        help_text=_("To the manager's manager, or to HR when the case is HR's. Default 2."),
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)


class PeriodForm(forms.Form):
    start = forms.DateField(label=_("From"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    end = forms.DateField(label=_("To"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end:
            if start > end:
                raise forms.ValidationError(_("The period must start before it ends."))
            if end - start > timedelta(days=5 * 366):
                raise forms.ValidationError(_("Choose a period of at most five years."))
        return data
