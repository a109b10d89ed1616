"""`bench load --profile`: a page's profiled time split by the part of the stack that spent it.

Times here are made up (a call graph written by hand) or only compared with themselves (a
real page's profile adds up to its own total): nothing asserts how fast anything is.
"""

import pstats

import pytest
from django.test import Client

from tidsnok.web import benchprofile
from tidsnok.web.benchprofile import DATABASE, ORM, OTHER, REQUEST, TEMPLATES, TIDSNOK

SITE = "/srv/app/.venv/lib/python3.12/site-packages"
QUERY = (f"{SITE}/django/db/models/query.py", 1, "__iter__")
RENDER = (f"{SITE}/django/template/base.py", 1, "render")
HANDLER = (f"{SITE}/django/core/handlers/base.py", 1, "get_response")
VIEW = (benchprofile._PACKAGE + "cases/views.py", 1, "case_detail")
COPY = ("/usr/lib/python3.12/copy.py", 1, "copy")
ISINSTANCE = ("~", 0, "<built-in method builtins.isinstance>")
SQLITE = ("~", 0, "<method 'execute' of 'sqlite3.Cursor' objects>")


def stats_of(graph: dict) -> pstats.Stats:
    """A Stats from {function: (own seconds, {caller: own seconds spent for that caller})}."""
    stats = pstats.Stats()
    stats.stats = {
        func: (1, 1, own, own, {caller: (1, 1, spent, spent) for caller, spent in callers.items()})
        for func, (own, callers) in graph.items()
    }
    return stats


def test_each_function_counts_to_the_area_of_the_code_it_belongs_to():
    assert benchprofile.area_of(*QUERY[::2]) == ORM
    assert benchprofile.area_of(*RENDER[::2]) == TEMPLATES
    assert benchprofile.area_of(*HANDLER[::2]) == REQUEST
    assert benchprofile.area_of(*VIEW[::2]) == TIDSNOK
    assert benchprofile.area_of(*SQLITE[::2]) == DATABASE
    assert benchprofile.area_of(f"{SITE}/psycopg/cursor.py", "execute") == DATABASE
    # Code that serves every area has none of its own: its callers decide.
    assert benchprofile.area_of(*COPY[::2]) is None
    assert benchprofile.area_of(*ISINSTANCE[::2]) is None
    assert benchprofile.area_of(f"{SITE}/django/utils/functional.py", "__get__") is None


def test_a_checkout_in_a_folder_named_tidsnok_does_not_make_django_tidsnoks_code():
    assert benchprofile.area_of("/home/ada/tidsnok/.venv/lib/python3.12/site-packages/django/db/models/query.py",
                                "__iter__") == ORM


def test_a_helpers_time_counts_to_the_areas_that_called_it_in_proportion():
    graph = {
        HANDLER: (0.010, {}),
        VIEW: (0.020, {HANDLER: 0.020}),
        QUERY: (0.030, {VIEW: 0.030}),
        RENDER: (0.040, {VIEW: 0.040}),
        SQLITE: (0.005, {QUERY: 0.005}),
        # copy.copy worked 3 parts for the ORM and 1 for the templates; isinstance was called by
        # copy.copy only, so it follows copy's split.
        COPY: (0.008, {QUERY: 0.006, RENDER: 0.002}),
        ISINSTANCE: (0.004, {COPY: 0.004}),
    }
    totals = benchprofile.split(stats_of(graph))
    assert totals[REQUEST] == pytest.approx(0.010)
    assert totals[TIDSNOK] == pytest.approx(0.020)
    assert totals[DATABASE] == pytest.approx(0.005)
    assert totals[ORM] == pytest.approx(0.030 + 0.006 + 0.003)
    assert totals[TEMPLATES] == pytest.approx(0.040 + 0.002 + 0.001)
    assert totals[OTHER] == pytest.approx(0.0)


def test_a_helper_nobody_in_an_area_called_is_other_and_recursion_ends():
    outer = ("/usr/lib/python3.12/functools.py", 1, "wrapper")
    graph = {
        outer: (0.002, {outer: 0.001}),  # calls itself, and nothing of an area calls it
        ISINSTANCE: (0.001, {outer: 0.001}),
    }
    totals = benchprofile.split(stats_of(graph))
    assert totals[OTHER] == pytest.approx(0.003)
    assert benchprofile.shares(totals)[OTHER] == pytest.approx(1.0)


@pytest.mark.django_db
def test_marte_s_case_page_profile_adds_up_and_names_the_orm_the_templates_and_the_database(world):
    from datetime import date

    from tidsnok.cases import services
    from tidsnok.cases.models import Kind, Source

    case = services.open_case(world.user("marte"), kind=Kind.PSYCHOSOCIAL, concerns=[world.emil],
                              description="Emil sier han ikke rekker arbeidsoppgavene.", source=Source.EMPLOYEE_TOLD,
                              known_at=date(2026, 11, 2))
    client = Client()
    client.force_login(world.user("marte"))
    stats = benchprofile.profile(lambda: client.get(f"/saker/{case.pk}/"), 2)
    own = sum(entry[2] for entry in stats.stats.values())
    totals = benchprofile.split(stats)
    assert sum(totals.values()) == pytest.approx(own)
    assert all(totals[area] > 0 for area in (DATABASE, ORM, TEMPLATES, REQUEST, TIDSNOK)), totals
