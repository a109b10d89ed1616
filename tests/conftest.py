"""Personas shared by the whole suite.

Eksempel test-kommune:
    Root (ROOT)
    ├── Helse (HEL)            safety rep: Siri; HR with limited scope: Hugo
    │   ├── Hjemmetjenesten (HJ)   manager: Marte (and a former manager, Frode, until yesterday);
    │   │                          deputy: Dina; employees: Emil, Ella
    │   └── Sykehjemmet (SY)       manager: Sander; employee: Stine   (a sibling unit)
    └── Skole (SK)             manager: Kim; employee: Kari
Organisation-wide: HR Hanne, administrator Ada, AMU member Ask.
Everyone has a login <first name lower-case>@test.no with password PASSWORD.
"""

from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from tidsnok.org import services
from tidsnok.org.models import Organisation, Person, Role, Unit, User

PASSWORD = "correct horse battery staple"


# `make test` runs two xdist workers that take whole files (--dist loadfile) from one queue, in
# the order collected (--no-loadscope-reorder: xdist would otherwise put the files with fewest
# tests last, which here are the longest). A long file taken last keeps one worker busy after the
# other has finished, so the files that take longest go first, the longest first. Measured with
# `--durations`, about 10 s or more per file; a file not named here keeps its place after them
# (files with more tests first), and loses nothing but its place in the queue. The browser files
# stay together, so that each worker starts Chromium once.
SLOWEST_FIRST = [
    "browser/test_foundation_pages.py", "browser/test_case_path.py", "browser/test_risk.py",
    "browser/test_sick_leave.py", "browser/test_whistleblowing_flow.py", "browser/test_notify_pages.py",
    "browser/test_inspection_pack.py", "browser/test_access_copy.py", "browser/",
    "scale/test_bench_actions.py", "reports/test_access_copy.py", "cases/test_views.py",
    "scale/test_bench_load.py", "reports/test_case_pdf.py", "notify/test_concurrent_sweeps.py",
    "audit/test_commands.py", "scale/test_copydb.py", "absence/test_bench_statistics.py",
    "scale/test_generate.py", "absence/test_bench.py", "reports/test_risk_exports.py", "risk/test_views.py",
    "api/test_org_api.py", "reports/test_plan_pdf.py", "scale/test_several_servers.py",
]


def pytest_collection_modifyitems(config, items):
    from collections import Counter
    from pathlib import Path

    here = Path(__file__).parent

    def file_of(item) -> str:
        return item.path.relative_to(here).as_posix() if item.path.is_relative_to(here) else str(item.path)

    sizes = Counter(file_of(item) for item in items)

    def rank(item) -> tuple:
        name = file_of(item)
        place = next((i for i, prefix in enumerate(SLOWEST_FIRST) if name.startswith(prefix)), len(SLOWEST_FIRST))
        return place, -sizes[name], name

    # sorted() is stable: the tests of a file keep their order.
    items[:] = sorted(items, key=rank)


@pytest.fixture(autouse=True)
def default_language():
    """Each test starts in the default language (bokmål). A request through the test client runs
    in the test's own thread, and the language it activated (the user's saved one, or the
    browser's) would otherwise stay active for whatever test that process runs next."""
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def forget_recent_statistics():
    """The statistics and coverage states a worker read last are held in the process
    (absence.statistics._RECENT, risk.coverage._RECENT), while each test's database is rolled
    back: one test's figures must not meet the next's."""
    from tidsnok.absence import statistics
    from tidsnok.risk import coverage

    statistics._RECENT.clear()
    coverage._RECENT.clear()
    yield
    statistics._RECENT.clear()
    coverage._RECENT.clear()


