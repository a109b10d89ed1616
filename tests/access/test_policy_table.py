"""The access policy as one table: every role persona x every model with a
policy so far (Person, Unit) x every action (view, manage).

Each row says exactly which objects the persona may reach. It is checked three
ways that must agree: `visible()` (lists), `can()` (single objects) and the
API (`/api/v1/people/{id}` answers 200 or 404; `/api/v1/units` lists).

The semantics: a manager or deputy sees the people in her units and below; HR
sees its scope; the administrator everything in her organisation; a safety
representative, an AMU member or an employee only herself. Units are the
organisation's structure, visible to everyone in it. Only the administrator
may manage. Nothing of another organisation is ever visible.
"""

from datetime import date, timedelta

import pytest
from django.http import Http404
from django.utils import timezone

from tidsnok.access.policy import can, get_visible_or_404, visible
from tidsnok.access.services import create_token
from tidsnok.org import services
from tidsnok.org.models import Person, Role, Unit

HJ = {"marte", "frode", "dina", "emil", "ella"}
SY = {"sander", "stine", "siri"}
SK = {"kim", "kari", "ask"}
HEL_AND_BELOW = {"helga"} | HJ | SY
EVERYONE = HEL_AND_BELOW | SK | {"hugo", "hanne", "ada"}
ALL_UNITS = {"ROOT", "HEL", "HJ", "SY", "SK"}
NOTHING: set = set()

# persona -> what she may view / manage. Every persona appears for every model
# and action: a forgotten row is a failing row, not a silent gap.
PEOPLE = {
    #            view                        manage
    "marte":  (HJ,                           NOTHING),   # manager of HJ
    "frode":  ({"frode"},                    NOTHING),   # managed HJ until yesterday
    "dina":   (HJ,                           NOTHING),   # deputy of HJ
    "helga":  (HEL_AND_BELOW,                NOTHING),   # manager of the sector above HJ and SY
    "sander": (SY,                           NOTHING),   # manager of the sibling unit SY
    "kim":    (SK,                           NOTHING),   # manager in another branch
    "hugo":   (HEL_AND_BELOW | {"hugo"},     NOTHING),   # HR for HEL only (sits in ROOT)
    "hanne":  (EVERYONE,                     NOTHING),   # HR for the whole organisation
    "ada":    (EVERYONE,                     EVERYONE),  # administrator
    "siri":   ({"siri"},                     NOTHING),   # safety rep for HEL: aggregates only
    "ask":    ({"ask"},                      NOTHING),   # AMU member
    "emil":   ({"emil"},                     NOTHING),   # employee
}
UNITS = {
    key: (ALL_UNITS, ALL_UNITS if key == "ada" else NOTHING) for key in PEOPLE
}

TABLES = ((Person, PEOPLE), (Unit, UNITS))


@pytest.fixture
def orgs(world):
    """The test world plus a second organisation nobody in the first may see."""
    other = services.create_organisation(None, "Annen kommune", "987654321")
    unit, _ = services.save_unit(None, other, "ANNEN", "Annen kommune", None)
    olav, _ = services.save_person(None, other, "A001", name="Olav Annen", email="olav@annen.no", unit_id=unit.pk)
    services.assign_role(None, olav, Role.ADMIN, None)
    keys = {
        Person: {p.pk: k for k, p in {**world.people, "olav": olav}.items()},
        Unit: {u.pk: k for k, u in {**world.units, "ANNEN": unit}.items()},
    }
    return world, keys


def test_the_table_covers_every_persona_with_a_role_and_an_employee(world):
    role_holders = {key for key, person in world.people.items() if person.roles.exists()}
    assert role_holders <= set(PEOPLE)
    assert "emil" in PEOPLE
    assert set(PEOPLE) == set(UNITS)


# One test per persona (the world is built once for her four rows); each row
# is checked in full and every wrong row is reported by name.
@pytest.mark.parametrize("persona", list(PEOPLE))
def test_policy_rows_of(orgs, client, persona):
    world, keys = orgs
    user = world.user(persona)
    _, raw = create_token(None, user)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    wrong = []

    def check(row: str, how: str, got: set, expected: set):
        if got != expected:
            wrong.append(f"{row} via {how}: extra {sorted(got - expected)}, missing {sorted(expected - got)}")

    for model, table in TABLES:
        everything = list(model.objects.all())
        assert len(everything) == len(keys[model])
        for action, expected in zip(("view", "manage"), table[persona]):
            row = f"{persona}/{model.__name__}/{action}"
            # visible(): what every list starts from.
            check(row, "visible()", {keys[model][obj.pk] for obj in visible(user, model, action)}, expected)
            # can(): the check for one object, the other organisation's included.
            check(row, "can()", {keys[model][obj.pk] for obj in everything if can(user, action, obj)}, expected)
            # get_visible_or_404(): what is not allowed does not exist.
            found = set()
            for obj in everything:
                try:
                    found.add(keys[model][get_visible_or_404(user, model, action, pk=obj.pk).pk])
                except Http404:
                    pass
            check(row, "get_visible_or_404()", found, expected)
            if action != "view":
                continue  # the API only reads
            if model is Person:
                answered = {
                    keys[Person][obj.pk] for obj in everything
                    if client.get(f"/api/v1/people/{obj.pk}", **headers).status_code == 200
                }
                check(row, "GET /people/{id}", answered, expected)
                listed = client.get("/api/v1/people?page_size=200", **headers).json()["items"]
                check(row, "GET /people", {keys[Person][item["id"]] for item in listed}, expected)
            else:
                listed = client.get("/api/v1/units?page_size=200", **headers).json()["items"]
                check(row, "GET /units", {keys[Unit][item["id"]] for item in listed}, expected)

    assert not wrong, "\n".join(wrong)


# --- the date boundaries of a role ----------------------------------------------------

def test_a_role_that_ends_today_still_counts_today(world):
    today = timezone.localdate()
    services.assign_role(None, world.kari, Role.MANAGER, world.units["HJ"], starts_on=date(2019, 1, 1),
                         ends_on=today)
    assert can(world.user("kari"), "view", world.emil)


def test_a_role_that_starts_tomorrow_does_not_count_yet(world):
    tomorrow = timezone.localdate() + timedelta(days=1)
    services.assign_role(None, world.kari, Role.MANAGER, world.units["HJ"], starts_on=tomorrow)
    assert not can(world.user("kari"), "view", world.emil)


def test_an_ended_role_loses_access_the_day_after(world):
    frode = world.user("frode")
    assert not can(frode, "view", world.emil)
    assert can(frode, "view", world.frode)  # himself, as any employee


def test_an_anonymous_or_deactivated_user_sees_nothing(world):
    from django.contrib.auth.models import AnonymousUser

    assert not visible(AnonymousUser(), Person).exists()
    assert not visible(None, Unit).exists()
    ada = world.user("ada")
    ada.is_active = False
    ada.save(update_fields=["is_active"])
    assert not visible(ada, Person).exists()
    assert not can(ada, "view", world.emil)


@pytest.mark.parametrize("model", [Person, Unit])
def test_an_action_the_policy_does_not_know_grants_nothing(world, model):
    ada = world.user("ada")
    assert visible(ada, model, "view").exists()
    assert not visible(ada, model, "delete_everything").exists()
    assert not can(ada, "delete_everything", model.objects.first())
