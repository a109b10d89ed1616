"""The statistics page: a page of units at a time (the CSV has all), numbers formatted as
`floatformat:1` would, and the unit list of the form written without a template per option."""

import random
import re
from datetime import date

import pytest
from django.template.defaultfilters import floatformat
from django.utils import formats, translation

from tidsnok.absence import services, views

URL = "/sykefravaer/statistikk/?start=2026-11-01&end=2026-11-30"


def _main(response) -> str:
    text = response.content.decode()
    return text[text.index("<main"):text.index("</main>")]


def _units_in_table(html: str) -> list[str]:
    body = html[html.index("<tbody>"):html.index("</tbody>")]
    return sorted({m for m in re.findall(r"<tr><td>([^<]+)</td>", body)})


def test_the_table_shows_a_page_of_units_and_the_csv_has_them_all(world, client, monkeypatch):
    monkeypatch.setattr(views, "STATISTICS_UNITS_PER_PAGE", 1)
    services.register_episode(world.user("marte"), person=world.emil, start=date(2026, 11, 2), end=date(2026, 11, 6),
                              certified="self")
    # AMU sees the whole organisation: Hjemmetjenesten, and the rest merged into the top.
    client.force_login(world.user("ask"))
    first = _main(client.get(URL))
    second = _main(client.get(URL + "&page=2"))
    assert _units_in_table(first) == ["Hjemmetjenesten"] and _units_in_table(second) == ["Test-kommune"]
    assert 'scope="col"' in first and "<caption>" in first
    assert "Side 1 av 2" in first and 'rel="next"' in first and 'rel="prev"' not in first
    assert "?start=2026-11-01&amp;end=2026-11-30&amp;page=2" in first  # the period is kept
    assert "Side 2 av 2" in second and 'rel="prev"' in second
    csv = client.get(URL + "&page=2&format=csv").content.decode()
    assert "Test-kommune;2026-11" in csv and "Hjemmetjenesten;2026-11" in csv


def test_one_page_needs_no_pager(world, client):
    client.force_login(world.user("ask"))
    html = _main(client.get(URL))
    assert 'class="pager"' not in html
    assert _units_in_table(html) == ["Hjemmetjenesten", "Test-kommune"]


@pytest.mark.parametrize("language", ["nb", "en"])
def test_numbers_are_formatted_as_floatformat_would(language):
    rng = random.Random(3)
    values = [0.0, 0.05, 0.15, 0.25, 1.45, 2.5, 99.95, 100.0, 12.345, 1e-9, 33.333333333333336]
    values += [rng.uniform(0, 100) for _ in range(2000)] + [rng.randint(0, 2000) / 20 for _ in range(500)]
    with translation.override(language):
        separator = formats.get_format("DECIMAL_SEPARATOR")
        for value in values:
            assert views._one_decimal(value, separator) == floatformat(value, 1), value


def test_the_unit_list_marks_the_chosen_unit_and_escapes_names(world, client):
    from tidsnok.org import services as org_services

    org_services.save_unit(world.user("ada"), world.org, "HJ", "Hjemme <og> «tjenester»", world.units["HEL"])
    client.force_login(world.user("helga"))
    html = _main(client.get(URL + f"&unit={world.units['HJ'].pk}"))
    select = html[html.index("<select"):html.index("</select>")]
    assert '<select name="unit" id="id_unit">' in select
    assert f'<option value="{world.units["HJ"].pk}" selected>Hjemme &lt;og&gt; «tjenester»</option>' in select
    assert '<option value="">' in select and f'<option value="{world.units["HEL"].pk}">Helse</option>' in select
    assert '<label for="id_unit">' in html
    html = _main(client.get(URL))
    assert '<option value="" selected>' in html


def test_the_table_rows_escape_unit_names_and_show_every_figure(world, client):
    from tidsnok.org import services as org_services

    org_services.save_unit(world.user("ada"), world.org, "HJ", "Hjemme <og> «tjenester»", world.units["HEL"])
    services.register_episode(world.user("marte"), person=world.emil, start=date(2026, 11, 2), end=date(2026, 11, 6),
                              certified="self")
    client.force_login(world.user("helga"))
    html = _main(client.get(URL))
    body = html[html.index("<tbody>"):html.index("</tbody>")]
    row = re.search(r"<tr><td>Hjemme &lt;og&gt; «tjenester»</td><td>11\.2026</td>((?:<td>[^<]*</td>)*)</tr>", body)
    assert row is not None, body
    cells = re.findall(r"<td>([^<]*)</td>", row.group(1))
    assert len(cells) == 6 and all(re.fullmatch(r"\d+,\d %", cell) for cell in cells), cells
    assert "<og>" not in html