def forget_planner_statistics():
    """SQLite only: drop the statistics ANALYZE gathered (sqlite_stat1, and sqlite_stat4 where
    SQLite is built with it), as in a database never analysed. Another test's `generate` or
    sweep may have left some in the test database, describing tables as they were then. Inside
    a test's transaction this is undone with it. (An empty sqlite_stat1 is not the same: the
    planner then chooses otherwise than with none.) A connection that has read them may keep
    planning by them: a test that looks at plans calls this outside its transaction and then
    closes the connection (tests/cases/test_query_plans.py)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE name IN ('sqlite_stat1', 'sqlite_stat4')")
        for (table,) in cursor.fetchall():
            cursor.execute(f"DROP TABLE {table}")


@dataclass
class World:
    org: Organisation
    units: dict[str, Unit]
    people: dict[str, Person]

    def user(self, name: str) -> User:
        return self.people[name].user

    def __getattr__(self, name):
        people = self.__dict__.get("people", {})
        if name in people:
            return people[name]
        raise AttributeError(name)


def build_world() -> World:
    org = services.create_organisation(None, "Test-kommune", "123456789")
    units = {}
    for code, name, parent in [
        ("ROOT", "Test-kommune", None), ("HEL", "Helse", "ROOT"), ("HJ", "Hjemmetjenesten", "HEL"),
        ("SY", "Sykehjemmet", "HEL"), ("SK", "Skole", "ROOT"),
    ]:
        units[code], _ = services.save_unit(None, org, code, name, units.get(parent))
    people = {}
    yesterday = timezone.localdate() - timedelta(days=1)
    spec = [
        # key, name, unit, roles
        ("marte", "Marte Leder", "HJ", [(Role.MANAGER, "HJ", None)]),
        ("frode", "Frode Tidligere", "HJ", [(Role.MANAGER, "HJ", yesterday)]),
        ("dina", "Dina Nestleder", "HJ", [(Role.DEPUTY, "HJ", None)]),
        ("emil", "Emil Ansatt", "HJ", []),
        ("ella", "Ella Ansatt", "HJ", []),
        ("sander", "Sander Leder", "SY", [(Role.MANAGER, "SY", None)]),
        ("stine", "Stine Ansatt", "SY", []),
        ("kim", "Kim Leder", "SK", [(Role.MANAGER, "SK", None)]),
        ("kari", "Kari Ansatt", "SK", []),
        ("helga", "Helga Sektorleder", "HEL", [(Role.MANAGER, "HEL", None)]),
        ("siri", "Siri Verneombud", "SY", [(Role.SAFETY_REP, "HEL", None)]),
        ("hugo", "Hugo HR Helse", "ROOT", [(Role.HR, "HEL", None)]),
        ("hanne", "Hanne HR", "ROOT", [(Role.HR, None, None)]),
        ("ada", "Ada Admin", "ROOT", [(Role.ADMIN, None, None)]),
        ("ask", "Ask AMU", "SK", [(Role.AMU, None, None)]),
    ]
    for number, (key, name, unit, roles) in enumerate(spec, start=1):
        person, _ = services.save_person(
            None, org, f"T{number:03d}", name=name, email=f"{key}@test.no", unit_id=units[unit].pk,
            position="Rådgiver", start_date=date(2020, 1, 1),
        )
        services.link_login(None, person, f"{key}@test.no", PASSWORD)
        for role, role_unit, ends_on in roles:
            services.assign_role(None, person, role, units[role_unit] if role_unit else None,
                                 starts_on=date(2019, 1, 1), ends_on=ends_on)
        people[key] = person
    return World(org=org, units=units, people=people)


# Building the personas through the services costs some 500 queries and 48 chained audit events,
# in every test that asks for them: a good part of the suite's time, most of all on PostgreSQL.
# The first build in a worker is kept as the rows it added and changed, and later tests get the
# same rows back in a few bulk inserts. Kept per minute of the (possibly travelled) clock, so that
# Frode's "yesterday" and the times of the world's audit events are what a build would give then.
# Where the database is not as it was before that build (a row the build changed differs, or a
# row it added is already there), the world is built afresh.
_SNAPSHOTS: dict = {}


class _NotAsBefore(Exception):
    pass


def _tables():
    from django.apps import apps

    return [model for model in apps.get_models(include_auto_created=True)
            if model._meta.managed and not model._meta.proxy]


def _rows(model) -> dict:
    names = [field.attname for field in model._meta.concrete_fields]
    at = names.index(model._meta.pk.attname)
    return {row[at]: row for row in model._default_manager.order_by().values_list(*names)}


def _snapshot_key():
    from django.db import connection

    now = timezone.now()
    return connection.vendor, connection.settings_dict["NAME"], now.replace(second=0, microsecond=0)


def _build_and_keep(key) -> World:
    tables = _tables()
    before = {model: _rows(model) for model in tables}
    world = build_world()
    added, changed = [], []
    for model in tables:
        after = _rows(model)
        if before[model].keys() - after.keys():
            return world  # the build deleted something: not a state to replay
        new = [after[pk] for pk in sorted(after.keys() - before[model].keys())]
        if new:
            added.append((model, new))
        changed += [(model, before[model][pk], after[pk]) for pk in before[model].keys() & after.keys()
                    if before[model][pk] != after[pk]]
    _SNAPSHOTS[key] = (added, changed, world.org.pk, {code: unit.pk for code, unit in world.units.items()},
                       {name: person.pk for name, person in world.people.items()})
    return world


def _replay(snapshot) -> World:
    from django.core.management.color import no_style
    from django.db import connection, transaction

    added, changed, org_pk, unit_pks, person_pks = snapshot
    with transaction.atomic():
        for model, was, now in changed:
            names = [field.attname for field in model._meta.concrete_fields]
            pk = was[names.index(model._meta.pk.attname)]
            if _rows(model).get(pk) != was:
                raise _NotAsBefore(model)
            model._default_manager.filter(pk=pk).update(**dict(zip(names, now)))
        for model, rows in added:
            names = [field.attname for field in model._meta.concrete_fields]
            model._default_manager.bulk_create([model(**dict(zip(names, row))) for row in rows])
        if connection.vendor == "postgresql":
            # Ids given explicitly do not move a sequence; one reset by a flush would hand them out again.
            with connection.cursor() as cursor:
                for sql in connection.ops.sequence_reset_sql(no_style(), [model for model, _rows_ in added]):
                    cursor.execute(sql)
    units = Unit.objects.in_bulk(list(unit_pks.values()))
    people = Person.objects.select_related("user").in_bulk(list(person_pks.values()))
    return World(org=Organisation.objects.get(pk=org_pk), units={code: units[pk] for code, pk in unit_pks.items()},
                 people={name: people[pk] for name, pk in person_pks.items()})


@pytest.fixture
def world(db) -> World:
    from django.db import IntegrityError

    key = _snapshot_key()
    snapshot = _SNAPSHOTS.get(key)
    if snapshot is None:
        return _build_and_keep(key)
    try:
        return _replay(snapshot)
    except (_NotAsBefore, IntegrityError):
        return build_world()


@pytest.fixture
def api(world, client):
    """api("marte", "post", "/cases", {...}) -> the response to /api/v1/cases, with marte's bearer
    token. A body goes as JSON, or as a form when it holds a file; `lang` sets Accept-Language and
    other keywords are extra headers."""
    import json

    from tidsnok.access.services import create_token

    tokens: dict[str, str] = {}

    def call(key, method, path, body=None, lang=None, **extra):
        if key not in tokens:
            tokens[key] = create_token(None, world.user(key))[1]
        headers = {"HTTP_AUTHORIZATION": f"Bearer {tokens[key]}", **extra}
        if lang:
            headers["HTTP_ACCEPT_LANGUAGE"] = lang
        send = getattr(client, method.lower())
        if body is None:
            return send(f"/api/v1{path}", **headers)
        if isinstance(body, dict) and any(hasattr(value, "read") for value in body.values()):
            return send(f"/api/v1{path}", data=body, **headers)
        return send(f"/api/v1{path}", data=json.dumps(body), content_type="application/json", **headers)

    return call


def enrol_totp(user) -> str:
    """Give a user a TOTP authenticator; returns the secret for pyotp."""
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    return secret


@pytest.fixture
def login(client):
    """Log a persona in through the real login form (second factor included)."""

    def _login(user, totp_secret: str | None = None):
        client.force_login(user) if totp_secret is None else None
        if totp_secret is not None:
            import pyotp

            response = client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
            assert response.status_code == 302, response.content[:500]
            response = client.post("/accounts/2fa/authenticate/", {"code": pyotp.TOTP(totp_secret).now()})
            assert response.status_code == 302, response.content[:500]
        return client

    return _login
