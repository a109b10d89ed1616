"""Where a page's time goes: a cProfile of it, split by the part of the stack that spent it.

`tidsnok bench load --profile RUNS` renders each journey in process under the profiler and
sums each function's own time into an area: the database (its driver, and on PostgreSQL the
wait for the server's answer), Django's ORM, the template engine, Django's request handling
(handlers, middleware, sessions, authentication, allauth), or tidsnok's own code. Code that
serves them all (built-ins such as isinstance or str.join, the standard library,
django.utils, other libraries) counts to the area that called it: time in copy.copy called
while the ORM clones a query is the ORM's, in icalendar called by the calendar feed tidsnok's.
What no area called (the profiler's own frame) is "other".

The split says why a page is several times its SQL floor: on SQLite the database's part of a
page is a few per cent, and the rest is Python around the queries.
"""

import cProfile
import functools
import os
import pstats
from collections import defaultdict
from pathlib import Path

DATABASE, ORM, TEMPLATES, REQUEST, TIDSNOK, OTHER = "database", "ORM", "templates", "request", "tidsnok", "other"
AREAS = (DATABASE, ORM, TEMPLATES, REQUEST, TIDSNOK, OTHER)

# Where a library's function is defined, below site-packages, decides its area (the first
# prefix that matches). A database backend's Python (Django's cursor wrappers, its converters)
# is the ORM's, as are the Q trees and expressions django.utils builds for it.
_LIBRARIES = (
    ("psycopg/", DATABASE), ("psycopg_binary/", DATABASE), ("psycopg_c/", DATABASE),
    ("django/db/", ORM), ("django/utils/tree.py", ORM), ("django/utils/deconstruct.py", ORM),
    ("django/template/", TEMPLATES), ("django/templatetags/", TEMPLATES),
    ("django/core/handlers/", REQUEST), ("django/middleware/", REQUEST), ("django/contrib/sessions/", REQUEST),
    ("django/contrib/auth/", REQUEST), ("django/contrib/messages/", REQUEST), ("django/test/client.py", REQUEST),
    ("django/http/", REQUEST), ("django/urls/", REQUEST), ("allauth/", REQUEST), ("django_htmx/", REQUEST),
)
# Built-ins that are the drivers' C: sqlite3's cursor (Django's wrapper calls it through
# super(), which the profiler labels with the wrapper's name) and psycopg's binary package.
_DATABASE_BUILTINS = ("sqlite3.", "SQLiteCursorWrapper.execute", "psycopg")
# tidsnok's own code, wherever it is installed (a checkout may itself sit in a folder named
# tidsnok, above its virtualenv).
_PACKAGE = os.path.realpath(Path(__file__).resolve().parents[1]) + os.sep


@functools.cache
def area_of(filename: str, name: str) -> str | None:
    """The area a function belongs to by where it is defined; None for one that serves every
    area (a built-in other than a driver's, the standard library, django.utils, other libraries),
    whose time counts to its callers'."""
    if filename == "~":
        return DATABASE if any(marker in name for marker in _DATABASE_BUILTINS) else None
    if os.path.realpath(filename).startswith(_PACKAGE):
        return TIDSNOK
    path = filename.replace("\\", "/")
    _before, found, library = path.rpartition("-packages/")
    if not found:
        return DATABASE if "/sqlite3/" in path else None
    for prefix, area in _LIBRARIES:
        if library.startswith(prefix):
            return area
    return None


def split(stats: pstats.Stats) -> dict[str, float]:
    """Seconds of own time per area (every area present, 0.0 when unused)."""
    raw = stats.stats  # {(file, line, name): (calls, primitive calls, own, cumulative, callers)}
    # The areas a function of no area works for, as fractions: its callers' areas, weighted by
    # the time it spent for each. A function met again while its own callers are being resolved
    # (recursion) is left out on that path. Memoised, the first answer standing: a page's call
    # graph has thousands of such functions, reached along many paths.
    shares_of: dict[tuple, dict[str, float]] = {}

    def areas_for(func, stack: frozenset) -> dict[str, float]:
        if func in shares_of:
            return shares_of[func]
        area = area_of(func[0], func[2])
        if area is not None:
            return {area: 1.0}
        callers = raw.get(func, (0, 0, 0.0, 0.0, {}))[4]
        # A caller's entry: (calls, primitive calls, own time spent for it, cumulative).
        weights = {caller: entry[2] for caller, entry in callers.items() if caller not in stack}
        spent = sum(weights.values())
        if not spent:
            result = {OTHER: 1.0}
        else:
            result = defaultdict(float)
            for caller, weight in weights.items():
                for caller_area, fraction in areas_for(caller, stack | {func}).items():
                    result[caller_area] += fraction * weight / spent
            result = dict(result)
        shares_of[func] = result
        return result

    totals = defaultdict(float)
    for func, (_cc, _nc, own, _cum, _callers) in raw.items():
        for area, fraction in areas_for(func, frozenset()).items():
            totals[area] += own * fraction
    return {area: totals.get(area, 0.0) for area in AREAS}


def profile(fn, runs: int) -> pstats.Stats:
    """`fn` called `runs` times under cProfile."""
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        for _ in range(runs):
            fn()
    finally:
        profiler.disable()
    return pstats.Stats(profiler)


def shares(totals: dict[str, float]) -> dict[str, float]:
    """Each area's part of the whole, 0-1."""
    whole = sum(totals.values())
    return {area: (seconds / whole if whole else 0.0) for area, seconds in totals.items()}
