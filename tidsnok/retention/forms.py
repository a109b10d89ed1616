from django import forms
from django.utils.translation import gettext_lazy as _

from tidsnok.retention.models import DataClass, Mode


class RuleForm(forms.Form):
    data_class = forms.ChoiceField(choices=DataClass.choices, widget=forms.HiddenInput)
    months = forms.IntegerField(
        label=_("Keep for this many months"), min_value=0, required=False,
        help_text=_("Leave empty to keep them indefinitely."),
    )
    mode = forms.ChoiceField(label=_("Then"), choices=Mode.choices, widget=forms.RadioSelect)
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=0)
