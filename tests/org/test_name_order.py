"""People are listed in Norwegian alphabetical order, the same on SQLite and PostgreSQL: Æ, Ø, Å
after Z and in that order, letter case and accents that are not letters of their own ignored."""

import re

import pytest

from tidsnok.org.collation import sort_key
from tidsnok.org.models import Person

# In the order a Norwegian reader expects.
NORWEGIAN_ORDER = ["Anders Aune", "de Vries, Jan", "Émile Eide", "Erik Ekre", "Zahl Ziegler", "Ängel Bø",
                   "Ærlig Berg", "Øystein Dal", "Åse Ødegård"]  # Ä is filed as Æ


@pytest.fixture
def names(world):
    unit = world.units["HJ"]
    # Created out of order, so that neither insertion order nor id gives the right answer.
    for number, name in enumerate(reversed(NORWEGIAN_ORDER[::2] + NORWEGIAN_ORDER[1::2])):
        Person.objects.create(organisation=world.org, employee_number=f"NO{number}", name=name, unit=unit)
    return Person.objects.filter(employee_number__startswith="NO")


def test_the_sort_key_puts_norwegian_letters_last_and_ignores_case_and_accents():
    assert sorted(reversed(NORWEGIAN_ORDER), key=sort_key) == NORWEGIAN_ORDER
    assert sort_key("ÆØÅ æøå") == "{|} {|}"
    assert sort_key("Máret Ünsal") == "maret ynsal" and sort_key("Hélène") == "helene"


def test_the_database_sorts_by_the_same_key_as_python(names):
    assert list(names.values_list("name", flat=True)) == NORWEGIAN_ORDER
    assert all(p.sort_name == sort_key(p.name) for p in names)


def test_a_renamed_person_moves_to_her_new_place(names):
    Person.objects.filter(name="Anders Aune").update(name="Øyvind Aune")
    assert list(names.values_list("name", flat=True)) == NORWEGIAN_ORDER[1:-1] + ["Øyvind Aune", "Åse Ødegård"]
    person = Person.objects.get(name="Erik Ekre")
    person.name = "erik ekre"
    person.save()
    assert Person.objects.get(pk=person.pk).sort_name == "erik ekre"


def test_the_manager_sees_her_people_in_norwegian_order_on_min_oversikt(world, client, names):
    client.force_login(world.user("marte"))
    page = client.get("/").content.decode()
    shown = [name for name in re.findall(r">\s*([^<>]+?)\s*<", page) if name in NORWEGIAN_ORDER]
    assert shown == NORWEGIAN_ORDER


@pytest.mark.django_db
def test_on_postgresql_the_key_is_compared_by_code_point_whatever_the_databases_locale():
    """A database made in nb_NO.UTF-8 or en_US.UTF-8 would compare '{', '|' and '}' as punctuation
    it skips, and file "Ærlig" under R; SQLite always compares by code point."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("SQLite compares text by code point unless told otherwise")
    with connection.cursor() as cursor:
        cursor.execute("SELECT collation_name FROM information_schema.columns "
                       "WHERE table_name = 'org_person' AND column_name = 'sort_name'")
        assert cursor.fetchone() == ("C",)
        # What the column's collation prevents: in a language's collation the key's order breaks.
        cursor.execute("""SELECT '{rlig' > 'zahl' COLLATE "C", '{rlig' > 'zahl' COLLATE "en-US-x-icu" """)
        assert cursor.fetchone() == (True, False)
