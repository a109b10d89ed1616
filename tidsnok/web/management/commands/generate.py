"""`tidsnok generate --people N --years Y --seed S`: a realistic organisation, for load tests.

Writes into the configured database (DATABASE_URL), through the rooms' own
services or in bulk with the same rows and audit events (see
tidsnok/web/generate.py). Use a database of its own: the organisation it makes
is meant to be measured, not used.
"""

import os
import secrets
import time
from contextlib import contextmanager
from datetime import timedelta

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from tidsnok.audit.services import head, verify_chain
from tidsnok.notify import planner
from tidsnok.web.generate import Generator, database_size

# SQLite settings for a bulk load, for this command's connection only and put back
# afterwards; the application never runs with them (tidsnok/settings.py sets its own).
# synchronous=OFF: a crash of the machine during the run may corrupt the database,
# which is then generated again; a crash of the process alone loses nothing committed.
BULK_LOAD_PRAGMAS = {
    "synchronous": "OFF",
    "cache_size": "-262144",  # 256 MB of page cache (negative: KiB)
    "temp_store": "MEMORY",
}


@contextmanager
def bulk_load_pragmas():
    # Not inside a caller's transaction (call_command from a test): SQLite refuses some there.
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        yield
        return
    with connection.cursor() as cursor:
        before = {}
        for name, value in BULK_LOAD_PRAGMAS.items():
            cursor.execute(f"PRAGMA {name}")
            before[name] = cursor.fetchone()[0]
            cursor.execute(f"PRAGMA {name}={value}")
    try:
        yield
    finally:
        if connection.connection is not None:
            with connection.cursor() as cursor:
                for name, value in before.items():
                    cursor.execute(f"PRAGMA {name}={value}")


class Command(BaseCommand):
    help = ("Generate a deterministic, realistic organisation (units, people, roles, sick-leave history, cases, "
            "whistleblowing reports) into the configured database; prints the time taken and the database size.")

    def add_arguments(self, parser):
        parser.add_argument("--people", type=int, default=2000, help="Number of people (default 2000).")
        parser.add_argument("--years", type=float, default=1, help="Years of history up to today (default 1).")
        parser.add_argument("--seed", type=int, default=1, help="Random seed (default 1); also names the organisation.")
        parser.add_argument("--password", default=None,
                            help="Password of every generated login (default TIDSNOK_DEMO_PASSWORD, else generated).")
        parser.add_argument("--no-migrate", action="store_true",
                            help="Do not run migrate and createcachetable first.")
        parser.add_argument("--risk-only", action="store_true",
                            help="Only add risk assessments to the organisation generated earlier with this --seed "
                                 "(a database generated before the risk room existed).")

    def out(self, line: str = ""):
        # Flushed at once: a long run is followed through a log file (nohup ... > log).
        self.stdout.write(line)
        self.stdout.flush()

    def add_risk_only(self, seed: int, years: float):
        from django.utils import timezone

        from tidsnok.org.models import Organisation
        from tidsnok.web.generate import generated_name
        from tidsnok.web.generate_risk import add_risk_assessments

        org = Organisation.objects.filter(name=generated_name(seed)).first()
        if org is None:
            raise CommandError(f"No «{generated_name(seed)}» in this database: generate it first.")
        started, cpu = time.perf_counter(), time.process_time()
        today = timezone.localdate()
        try:
            with bulk_load_pragmas():
                counts = add_risk_assessments(org, seed=seed, first_day=today - timedelta(days=round(365.25 * years)),
                                              today=today, out=self.out)
        except RuntimeError as exc:
            raise CommandError(str(exc)) from exc
        planner.analyze()
        verified = verify_chain(checkpoint=True)
        if not verified.ok:
            raise CommandError(f"the audit chain does not verify: {verified.reason}")
        self.out(self.style.SUCCESS(
            f"«{org.name}»: {counts['assessments']} risk assessments completed and {counts['drafts']} started, "
            f"{counts['risks']} risks, {counts['actions']} measures, {counts['participants']} participants, "
            f"{counts['comments']} comments in {time.perf_counter() - started:.1f} s "
            f"({time.process_time() - cpu:.1f} s CPU); audit chain verified"))

    def handle(self, *args, people, years, seed, password, no_migrate, risk_only, **options):
        if people < 30:
            raise CommandError("--people must be at least 30")
        if not 0 < years <= 20:
            raise CommandError("--years must be more than 0 and at most 20")
        password = password or os.environ.get("TIDSNOK_DEMO_PASSWORD") or ""
        generated = not password
        if generated:
            password = "-".join(secrets.token_hex(3) for _ in range(3))
        if not no_migrate:
            call_command("migrate", verbosity=0, interactive=False)
            call_command("createcachetable", verbosity=0)
        if risk_only:
            self.add_risk_only(seed, years)
            return
        started, cpu = time.perf_counter(), time.process_time()
        generator = Generator(people=people, years=years, seed=seed, password=password, out=self.out)
        try:
            with bulk_load_pragmas():
                org = generator.run()
        except RuntimeError as exc:
            raise CommandError(str(exc)) from exc
        # The planner must know the new tables' sizes before anyone measures a page on them.
        planner.analyze()
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        s = generator.stats
        rate = 100 * s.lost_days / s.possible_days if s.possible_days else 0

        self.out(self.style.SUCCESS(f"«{org.name}» generated on {connection.vendor}"))
        self.out(
            f"  {s.people} people in {s.units} units; {s.episodes} absence episodes (sick-leave rate about "
            f"{rate:.1f} % of working days; {s.episodes_in_bulk} outside follow-up cases, written in bulk), "
            f"{s.flags_raised} frequent-absence flags, {s.sick_leave_cases} sick-leave cases, cases {s.cases}, "
            f"{s.entries} entries and {s.measures} measures by hand, {s.reports} whistleblowing reports, "
            f"{s.closed} cases closed, {s.flags_handled} frequent-absence flags handled; "
            f"{s.risk.get('assessments', 0)} risk assessments with {s.risk.get('actions', 0)} measures"
        )
        if s.refused_count:
            self.out(f"  {s.refused_count} steps refused by the services (first: {'; '.join(s.refused)})")
        # Verified once here, as an operator would after a bulk load, and checkpointed: every
        # PDF verifies the chain from the newest checkpoint, and without one the first PDF
        # after generation recomputed all of it (598,632 events, 18 s of CPU at N = 50,000).
        verified = verify_chain(checkpoint=True)
        if not verified.ok:
            raise CommandError(f"the generated audit chain does not verify: {verified.reason}")
        self.out(f"  audit events: {head()[0]}, verified, checkpoint at event {verified.head_seq}")
        self.out("  by stage: " + "; ".join(f"{name} {wall:.1f} s ({cpu:.1f} s CPU)"
                                            for name, (wall, cpu) in s.stages.items()))
        self.out(f"  time: {elapsed:.1f} s ({cpu:.1f} s CPU in this process)")
        self.out(f"  database size: {database_size()}")
        self.out(f"  password of every login: {password}" + (" (generated)" if generated else ""))
