"""`tidsnok bench absence`: a year of sick leave for N people, imported through
the services, and the statistics over it.

It builds an organisation of N people in units of 10–40 (under one sector per
25 units, each unit and sector with a manager, one organisation-wide HR
adviser), and generates a year of absence that looks like Norwegian sick leave
(about 6 % of working days lost): many short self-certified episodes of 1–3
days, some doctor-certified ones of 4–16 days, a long tail of long ones up to
months, some of them graded (mostly 50 %), a few work-related, some still going
on. The same --seed gives the same absence (relative to today).

The absence is written as the payroll system's CSV and imported through
`importing.import_episodes` as the HR adviser: every episode goes through the
services (access check, audit event, follow-up cases with their deadlines,
frequent-absence flags), as a real import does. The set-up of the organisation
writes rows directly: it measures the import, not the org services.

Printed: episodes/s for the import (and for importing the same file again,
which must change nothing), the time of `statistics.compute` for the whole
organisation over the year (computed without the cache, as a first request
that fills the cache, and served from the cache), of the statistics page
from the cache, and their ratio to one bare SQL aggregate over the same rows
(the sum of absent days weighted by grade and position percentage, measured
in the same run): the floor any statistics must read.

--profile FILE runs the import under cProfile, writes the stats to FILE and
prints the top functions.

By default it runs in a new temporary SQLite database in a child process, like
`tidsnok bench audit`; --database-url runs against another (throwaway!)
database, which is migrated first.
"""

import cProfile
import csv
import io
import math
import os
import pstats
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta

from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.utils import timezone

HELP = ("Import a year of absence for N people through the services and compute the statistics; prints "
        "episodes/s and the statistics time against a bare SQL aggregate.")

UNIT_SIZE = (10, 40)
UNITS_PER_SECTOR = 25

# Episodes per person-year, and how long they last (calendar days). Tuned so
# that about 6 % of working days are lost, with the shape of Norwegian sick
# leave: self-certified episodes are many but short, long ones few but heavy.
SHORT_RATE, SHORT_DAYS = 1.5, (1, 3)
MEDIUM_RATE, MEDIUM_DAYS = 0.5, (4, 16)
LONG_RATE, LONG_MEDIAN, LONG_SIGMA, LONG_MAX = 0.3, 60, 0.8, 300
GRADED_LONG, GRADED_MEDIUM = 0.35, 0.08
WORK_RELATED = 0.04


def add_arguments(parser) -> None:
    parser.add_argument("--people", type=int, default=1000, help="How many people (default 1000).")
    parser.add_argument("--seed", type=int, default=5, help="Random seed for the absence (default 5).")
    parser.add_argument(
        "--database-url",
        help="Run against this database (migrated first) instead of a new temporary SQLite file. Use a throwaway "
        "database: the benchmark's organisation and its audit events stay in it.",
    )
    parser.add_argument("--configured-db", action="store_true",
                        help="Run against the database tidsnok is configured with, in this process.")
    parser.add_argument("--profile", metavar="FILE", help="Profile the import with cProfile; write the stats to FILE.")
    parser.add_argument("--csv", metavar="FILE", help="Keep the generated CSV in FILE (default: a temporary file).")
    parser.add_argument("--no-reimport", action="store_true", help="Skip importing the same file a second time.")
    parser.add_argument("--statistics-only", action="store_true",
                        help="With --database-url: measure only the statistics, on the last organisation an earlier "
                        "run left in that database (nothing is generated or imported).")


def run(command, options: dict) -> None:
    if options["people"] < UNIT_SIZE[0]:
        raise CommandError(f"--people must be at least {UNIT_SIZE[0]}")
    if options["statistics_only"] and not (options["database_url"] or options["configured_db"]):
        raise CommandError("--statistics-only needs --database-url (a database an earlier run left)")
    if options["configured_db"]:
        if options["statistics_only"]:
            statistics_here(command)
        else:
            bench_here(command, options)
        return
    if options["database_url"]:
        run_in_child(command, options["database_url"], options)
        return
    workdir = tempfile.mkdtemp(prefix="tidsnok-bench-")
    # Stopped from outside (`timeout`, a CI limit): still stop the child and remove the database.
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    try:
        run_in_child(command, f"sqlite:///{os.path.join(workdir, 'bench.sqlite3')}", options)
    finally:
        signal.signal(signal.SIGTERM, previous)
        shutil.rmtree(workdir, ignore_errors=True)


