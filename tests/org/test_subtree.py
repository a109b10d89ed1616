"""A unit and everything below it is `path__startswith=unit.path`. On SQLite that is a range
on the path's index (org.models.SubtreeOf), and must find exactly the units a prefix does."""

import pytest
from django.db import connection

from tidsnok.org import scope, services
from tidsnok.org.models import Person, Unit


@pytest.fixture
def deep_tree(world):
    """Below Hjemmetjenesten, a branch whose ids make paths that share digits with others'."""
    ada = world.user("ada")
    parent = world.units["HJ"]
    for level in range(4):
        parent, _ = services.save_unit(ada, world.org, f"D{level}", f"Nivå {level}", parent)
        services.save_unit(ada, world.org, f"S{level}", f"Side {level}", parent.parent)
    return world


def test_every_subtree_is_exactly_the_units_whose_path_starts_with_its_root(deep_tree):
    units = list(Unit.objects.filter(organisation=deep_tree.org))
    assert len(units) > 10
    for root in units:
        expected = sorted(u.pk for u in units if u.path.startswith(root.path))
        found = sorted(Unit.objects.filter(organisation=deep_tree.org, path__startswith=root.path)
                       .values_list("pk", flat=True))
        assert found == expected, root.code
        people = Person.objects.filter(unit__path__startswith=root.path).values_list("pk", flat=True)
        assert sorted(people) == sorted(p.pk for p in Person.objects.all() if p.unit.path.startswith(root.path))


def test_a_path_that_is_not_a_unit_root_still_matches_as_a_prefix(deep_tree):
    # Not a whole path: the range must still be exactly "starts with".
    hj = deep_tree.units["HJ"]
    prefix = hj.path[:-3]
    expected = sorted(u.pk for u in Unit.objects.all() if u.path.startswith(prefix))
    assert sorted(Unit.objects.filter(path__startswith=prefix).values_list("pk", flat=True)) == expected


def test_a_managers_scope_is_her_units_and_those_below(deep_tree):
    helga = deep_tree.user("helga")  # manager of Helse og omsorg
    below = {u.pk for u in Unit.objects.all() if u.path.startswith(deep_tree.units["HEL"].path)}
    assert scope.managed_unit_ids(helga) == below
    assert deep_tree.units["SK"].pk not in below


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's query plan")
def test_on_sqlite_a_subtree_is_read_from_the_path_index(world):
    sql, params = Unit.objects.filter(path__startswith=world.units["HEL"].path).values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        plan = " ".join(str(row) for row in cursor.fetchall())
    assert "SEARCH" in plan and "path" in plan, plan
