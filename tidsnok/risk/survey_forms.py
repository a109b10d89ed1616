from django import forms
from django.utils.translation import gettext_lazy as _

from tidsnok.cases.forms import Form, date_field
from tidsnok.risk import rules

DONT_KNOW = "x"


class OpenSurveyForm(Form):
    closes_on = date_field(_("Closes on"), required=True)
    threshold = forms.IntegerField(
        label=_("Fewest answers shown"), min_value=rules.SURVEY_MIN_THRESHOLD, max_value=50,
        initial=rules.SURVEY_DEFAULT_THRESHOLD,
        help_text=_("No result is shown for a question fewer people answered, so that no one's answer can be "
                    "told apart."),
    )


class AnswerForm(Form):
    """One question per factor of the survey: 1-5, or don't know."""

    def __init__(self, *args, factors, lang: str, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [(str(score), label) for score, label in rules.SCORE_LABELS.items()]
        choices.append((DONT_KNOW, _("Don't know / does not apply")))
        for factor in factors:
            self.fields[f"f_{factor.code}"] = forms.ChoiceField(
                label=factor.name(lang), choices=choices, widget=forms.RadioSelect,
                error_messages={"required": _("Answer this question, or choose \"don't know\".")},
            )
        self.codes = [factor.code for factor in factors]

    def scores(self) -> dict[str, int | None]:
        return {code: (None if self.cleaned_data[f"f_{code}"] == DONT_KNOW else int(self.cleaned_data[f"f_{code}"]))
                for code in self.codes}