def run_in_child(command, database_url: str, options: dict) -> None:
    args = [sys.executable, "-m", "tidsnok", "bench", "absence", "--people", str(options["people"]),
            "--seed", str(options["seed"]), "--configured-db"]
    for flag in ("profile", "csv"):
        if options.get(flag):
            args += [f"--{flag}", os.path.abspath(options[flag])]
    for flag in ("no_reimport", "statistics_only"):
        if options.get(flag):
            args.append(f"--{flag.replace('_', '-')}")
    env = {**os.environ, "DATABASE_URL": database_url, "EMAIL_URL": "locmem:", "LOG_LEVEL": "WARNING"}
    with subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as child:
        try:
            for line in child.stdout:
                command.stdout.write(line, ending="")
        except BaseException:
            child.terminate()
            child.wait()
            raise
    if child.returncode != 0:
        raise CommandError(f"the benchmark process failed with exit status {child.returncode}")


# --- the organisation ---------------------------------------------------------------------------


@dataclass
class Staff:
    number: str
    start_date: date


def build_organisation(n: int, rng: random.Random):
    """N people in units of 10–40 under sectors, each unit's first person its
    manager, a manager per sector and at the top, and an organisation-wide HR
    adviser with a login. Returns (organisation, HR user, [Staff])."""
    from tidsnok.org import services as org_services
    from tidsnok.org.models import Person, Role, RoleAssignment, Unit, User

    sizes = []
    left = n
    while left > 0:
        size = min(left, rng.randint(*UNIT_SIZE))
        if 0 < left - size < UNIT_SIZE[0]:
            size = left  # no unit smaller than the smallest size
        sizes.append(size)
        left -= size
    org = org_services.create_organisation(None, f"Bench {timezone.now():%Y%m%d%H%M%S}", "999888777")
    with transaction.atomic():
        root = Unit.objects.create(organisation=org, code="B", name="Bench kommune")
        root.path = root.compute_path()
        root.save(update_fields=["path"])
        sector_count = max(1, math.ceil(len(sizes) / UNITS_PER_SECTOR))
        sectors = Unit.objects.bulk_create([
            Unit(organisation=org, code=f"S{i:03d}", name=f"Sektor {i + 1}", parent=root, depth=1)
            for i in range(sector_count)
        ])
        for sector in sectors:
            sector.path = f"{root.path}{sector.pk}/"
        Unit.objects.bulk_update(sectors, ["path"])
        units = Unit.objects.bulk_create([
            Unit(organisation=org, code=f"E{i:05d}", name=f"Enhet {i + 1}", parent=sectors[i // UNITS_PER_SECTOR],
                 depth=2)
            for i in range(len(sizes))
        ])
        for i, unit in enumerate(units):
            unit.path = f"{sectors[i // UNITS_PER_SECTOR].path}{unit.pk}/"
        Unit.objects.bulk_update(units, ["path"], batch_size=2000)

        hr_user = User.objects.create(email=f"hr-{org.pk}@bench.invalid", password="!")
        leaders = [Person(organisation=org, employee_number="L-HR", name="Hanne HR", unit=root, user=hr_user,
                          position="HR-rådgiver", start_date=date(2015, 1, 1)),
                   Person(organisation=org, employee_number="L-TOP", name="Rådmann", unit=root,
                          position="Rådmann", start_date=date(2015, 1, 1))]
        leaders += [Person(organisation=org, employee_number=f"L-{s.code}", name=f"Sektorleder {s.name}", unit=s,
                           position="Kommunalsjef", start_date=date(2015, 1, 1)) for s in sectors]
        leaders = Person.objects.bulk_create(leaders)
        roles = [RoleAssignment(person=leaders[0], role=Role.HR, unit=None),
                 RoleAssignment(person=leaders[1], role=Role.MANAGER, unit=root)]
        roles += [RoleAssignment(person=p, role=Role.MANAGER, unit=s) for p, s in zip(leaders[2:], sectors)]

        staff, people, first_in_unit = [], [], []
        number = 0
        for unit, size in zip(units, sizes):
            first_in_unit.append(len(people))
            for _ in range(size):
                number += 1
                started = date(2000, 1, 1) + timedelta(days=rng.randint(0, 9000))
                percent = 100 if rng.random() < 0.75 else rng.choice([50, 60, 75, 80])
                people.append(Person(organisation=org, employee_number=f"A{number:06d}", name=f"Ansatt {number}",
                                     unit=unit, position="Medarbeider", position_percent=percent,
                                     start_date=started))
                staff.append(Staff(f"A{number:06d}", started))
        people = Person.objects.bulk_create(people, batch_size=2000)
        roles += [RoleAssignment(person=people[i], role=Role.MANAGER, unit=unit)
                  for i, unit in zip(first_in_unit, units)]
        RoleAssignment.objects.bulk_create(roles, batch_size=2000)
    return org, hr_user, staff, len(units), len(sectors)


# --- the absence --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Generated:
    number: str
    external_id: str
    start: date
    end: date | None
    grade: int
    certified: str
    work_related: str


def _next_weekday(day: date) -> date:
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def generate_absence(staff: list[Staff], first: date, today: date, rng: random.Random) -> list[Generated]:
    """A year of absence per person, starting on or after `first` and before
    `today`; what has not ended by today is ongoing (no last day)."""
    total_rate = SHORT_RATE + MEDIUM_RATE + LONG_RATE
    rows = []
    sequence = 0
    for person in staff:
        # Some people are absent much more than others (a gamma "frailty", mean 1).
        frailty = rng.gammavariate(1.5, 1 / 1.5)
        rate_per_day = total_rate * frailty / 365.0
        day = first
        while True:
            day += timedelta(days=int(rng.expovariate(rate_per_day)) if rate_per_day > 0 else 10_000)
            if day >= today:
                break
            pick = rng.random() * total_rate
            grade, work_related = 100, "nei"
            if pick < SHORT_RATE:
                certified = "egenmelding"
                start = _next_weekday(day)
                length = rng.randint(*SHORT_DAYS)
            elif pick < SHORT_RATE + MEDIUM_RATE:
                certified = "sykmelding"
                start = day
                length = rng.randint(*MEDIUM_DAYS)
                if rng.random() < GRADED_MEDIUM:
                    grade = 50
            else:
                certified = "sykmelding"
                start = day
                length = min(LONG_MAX, max(17, int(rng.lognormvariate(math.log(LONG_MEDIAN), LONG_SIGMA))))
                if rng.random() < GRADED_LONG:
                    grade = 50 if rng.random() < 0.7 else rng.choice([20, 40, 60, 80])
            if start >= today:
                break
            if certified == "sykmelding" and rng.random() < WORK_RELATED:
                work_related = rng.choice(["delvis", "ja"])
            end = start + timedelta(days=length - 1)
            sequence += 1
            rows.append(Generated(person.number, f"B{sequence:07d}", start, end if end < today else None, grade,
                                  certified, work_related))
            if end >= today:
                break
            day = end + timedelta(days=1)  # the next one starts at the earliest the day after
    return rows


def as_csv(rows: list[Generated]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\n")
    writer.writerow(["ansattnummer", "fravaers_id", "fra", "til", "grad", "type", "arbeidsrelatert"])
    for r in rows:
        writer.writerow([r.number, r.external_id, r.start.strftime("%d.%m.%Y"),
                         r.end.strftime("%d.%m.%Y") if r.end else "", r.grade, r.certified, r.work_related])
    return out.getvalue().encode()


# --- the floor ----------------------------------------------------------------------------------


def bare_aggregate(organisation_id: int, first: date, last: date) -> tuple[int, float]:
    """One SQL statement: the episodes in the period with their grades and the
    person's position percentage, summed as absent days (calendar days, within
    the period) weighted by grade and position. What any statistics must read."""
    if connection.vendor == "postgresql":
        days = 'LEAST(COALESCE(e."end", %s), %s) - GREATEST(e.start, %s) + 1'
    else:
        days = 'julianday(MIN(COALESCE(e."end", %s), %s)) - julianday(MAX(e.start, %s)) + 1'
    sql = f"""
        SELECT COUNT(*), SUM(({days}) * g.grade * p.position_percent / 10000.0)
        FROM absence_episode e
        JOIN absence_gradeperiod g ON g.episode_id = e.id
        JOIN org_person p ON p.id = e.person_id
        WHERE e.organisation_id = %s AND e.start <= %s AND (e."end" IS NULL OR e."end" >= %s)
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [last, last, first, organisation_id, last, first])
        count, total = cursor.fetchone()
    return count or 0, float(total or 0)


@contextmanager
def _progress(out, total: int, started: float, cpu: float):
    """Report every tenth of the rows as the import registers them: a long import
    is one transaction, so nothing else can see how far it has come."""
    from tidsnok.absence import services

    register = services.register_episode
    step = max(1000, total // 10)
    done = 0

    def counting(*args, **kwargs):
        nonlocal done
        episode = register(*args, **kwargs)
        done += 1
        if done % step == 0:
            seconds = time.perf_counter() - started
            out.write(f"  ... {done} of {total} episodes registered after {seconds:.0f} s "
                      f"({time.process_time() - cpu:.0f} s CPU)")
            out.flush()
        return episode

    services.register_episode = counting
    try:
        yield
    finally:
        services.register_episode = register


# --- the run ------------------------------------------------------------------------------------


def bench_here(command, options: dict) -> None:
    from tidsnok.absence.importing import import_episodes
    from tidsnok.absence.models import Episode, RecurrenceFlag
    from tidsnok.audit.models import AuditEvent
    from tidsnok.cases.models import Case, Deadline

    out = command.stdout
    n, seed = options["people"], options["seed"]
    engine = f"{connection.vendor} ({connection.settings_dict['NAME']})"
    call_command("migrate", verbosity=0, interactive=False)
    rng = random.Random(seed)
    today = timezone.localdate()
    first = today - timedelta(days=365)
    last = today - timedelta(days=1)

    started = time.perf_counter()
    org, hr_user, staff, unit_count, sector_count = build_organisation(n, rng)
    rows = generate_absence(staff, first, today, rng)
    data = as_csv(rows)
    if options.get("csv"):
        with open(options["csv"], "wb") as handle:
            handle.write(data)
    out.write(f"absence bench on {engine}, seed {seed}: {n} people in {unit_count} units under {sector_count} "
              f"sectors; {first:%d.%m.%Y}–{last:%d.%m.%Y}")
    by_kind = {"egenmelding": 0, "sykmelding": 0}
    for r in rows:
        by_kind[r.certified] += 1
    long_ = sum(1 for r in rows if r.certified == "sykmelding" and ((r.end or today) - r.start).days + 1 > 16)
    out.write(
        f"generated: {len(rows)} episodes ({by_kind['egenmelding']} self-certified, {by_kind['sykmelding']} "
        f"doctor-certified of which {long_} longer than 16 days, {sum(1 for r in rows if r.grade < 100)} graded, "
        f"{sum(1 for r in rows if r.work_related != 'nei')} work-related, {sum(1 for r in rows if r.end is None)} "
        f"ongoing); CSV {len(data) / 1e6:.1f} MB; set-up {time.perf_counter() - started:.1f} s"
    )

    events_before = AuditEvent.objects.count()
    profiler = cProfile.Profile() if options.get("profile") else None
    started, cpu = time.perf_counter(), time.process_time()
    if profiler:
        profiler.enable()
    with _progress(out, len(rows), started, cpu):
        result = import_episodes(hr_user, org, data, "bench.csv")
    if profiler:
        profiler.disable()
    import_seconds, import_cpu = time.perf_counter() - started, time.process_time() - cpu
    if not result.ok:
        problems = "; ".join(f"line {e.line} {e.column}: {e.reason}" for e in result.errors[:5])
        raise CommandError(f"the import was refused ({len(result.errors)} problems): {problems}")
    cases = Case.objects.filter(organisation=org).count()
    out.write(
        f"import: {len(rows)} episodes in {import_seconds:.1f} s = {len(rows) / import_seconds:,.0f} episodes/s "
        f"({import_cpu:.1f} s CPU); created {result.summary['created']}, follow-up cases {cases}, "
        f"deadlines {Deadline.objects.filter(case__organisation=org).count()}, "
        f"frequent-absence flags {RecurrenceFlag.objects.filter(organisation=org).count()}, "
        f"audit events {AuditEvent.objects.count() - events_before}"
    )
    if profiler:
        profiler.dump_stats(options["profile"])
        stream = io.StringIO()
        stats = pstats.Stats(profiler, stream=stream)
        stats.sort_stats("cumulative").print_stats(35)
        stats.sort_stats("tottime").print_stats(20)
        out.write(f"profile written to {options['profile']}")
        out.write(stream.getvalue())

    if not options.get("no_reimport"):
        started = time.perf_counter()
        again = import_episodes(hr_user, org, data, "bench.csv")
        seconds = time.perf_counter() - started
        out.write(f"re-import of the same file: {seconds:.1f} s = {len(rows) / seconds:,.0f} episodes/s "
                  f"(unchanged {again.summary.get('unchanged')}, created {again.summary.get('created')}, "
                  f"changed {again.summary.get('changed')})")

    assert Episode.objects.filter(organisation=org).count() == len(rows)
    bench_statistics(out, hr_user, org, first, last)


def statistics_here(command) -> None:
    """--statistics-only: the statistics of the last benchmark organisation in this database, over
    the year before today (as the run that made it measured them, if it ran today)."""
    from tidsnok.org.models import Organisation, User

    org = Organisation.objects.filter(name__startswith="Bench ").order_by("-pk").first()
    if org is None:
        raise CommandError("no benchmark organisation in this database: run without --statistics-only first")
    hr_user = User.objects.get(email=f"hr-{org.pk}@bench.invalid")
    today = timezone.localdate()
    command.stdout.write(f"statistics of {org.name} ({org.people.count()} people) on {connection.vendor} "
                         f"({connection.settings_dict['NAME']})")
    bench_statistics(command.stdout, hr_user, org, today - timedelta(days=365), today - timedelta(days=1))


def _timed(fn, repeat: int):
    """(best wall seconds, best CPU seconds, result) over `repeat` runs."""
    best_wall = best_cpu = None
    result = None
    for _ in range(repeat):
        started, cpu = time.perf_counter(), time.process_time()
        result = fn()
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        best_wall = wall if best_wall is None else min(best_wall, wall)
        best_cpu = cpu if best_cpu is None else min(best_cpu, cpu)
    return best_wall, best_cpu, result


def _statistics_page_times(hr_user, requests: int) -> tuple[float, list[float], list[float]]:
    """Wall seconds of the statistics page (the view and its template; no middleware) for HR, with
    its default period, on an empty cache (as after any change of the data); then wall and CPU
    seconds (each sorted) of `requests` more, served from the cache."""
    from django.contrib.messages.storage.fallback import FallbackStorage
    from django.core.cache import cache
    from django.test import RequestFactory

    from tidsnok.absence import statistics
    from tidsnok.absence.views import statistics_page
    from tidsnok.org.models import User

    factory = RequestFactory()
    key = statistics.cache_key(hr_user, hr_user.person.organisation, *statistics.default_period())

    def request_page() -> tuple[float, float]:
        request = factory.get("/sykefravaer/statistikk/")
        request.user = User.objects.get(pk=hr_user.pk)  # a fresh user: nothing memoised on it
        request.session = {}
        request._messages = FallbackStorage(request)
        started, cpu = time.perf_counter(), time.process_time()
        response = statistics_page(request)
        assert response.status_code == 200, response.status_code
        return time.perf_counter() - started, time.process_time() - cpu

    request_page()  # templates loaded and compiled
    cache.delete(key)
    cold, _cpu = request_page()  # the first request after a change: computes and fills the cache
    walls, cpus = [], []
    for _ in range(requests):
        wall, cpu = request_page()
        walls.append(wall)
        cpus.append(cpu)
    return cold, sorted(walls), sorted(cpus)


def bench_statistics(out, hr_user, org, first: date, last: date, repeat: int = 3) -> None:
    """The statistics for the whole organisation as HR sees them: computed without the cache, a
    first request (an empty cache entry: fingerprint, computation, storing), a request served
    from the cache, the fingerprint query alone, the page, and the bare SQL aggregate."""
    from django.core.cache import cache

    from tidsnok.absence import statistics

    call_command("createcachetable", verbosity=0)  # the database cache (a no-op when it exists)
    key = statistics.cache_key(hr_user, org, first, last)

    def first_request():
        cache.delete(key)
        return statistics.compute(hr_user, org, first, last)

    cold_wall, cold_cpu, stats = _timed(lambda: statistics.compute(hr_user, org, first, last, use_cache=False), repeat)
    miss_wall, miss_cpu, _stats = _timed(first_request, repeat)
    hit_wall, hit_cpu, cached = _timed(lambda: statistics.compute(hr_user, org, first, last), max(repeat, 5))
    assert statistics.as_csv(cached) == statistics.as_csv(stats)
    print_wall, print_cpu, _fingerprint = _timed(statistics.data_fingerprint, max(repeat, 5))
    sql_seconds, _sql_cpu, (count, weighted_days) = _timed(lambda: bare_aggregate(org.pk, first, last), repeat)
    cold_page, walls, cpus = _statistics_page_times(hr_user, 20)
    out.write(
        f"statistics: {len(stats.table)} unit-months, {len(stats.units())} units; sick-leave rate "
        f"{stats.total.rate:.2f} % (lost {stats.total.lost_days:,.0f} of {stats.total.possible_days:,.0f} working days)"
    )
    out.write(f"  computed (no cache):           {cold_wall * 1000:7.1f} ms ({cold_cpu * 1000:.1f} ms CPU)")
    out.write(f"  first request (empty cache):   {miss_wall * 1000:7.1f} ms ({miss_cpu * 1000:.1f} ms CPU)")
    out.write(f"  request served from the cache: {hit_wall * 1000:7.1f} ms ({hit_cpu * 1000:.1f} ms CPU), of which "
              f"the fingerprint query {print_wall * 1000:.1f} ms")
    p50, p95 = len(walls) // 2, math.ceil(0.95 * len(walls)) - 1
    out.write(f"  page (view and template), empty cache: {cold_page * 1000:.1f} ms")
    out.write(f"  page from the cache (view and template, {len(walls)} requests): p50 {walls[p50] * 1000:.1f} ms, "
              f"p95 {walls[p95] * 1000:.1f} ms; CPU p50 {cpus[p50] * 1000:.1f} ms, p95 {cpus[p95] * 1000:.1f} ms")
    out.write(f"bare SQL aggregate: {count} episode-grade rows, {weighted_days:,.0f} weighted calendar days, "
              f"in {sql_seconds * 1000:.1f} ms")
    if sql_seconds > 0:
        out.write(f"statistics / bare aggregate: {cold_wall / sql_seconds:,.1f}x computed, "
                  f"{hit_wall / sql_seconds:,.1f}x from the cache")
