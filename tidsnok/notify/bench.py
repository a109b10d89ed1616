"""`tidsnok bench sweep`: how long one full sweep round takes over N open deadlines.

Builds N open deadlines across N/5 cases in 1 organisation with one unit per 500
deadlines (each with a manager who has a login, under a top manager, with an
organisation-wide HR adviser), due dates spread from 20 days ago to 100 days
ahead, so that on the measured day some are due soon, due today, overdue and
past escalation. Then it times one full round (`notify.sweep.run_round`):
planning, claiming and processing the reminders (notifications, outbox rows,
escalations on the case timeline and in the audit log), the day's digests and
sending every e-mail through Django's in-memory backend, so that the figure is
tidsnok's and not an SMTP server's.

It prints deadlines/s and the ratio of the round to the bare SQL query that
selects the due rows (`sweep.due_rows`), the floor no round can beat.

The set-up writes rows directly (bulk inserts): it measures the sweep, not the
case services. By default it runs in a new temporary SQLite database in a
child process, like `tidsnok bench audit`; --database-url runs against another
(throwaway!) database, which is migrated first.
"""

import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, time as clock, timedelta

from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.utils import timezone

HELP = "Time one sweep round over N open deadlines; prints deadlines/s and the ratio to the bare due-rows query."

PER_CASE = 5
PER_UNIT = 500


def add_arguments(parser) -> None:
    parser.add_argument("--deadlines", type=int, default=100_000, help="How many open deadlines (default 100000).")
    parser.add_argument(
        "--database-url",
        help="Run against this database (migrated first) instead of a new temporary SQLite file. Use a throwaway "
        "database: the benchmark's organisation stays in it.",
    )
    parser.add_argument("--configured-db", action="store_true",
                        help="Run against the database tidsnok is configured with, in this process.")
    parser.add_argument("--seed", type=int, default=4, help="Random seed for the due dates (default 4).")


def run(command, options: dict) -> None:
    n = options["deadlines"]
    if n < PER_CASE:
        raise CommandError(f"--deadlines must be at least {PER_CASE}")
    if options["configured_db"]:
        bench_here(command, n, options["seed"])
        return
    if options["database_url"]:
        run_in_child(command, options["database_url"], n, options["seed"])
        return
    workdir = tempfile.mkdtemp(prefix="tidsnok-bench-")
    try:
        run_in_child(command, f"sqlite:///{os.path.join(workdir, 'bench.sqlite3')}", n, options["seed"])
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def run_in_child(command, database_url: str, n: int, seed: int) -> None:
    args = [sys.executable, "-m", "tidsnok", "bench", "sweep", "--deadlines", str(n), "--seed", str(seed),
            "--configured-db"]
    env = {**os.environ, "DATABASE_URL": database_url, "EMAIL_URL": "locmem:", "LOG_LEVEL": "WARNING"}
    with subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as child:
        for line in child.stdout:
            command.stdout.write(line, ending="")
    if child.returncode != 0:
        raise CommandError(f"the benchmark process failed with exit status {child.returncode}")


def _measured_day():
    """Today if it is a working day, else the next one: a day with digests."""
    from tidsnok.deadlines.calendar import WorkingCalendar

    day = timezone.localdate()
    return WorkingCalendar().add_working_days(day, 0)


