from django import forms
from django.utils.translation import gettext_lazy as _

# Large enough for a municipality of 50,000 employees (about 150 bytes a row),
# small enough that one upload cannot fill the server's memory.
MAX_FILE_BYTES = 20 * 1024 * 1024


class ImportForm(forms.Form):
    units_file = forms.FileField(
        label=_("Units file (CSV)"),
        required=False,
        help_text=_("Columns: code, name, parent, and optionally manager. See the column list below."),
        widget=forms.FileInput(attrs={"accept": ".csv,text/csv"}),
    )
    people_file = forms.FileField(
        label=_("People file (CSV)"),
        required=False,
        help_text=_("Columns: employee_number, name, email, unit, position, start_date, and optionally "
                    "position_percent and end_date. See the column list below."),
        widget=forms.FileInput(attrs={"accept": ".csv,text/csv"}),
    )

    def _check_size(self, name):
        upload = self.cleaned_data.get(name)
        if upload and upload.size > MAX_FILE_BYTES:
            raise forms.ValidationError(
                _("The file is too large (at most %(megabytes)d MB).") % {"megabytes": MAX_FILE_BYTES // (1024 * 1024)}
            )
        return upload

    def clean_units_file(self):
        return self._check_size("units_file")

    def clean_people_file(self):
        return self._check_size("people_file")

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("units_file") and not cleaned.get("people_file") and not self.errors:
            raise forms.ValidationError(_("Choose a units file, a people file or both."))
        return cleaned
