"""Load the demo organisation "Eksempel kommune". Safe to run again."""

import base64
import hashlib
import hmac
import secrets
from datetime import date

from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP
from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from tidsnok.absence.demo import load_demo_absence
from tidsnok.org import services
from tidsnok.web.demo_cases import load_demo_cases, load_demo_risk
from tidsnok.org.models import Organisation, Role

ORG_NAME = "Eksempel kommune"

# (code, name, parent code)
UNITS = [
    ("EK", "Eksempel kommune", None),
    ("HO", "Helse og omsorg", "EK"),
    ("HJEM", "Hjemmetjenesten", "HO"),
    ("SYKE", "Sykehjemmet", "HO"),
    ("OPP", "Oppvekst", "EK"),
    ("SOLB", "Solbakken skole", "OPP"),
    ("BJBH", "Bjørkelia barnehage", "OPP"),
    ("STAB", "Stab og støtte", "EK"),
    ("HRP", "HR og personal", "STAB"),
]

FIRST = ["Kari", "Ola", "Ingrid", "Lars", "Sofie", "Magnus", "Nora", "Henrik", "Emma", "Jonas",
         "Sara", "Erik", "Ida", "Anders", "Maja", "Sindre", "Hanne", "Tor", "Linn", "Amir"]
LAST = ["Nordmann", "Hansen", "Johansen", "Olsen", "Larsen", "Andersen", "Pedersen", "Nilsen",
        "Kristiansen", "Jensen", "Karlsen", "Berg", "Haugen", "Hagen", "Bakke", "Ali"]
POSITIONS = {
    "HJEM": "Helsefagarbeider", "SYKE": "Sykepleier", "SOLB": "Lærer", "BJBH": "Barnehagelærer",
    "HRP": "Rådgiver", "HO": "Kommunalsjef", "OPP": "Kommunalsjef", "STAB": "Stabssjef", "EK": "Rådmann",
}
STAFF_PER_UNIT = {"HJEM": 14, "SYKE": 14, "SOLB": 12, "BJBH": 8, "HRP": 3}

# (email, name, unit, position, roles as (role, unit code or None))
LOGINS = [
    ("admin@tidsnok.test", "Aina Admin", "STAB", "Systemansvarlig", [(Role.ADMIN, None)]),
    ("hr@tidsnok.test", "Hilde Rådgiver", "HRP", "HR-rådgiver", [(Role.HR, None)]),
    ("leder@tidsnok.test", "Lene Leder", "HJEM", "Enhetsleder", [(Role.MANAGER, "HJEM")]),
    ("leder2@tidsnok.test", "Leif Rektor", "SOLB", "Rektor", [(Role.MANAGER, "SOLB")]),
    ("ansatt@tidsnok.test", "Anne Ansatt", "HJEM", "Helsefagarbeider", []),
    ("verneombud@tidsnok.test", "Vera Verneombud", "SYKE", "Sykepleier", [(Role.SAFETY_REP, "HO")]),
    ("amu@tidsnok.test", "Arne AMU", "SOLB", "Lærer", [(Role.AMU, None)]),
]
# Managers without a demo login, so every unit has someone responsible.
MANAGERS = [
    ("EK", "Rolf Rådmann"), ("HO", "Hege Kommunalsjef"), ("SYKE", "Sverre Styrer"), ("OPP", "Olga Kommunalsjef"),
    ("BJBH", "Berit Styrer"), ("STAB", "Stein Stabssjef"), ("HRP", "Hanna Personalsjef"),
]
DEPUTIES = [("HJEM", "Dag Nestleder")]
TOTP_USERS = ("admin@tidsnok.test", "hr@tidsnok.test")


def demo_totp_secret(email: str) -> str:
    """A stable TOTP secret per installation, so re-running the demo keeps the
    authenticator a tester has already set up."""
    digest = hmac.new(settings.SECRET_KEY.encode(), f"demo-totp:{email}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest[:20]).decode()


class Command(BaseCommand):
    help = "Load the demo organisation Eksempel kommune (about 60 people). Running it again changes nothing."

    def add_arguments(self, parser):
        parser.add_argument("--password", help="Password for the demo logins (default: TIDSNOK_DEMO_PASSWORD, else generated)")

    def handle(self, *args, **options):
        import os

        password = options["password"] or os.environ.get("TIDSNOK_DEMO_PASSWORD") or ""
        generated = not password
        if generated:
            password = "-".join(secrets.token_hex(3) for _ in range(3))
        with transaction.atomic():
            self._load(password)
        self.stdout.write(self.style.SUCCESS(f"Demo organisation «{ORG_NAME}» is ready."))
        self.stdout.write("Logins: " + ", ".join(email for email, *_ in LOGINS))
        self.stdout.write(f"Password: {password}" + (" (generated; set TIDSNOK_DEMO_PASSWORD to choose)" if generated else ""))
        for email in TOTP_USERS:
            self.stdout.write(f"TOTP secret for {email}: {demo_totp_secret(email)}")

    def _load(self, password):
        org = Organisation.objects.filter(name=ORG_NAME).first() or services.create_organisation(None, ORG_NAME, "999999999")
        units = {}
        for code, name, parent in UNITS:
            units[code], _ = services.save_unit(None, org, code, name, units.get(parent))
        number = 1000

        def person(name, unit_code, position, start=date(2018, 8, 1)):
            nonlocal number
            number += 1
            email = name.lower().replace(" ", ".").replace("å", "a").replace("ø", "o").replace("æ", "ae") + "@eksempel.kommune.test"
            p, _ = services.save_person(
                None, org, f"E{number}", name=name, email=email, unit_id=units[unit_code].pk,
                position=position, start_date=start,
            )
            return p

        for email, name, unit_code, position, roles in LOGINS:
            p = person(name, unit_code, position)
            services.save_person(None, org, p.employee_number, email=email)
            services.link_login(None, p, email, password)
            for role, role_unit in roles:
                services.assign_role(None, p, role, units[role_unit] if role_unit else None)
        for unit_code, name in MANAGERS:
            services.assign_role(None, person(name, unit_code, POSITIONS[unit_code]), Role.MANAGER, units[unit_code])
        for unit_code, name in DEPUTIES:
            services.assign_role(None, person(name, unit_code, "Nestleder"), Role.DEPUTY, units[unit_code])
        i = 0
        for unit_code, count in STAFF_PER_UNIT.items():
            for _ in range(count):
                name = f"{FIRST[i % len(FIRST)]} {LAST[(i * 7) % len(LAST)]}"
                i += 1
                person(name, unit_code, POSITIONS[unit_code], date(2015 + i % 10, 1 + i % 12, 1))
        for email in TOTP_USERS:
            user = services.User.objects.get(email=email)
            if not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
                TOTP.activate(user, demo_totp_secret(email))
        load_demo_absence(org)
        load_demo_cases(org)
        load_demo_risk(org)
        return org