def build(n: int, today, seed: int):
    """The organisation, its units and managers, N/5 cases and N open deadlines."""
    from tidsnok.cases.models import Case, Deadline, Handler, HandlerRole
    from tidsnok.org import services as org_services
    from tidsnok.org.models import Person, Role, RoleAssignment, User

    rng = random.Random(seed)
    org = org_services.create_organisation(None, f"Bench {timezone.now():%Y%m%d%H%M%S}")
    root, _ = org_services.save_unit(None, org, "B-ROOT", "Bench", None)
    units = [org_services.save_unit(None, org, f"B-{i:04d}", f"Enhet {i}", root)[0]
             for i in range(max(1, n // PER_UNIT))]
    with transaction.atomic():
        users = User.objects.bulk_create([
            User(email=f"bench-{org.pk}-{i}@bench.invalid", password="!") for i in range(len(units) + 2)
        ])
        people = Person.objects.bulk_create([
            Person(organisation=org, employee_number=f"M{i:05d}", name=f"Leder {i}", unit=(units + [root, root])[i],
                   user=users[i]) for i in range(len(units) + 2)
        ])
        managers, top, hr = people[: len(units)], people[-2], people[-1]
        RoleAssignment.objects.bulk_create(
            [RoleAssignment(person=m, role=Role.MANAGER, unit=u) for m, u in zip(managers, units)]
            + [RoleAssignment(person=top, role=Role.MANAGER, unit=root), RoleAssignment(person=hr, role=Role.HR)]
        )
        cases = Case.objects.bulk_create([
            Case(organisation=org, number=f"B-{org.pk}-{i:07d}", kind="psychosocial", unit=units[i % len(units)],
                 owner=managers[i % len(units)], known_at=today - timedelta(days=30))
            for i in range(n // PER_CASE)
        ], batch_size=2000)
        Handler.objects.bulk_create([
            Handler(case=c, person=managers[i % len(units)], role=HandlerRole.MANAGER) for i, c in enumerate(cases)
        ], batch_size=2000)
        deadlines = []
        for i, case in enumerate(cases):
            for j in range(PER_CASE):
                due = today + timedelta(days=rng.randint(-20, 100))
                deadlines.append(Deadline(
                    case=case, rule_id=f"bench.rule{j}", title_nb="Frist", title_en="Deadline", basis="policy default",
                    responsible="handler", start=today - timedelta(days=30), due=due,
                ))
        Deadline.objects.bulk_create(deadlines, batch_size=2000)
    return org


def bench_here(command, n: int, seed: int) -> None:
    from tidsnok.notify.sweep import Organisations, RoundStats, due_rows, run_round

    out = command.stdout
    engine = f"{connection.vendor} ({connection.settings_dict['NAME']})"
    call_command("migrate", verbosity=0, interactive=False)
    today = _measured_day()
    now = timezone.make_aware(datetime.combine(today, clock(9, 0)))
    out.write(f"sweep bench on {engine}: {n} open deadlines in {n // PER_CASE} cases, measured day {today:%d.%m.%Y}")
    started = time.perf_counter()
    build(n, today, seed)
    out.write(f"set-up: {time.perf_counter() - started:.1f} s")

    horizon = Organisations(today).horizon()
    len(list(due_rows(today, horizon)))  # warm the caches for both measurements alike
    started, cpu = time.perf_counter(), time.process_time()
    due = len(list(due_rows(today, horizon)))
    query_seconds, query_cpu = time.perf_counter() - started, time.process_time() - cpu

    started, cpu = time.perf_counter(), time.process_time()
    stats: RoundStats = run_round("bench", now=now)
    round_seconds, round_cpu = time.perf_counter() - started, time.process_time() - cpu
    out.write(f"bare query: {due} due rows in {query_seconds * 1000:.1f} ms ({query_cpu * 1000:.1f} ms CPU)")
    out.write(f"round: {round_seconds:.2f} s = {n / round_seconds:,.0f} deadlines/s "
              f"({round_cpu:.2f} s CPU = {n / round_cpu:,.0f} deadlines/s of CPU)")
    out.write(f"       {stats.line()}")
    if query_seconds > 0:
        out.write(f"round / bare query: {round_seconds / query_seconds:,.0f}x")
    # A second round right after: the steady state of a `sweep --loop`, with nothing new due.
    started = time.perf_counter()
    again = run_round("bench", now=now)
    out.write(f"next round (nothing new due): {(time.perf_counter() - started) * 1000:.0f} ms ({again.line()})")
