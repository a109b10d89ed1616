"""QuickSelect writes the same <select> as Django's template-rendered Select, in Python."""

import pytest
from django import forms
from django.test.html import parse_html

from tidsnok.cases.forms import QuickSelect

CHOICES = [("", "Velg …"), ("1", "Ærlig & <Åse>"), ("2", 'Bjørn "Bob" Berg'), (3, "Cecilie (HR)")]


@pytest.mark.parametrize("value", [None, "", "2", 3, ["1"]])
def test_the_markup_is_djangos_for_plain_choices_whatever_is_chosen(value):
    attrs = {"id": "id_tiltak-owner", "aria-describedby": "id_tiltak-owner_helptext", "aria-invalid": "true",
             "required": True, "disabled": False}
    ours = QuickSelect(choices=CHOICES).render("tiltak-owner", value, attrs)
    django = forms.Select(choices=CHOICES).render("tiltak-owner", value, attrs)
    assert parse_html(ours) == parse_html(django)
    assert "&lt;Åse&gt;" in ours and "disabled" not in ours


def test_grouped_choices_are_left_to_django():
    grouped = [("Helse", [("1", "Anne"), ("2", "Bjørn")]), ("3", "Cecilie")]
    ours = QuickSelect(choices=grouped).render("p", "2", {"id": "id_p"})
    assert parse_html(ours) == parse_html(forms.Select(choices=grouped).render("p", "2", {"id": "id_p"}))
    assert "<optgroup" in ours


def test_a_form_field_with_it_renders_its_bound_attributes():
    class F(forms.Form):
        owner = forms.ChoiceField(choices=CHOICES, required=False, widget=QuickSelect, help_text="Den som følger opp.")

    form = F({"owner": "9"})
    form.is_valid()  # 9 is not among the choices: an error, shown on the field
    html = str(form["owner"])
    assert 'aria-invalid="true"' in html and 'aria-describedby="id_owner_helptext id_owner_error"' in html
    assert 'name="owner"' in html and 'id="id_owner"' in html
