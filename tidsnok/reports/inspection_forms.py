"""The inspection page's form: the period, and the case PDFs to add.

Parsing only; the period rule and the case lookup live in the service
(reports.inspection), whose ValidationError is put back on these fields."""

import re

from django import forms
from django.utils.translation import gettext_lazy as _

from tidsnok.cases.forms import Form, date_field
from tidsnok.reports.inspection import MAX_CASE_PDFS

SEPARATORS = re.compile(r"[\s,;]+")


class InspectionPackForm(Form):
    start = date_field(_("From"), required=True)
    end = date_field(_("To"), required=True)
    case_numbers = forms.CharField(
        label=_("Case documentation to add (optional)"), required=False, max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Up to 20 case numbers, separated by commas or spaces, for example SAK-2026-0001. "
                    "The PDF of each case goes into the folder saker/ in the file, and each is audited."),
    )

    def clean_case_numbers(self):
        numbers = [n for n in SEPARATORS.split(self.cleaned_data["case_numbers"].upper()) if n]
        numbers = list(dict.fromkeys(numbers))
        if len(numbers) > MAX_CASE_PDFS:
            raise forms.ValidationError(_("Add at most %(max)s cases."), params={"max": MAX_CASE_PDFS})
        return numbers
