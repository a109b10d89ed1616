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
from django.utils import timezone

from tidsnok.org import services
from tidsnok.org.models import Organisation, Person, Role, Unit, User

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def forget_recent_statistics():
    """The statistics a worker read last are held in the process (absence.statistics._RECENT),
    while each test's database is rolled back: one test's figures must not meet the next's."""
    from tidsnok.absence import statistics

    statistics._RECENT.clear()
    yield
    statistics._RECENT.clear()


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


@pytest.fixture
def world(db) -> World:
    return build_world()


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
