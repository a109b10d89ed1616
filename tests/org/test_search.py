"""Finding people by name as a user types it, in any letter case, Norwegian letters included."""

import pytest

from tidsnok.org.models import Person
from tidsnok.org.search import listed, people_matching


@pytest.fixture
def nordic(world):
    unit = world.units["HJ"]
    for number, name in [("N1", "Åse Ødegård"), ("N2", "Ørjan Æsøy"), ("N3", "Asle Berg")]:
        Person.objects.create(organisation=world.org, employee_number=number, name=name, unit=unit)


def found(text):
    return sorted(Person.objects.filter(people_matching(text)).values_list("name", flat=True))


@pytest.mark.parametrize("typed", ["åse", "ÅSE", "ødegård", "ØDEGÅRD", "se ød"])
def test_norwegian_letters_are_found_in_either_case(nordic, typed):
    assert found(typed) == ["Åse Ødegård"]


def test_a_norwegian_letter_is_not_its_plain_look_alike(nordic):
    assert found("ås") == ["Åse Ødegård"]
    assert found("æsøy, asle") == ["Asle Berg", "Ørjan Æsøy"]
    assert found("ase") == []  # "a" is not "å"


def test_a_manager_finds_the_employee_by_a_lower_case_norwegian_name(world, client, nordic, monkeypatch):
    monkeypatch.setattr("tidsnok.cases.views.PEOPLE_LIMIT", 2)
    client.force_login(world.user("marte"))
    page = client.get("/saker/ny/?sok=ørjan").content.decode()
    assert "Ørjan Æsøy" in page and "Åse Ødegård" not in page and "Emil Ansatt" not in page


@pytest.mark.parametrize("search", ["berg", ""])
def test_listed_gives_the_people_sorted_or_none_when_there_are_too_many(nordic, search):
    people = Person.objects.filter(employee_number__in=["N1", "N2", "N3"])
    assert [p.name for p in listed(people, 3, ("-employee_number",), search)] == [
        "Asle Berg", "Ørjan Æsøy", "Åse Ødegård"]
    assert listed(people, 2, ("-employee_number",), search) is None


def test_a_search_that_finds_too_many_asks_to_narrow_it(world, client, nordic, monkeypatch):
    monkeypatch.setattr("tidsnok.cases.views.PEOPLE_LIMIT", 2)
    client.force_login(world.user("marte"))
    page = client.get("/saker/ny/?sok=æ, ø, berg").content.decode()  # all three
    assert "for mange personer til å liste dem" in page and "Åse Ødegård" not in page
    page = client.get("/saker/ny/?sok=æ, ø").content.decode()
    assert "Åse Ødegård" in page and "Ørjan Æsøy" in page and "Asle Berg" not in page
