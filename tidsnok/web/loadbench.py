"""`tidsnok bench load`: the key journeys through gunicorn, against the configured database.

Meant for a database made by `tidsnok generate` (it adds entries, a calendar
feed and an API token to it while it runs: use a throwaway copy). It:

1. picks realistic users of the largest organisation: the manager of its
   largest unit, the manager of a small unit (at least 10 people), an HR
   adviser for the whole organisation (with TOTP) and an employee concerned
   by a case;
2. starts gunicorn on 127.0.0.1 (DEBUG off, several workers) with an access
   log of the server time of every request (gunicorn's %(D)s, microseconds);
3. logs each user in through the real login form (TOTP for HR), as a browser;
4. drives the journeys from several client threads for a fixed time or a
   fixed number of requests, whichever ends first: Min oversikt, the case
   list, a case page, adding an entry (POST with CSRF), the compliance
   overview, the sick-leave statistics, a case PDF, the calendar feed and the
   API case list;
5. measures the SQL floor of each journey in this process: the journey's
   queries are captured once (connection.execute_wrapper) while the page is
   rendered by Django's test client, then the same statements are re-run on a
   bare cursor; the floor is the median time of those re-runs. A write journey
   is captured and re-run inside a transaction that is rolled back;
6. with `--profile RUNS`, renders each journey RUNS more times in this process under
   cProfile and says which part of the stack spent the time (benchprofile.py).

It prints, per journey and user: requests, requests/s, p50/p95/p99 server
time, errors, the in-process time of the page, the SQL floor, the number of
queries, and the ratio of the server's p50 to the floor.

`--database-url` runs it against another database (in a child process).
Only 127.0.0.1 is ever contacted.
"""

import base64
import hmac
import http.client
import itertools
import os
import re
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from django.core.management.base import CommandError

from tidsnok.web import benchprofile

HELP = ("Drive the key journeys (pages, a POST, PDF, calendar, API) through gunicorn on 127.0.0.1 against the "
        "configured database for a fixed time; prints requests/s, p50/p95/p99 server time and the ratio to the SQL floor.")

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
JOURNEY_HEADER = "X-Bench-Journey"


# --- a small browser: cookies, CSRF, login ----------------------------------------------------------


class HttpError(Exception):
    pass


class Browser:
    """One user's cookies over plain HTTP to 127.0.0.1. Cookies are kept per
    browser, not per port: like a browser behind one load balancer address,
    the same session cookie goes to every app server it is pointed at."""

    def __init__(self, port: int, timeout: float = 120.0):
        self.port = port
        self.timeout = timeout
        self.cookies: dict[str, str] = {}
        self.lock = threading.Lock()

    def at(self, port: int) -> "Browser":
        """The same cookies, sent to another server."""
        other = Browser(port, self.timeout)
        other.cookies = self.cookies
        other.lock = self.lock
        return other

    def request(self, method: str, path: str, *, body: bytes | None = None, headers: dict | None = None,
                journey: str = "") -> tuple[int, dict, bytes, float]:
        headers = dict(headers or {})
        with self.lock:
            if self.cookies:
                headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if journey:
            headers[JOURNEY_HEADER] = journey
        headers.setdefault("Accept-Language", "nb")
        connection = http.client.HTTPConnection(HOST, self.port, timeout=self.timeout)
        started = time.perf_counter()
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
        finally:
            connection.close()
        elapsed = time.perf_counter() - started
        with self.lock:
            for name, value in response.getheaders():
                if name.lower() == "set-cookie":
                    pair = value.split(";", 1)[0]
                    key, _, val = pair.partition("=")
                    if val in ("", '""') or "max-age=0" in value.lower():
                        self.cookies.pop(key.strip(), None)
                    else:
                        self.cookies[key.strip()] = val.strip()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data, elapsed

    def get(self, path: str, **kwargs):
        return self.request("GET", path, **kwargs)

    def post_form(self, path: str, fields: dict, **kwargs):
        headers = {"Content-Type": "application/x-www-form-urlencoded", **kwargs.pop("headers", {})}
        return self.request("POST", path, body=urlencode(fields, doseq=True).encode(), headers=headers, **kwargs)

    def csrf_from(self, path: str) -> str:
        status, _headers, body, _t = self.get(path)
        if status != 200:
            raise HttpError(f"GET {path}: {status}")
        match = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body)
        if match is None:
            raise HttpError(f"no CSRF token on {path}")
        return match.group(1).decode()

    def login(self, email: str, password: str, totp_secret: str | None = None) -> None:
        """Through allauth's login form, and its second step when the user has TOTP."""
        token = self.csrf_from("/accounts/login/")
        status, headers, body, _t = self.post_form(
            "/accounts/login/", {"login": email, "password": password, "csrfmiddlewaretoken": token})
        if status != 302:
            raise HttpError(f"login of {email}: {status}")
        if "2fa/authenticate" in headers.get("location", ""):
            if totp_secret is None:
                raise HttpError(f"{email} needs a second factor")
            token = self.csrf_from("/accounts/2fa/authenticate/")
            for attempt in range(2):
                if attempt:
                    # A code is accepted once: a run started within 30 s of the last one's login
                    # waits for the next code, as a person with an authenticator app would.
                    time.sleep(30 - time.time() % 30 + 0.5)
                status, headers, body, _t = self.post_form(
                    "/accounts/2fa/authenticate/", {"code": totp_now(totp_secret), "csrfmiddlewaretoken": token})
                if status != 200:  # 200: the form again, the code refused
                    break
            if status != 302:
                raise HttpError(f"second factor of {email}: {status}")
        if "sessionid" not in self.cookies:
            raise HttpError(f"no session for {email}")


def totp_now(secret: str, at: float | None = None) -> str:
    """RFC 6238 (SHA-1, 30 s, 6 digits), as authenticator apps compute it."""
    key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    digest = hmac.new(key, struct.pack(">Q", int(at if at is not None else time.time()) // 30), "sha1").digest()
    offset = digest[-1] & 0x0F
    return f"{(struct.unpack('>I', digest[offset:offset + 4])[0] & 0x7FFFFFFF) % 1_000_000:06d}"


def totp_secret_of(user) -> str | None:
    from allauth.mfa.adapter import get_adapter
    from allauth.mfa.models import Authenticator

    row = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).first()
    return get_adapter().decrypt(row.data["secret"]) if row else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def start_gunicorn(port: int, workers: int, env: dict, log_dir: str, access_log: str | None = None,
                   threads: int = 1) -> subprocess.Popen:
    """gunicorn with tidsnok on 127.0.0.1:port; output to files in log_dir (a pipe could fill and block it)."""
    args = [sys.executable, "-m", "gunicorn", "tidsnok.wsgi:application", "--bind", f"{HOST}:{port}",
            "--workers", str(workers), "--threads", str(threads), "--timeout", "300", "--graceful-timeout", "10"]
    if access_log:
        args += ["--access-logfile", access_log, "--access-logformat", "%({x-bench-journey}i)s %(s)s %(D)s"]
    out = open(os.path.join(log_dir, f"gunicorn-{port}.log"), "w")
    return subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def wait_healthy(port: int, process: subprocess.Popen, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise CommandError(f"gunicorn on port {port} exited with status {process.returncode}")
        try:
            status, _h, body, _t = Browser(port, timeout=10).get("/healthz")
            if status == 200:
                return
            last = f"{status} {body[:200].decode(errors='replace')}"
        except OSError as exc:
            last = str(exc)
        time.sleep(0.3)
    raise CommandError(f"gunicorn on port {port} did not answer /healthz with 200 within {timeout:.0f} s "
                       f"(last: {last}; a pending migration answers 503: run `tidsnok migrate`)")


def worker_memory(master_pid: int) -> list[float]:
    """Resident memory (MB) of gunicorn's worker processes, from /proc (Linux); [] elsewhere."""
    sizes = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if fields.get("PPid", "").strip() == str(master_pid) and "VmRSS" in fields:
            sizes.append(int(fields["VmRSS"].split()[0]) / 1024)
    return sorted(sizes)


def stop(process: subprocess.Popen | None, timeout: float = 30.0) -> None:
    """SIGTERM the process group it leads, then SIGKILL if it lingers."""
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


# --- the benchmark ----------------------------------------------------------------------------------


def add_arguments(parser) -> None:
    parser.add_argument("--duration", type=float, default=60, help="Seconds of load (default 60).")
    parser.add_argument("--max-requests", type=int, default=3000, help="Stop after this many requests (default 3000).")
    parser.add_argument("--clients", type=int, default=4, help="Concurrent client threads (default 4).")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn worker processes (default 3).")
    parser.add_argument("--password", default=None,
                        help="Password of the generated logins (default TIDSNOK_DEMO_PASSWORD).")
    parser.add_argument("--organisation", default=None, help="Name of the organisation (default: the largest).")
    parser.add_argument("--floor-repeats", type=int, default=15, help="Re-runs of each journey's SQL (default 15).")
    parser.add_argument("--timings", type=int, default=None,
                        help="In-process timed runs of each journey (default max(3, floor repeats // 3)); 1 for "
                             "a quick check.")
    parser.add_argument("--profile", type=int, default=0, metavar="RUNS",
                        help="Also profile each journey in process over RUNS requests and say where its time "
                             "goes (database, ORM, templates, request handling, tidsnok); the profiles are kept "
                             "for pstats (default 0: no profile).")
    parser.add_argument("--only", action="append", default=[], metavar="SUBSTRING",
                        help="Drive only the journeys whose name or user contains this (repeatable), to compare "
                             "one page before and after a change.")
    parser.add_argument("--database-url", default=None,
                        help="Run against this database (in a child process) instead of the configured one.")


def run(command, options: dict) -> None:
    if options.get("timings") is not None and options["timings"] < 1:
        raise CommandError("--timings must be 1 or more.")
    if options["database_url"]:
        args = [sys.executable, "-m", "tidsnok", "bench", "load"]
        for key in ("duration", "max_requests", "clients", "workers", "password", "organisation", "floor_repeats",
                    "timings", "profile"):
            if options.get(key) is not None:
                args += [f"--{key.replace('_', '-')}", str(options[key])]
        for wanted in options.get("only") or []:
            args += ["--only", wanted]
        env = {**os.environ, "DATABASE_URL": options["database_url"]}
        with subprocess.Popen(args, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True) as child:
            for line in child.stdout:
                command.stdout.write(line, ending="")
        if child.returncode != 0:
            raise CommandError(f"the benchmark process failed with exit status {child.returncode}")
        return
    password = options["password"] or os.environ.get("TIDSNOK_DEMO_PASSWORD")
    if not password:
        raise CommandError("Give --password (the password `tidsnok generate` printed) or set TIDSNOK_DEMO_PASSWORD.")
    LoadBench(command, options, password).run()


@dataclass
class Persona:
    key: str
    label: str
    user: object
    totp: str | None = None
    unit_id: int | None = None  # the unit a manager persona manages
    case_id: int | None = None
    # Where her "add entry" writes: another of her cases when she has one, so that the case page
    # and the PDF above show the same case all through the run.
    entry_case_id: int | None = None
    browser: Browser | None = None


@dataclass
class Journey:
    key: str  # "persona/journey"
    label: str
    persona: Persona
    method: str
    path: str
    expect: tuple = (200,)
    api_token: str | None = None
    form: dict | None = None  # for POST: fields besides the CSRF token
    session: bool = True
    times: list = field(default_factory=list)  # client-side seconds
    server_us: list = field(default_factory=list)
    errors: int = 0
    error_samples: list = field(default_factory=list)
    floor: float | None = None
    queries: int = 0
    in_process: float | None = None
    in_process_cpu: float | None = None
    slowest: tuple[float, str] | None = None  # the floor's slowest statement: (median seconds, SQL)
    profile: dict | None = None  # seconds of CPU per area (benchprofile.split), with --profile


# A statement of a page's floor that takes longer than this is named in the report.
SLOW_STATEMENT = 0.001


def _statement_head(sql: str, width: int = 220) -> str:
    """A statement on one line, its outer column list left out: the tables and conditions are
    what tell which query it is."""
    text = " ".join(sql.split())
    if text.upper().startswith("SELECT "):
        depth = 0
        for i, char in enumerate(text):
            depth += {"(": 1, ")": -1}.get(char, 0)
            if depth == 0 and text.startswith(" FROM ", i):
                text = "SELECT …" + text[i:]
                break
    return text if len(text) <= width else text[:width - 1] + "…"


def _cpu_with_children() -> float:
    """CPU seconds of this process and of its children that have ended: a PDF is typeset by a
    child process (reports.typeset), whose CPU is the page's too."""
    own = time.process_time()
    children = os.times()
    return own + children.children_user + children.children_system


def _percentile(values, p):
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


class LoadBench:
    def __init__(self, command, options, password):
        self.command = command
        self.options = options
        self.password = password

    def out(self, line=""):
        self.command.stdout.write(line)

    # --- who and what ------------------------------------------------------------------------------

    def personas(self):
        from django.db.models import Count, Exists, OuterRef, Q

        from tidsnok.cases.models import Case, Handler, Party
        from tidsnok.org.models import Organisation, Person, Role, RoleAssignment, Unit

        orgs = Organisation.objects.annotate(n=Count("people"))
        org = (orgs.filter(name=self.options["organisation"]) if self.options["organisation"]
               else orgs.order_by("-n")).first()
        if org is None:
            raise CommandError("No organisation found: run `tidsnok generate` first.")
        self.org = org
        units = Unit.objects.filter(organisation=org).annotate(n=Count("people")).filter(n__gte=10)
        managed = RoleAssignment.objects.active().filter(role=Role.MANAGER, person__user__isnull=False)
        units = units.filter(Exists(managed.filter(unit=OuterRef("pk"))))
        large, small = units.order_by("-n", "pk").first(), units.order_by("n", "pk").first()
        if large is None:
            raise CommandError(f"«{org.name}» has no managed unit of 10 people or more.")

        def manager_of(unit):
            return managed.filter(unit=unit).select_related("person__user").order_by("pk").first().person.user

        hr_users = [r.person.user for r in RoleAssignment.objects.active().filter(
            role=Role.HR, unit__isnull=True, person__organisation=org, person__user__isnull=False,
        ).select_related("person__user").order_by("pk")]
        hr = next((u for u in hr_users if totp_secret_of(u)), None)
        if hr is None:
            raise CommandError("No HR adviser for the whole organisation with TOTP.")
        not_managers = ~Q(pk__in=RoleAssignment.objects.filter(role__in=[Role.MANAGER, Role.DEPUTY, Role.HR,
                                                                        Role.ADMIN]).values("person_id"))
        employee = (Person.objects.filter(organisation=org, user__isnull=False).filter(not_managers)
                    .filter(Exists(Party.objects.filter(person=OuterRef("pk"), role="concerned")))
                    .select_related("user").order_by("pk").first())
        personas = [
            Persona("mgr-large", f"manager, large unit ({large.n} people)", manager_of(large), unit_id=large.pk),
            Persona("mgr-small", f"manager, small unit ({small.n} people)", manager_of(small), unit_id=small.pk),
            Persona("hr", "HR, whole organisation", hr, totp=totp_secret_of(hr)),
        ]
        if employee is not None:
            personas.append(Persona("employee", "employee", employee.user))
        # A case each handler works on: an open, non-restricted one she handles, with the most
        # entries; and the next such case of the same kind for her new entries. Written to the
        # case she reads, a 60-second run took the case page and PDF from 12 entries to 91, each
        # request dearer than the one before.
        for persona in personas[:3]:
            person = Person.objects.get(user=persona.user)
            cases = Case.objects.filter(organisation=org, status="open", restricted=False)
            if persona.key != "hr":
                cases = cases.filter(Exists(Handler.objects.filter(case=OuterRef("pk"), person=person,
                                                                   removed_at__isnull=True)))
            cases = cases.annotate(e=Count("entries")).order_by("-e", "pk")
            read = cases.values_list("pk", "kind").first()
            persona.case_id = read[0] if read else None
            if persona.key != "hr" and read:  # HR reads; the managers write
                # Of the same kind: a note costs more on a sick-leave case (its rules run).
                other = cases.filter(kind=read[1]).exclude(pk=read[0]).values_list("pk", flat=True).first()
                persona.entry_case_id = other or self.second_case(persona, read[1])
        return personas

    def second_case(self, persona, kind: str) -> int | None:
        """A case for a manager's new entries when she has only the one she reads: opened through the
        services, as she would, about someone in the unit she manages (a benchmark's database is a
        copy)."""
        from django.db.models import Q
        from django.utils import timezone

        from tidsnok.cases import services
        from tidsnok.cases.models import MANAGER_KINDS, Source
        from tidsnok.org.models import Person

        today = timezone.localdate()
        colleague = (Person.objects.filter(unit_id=persona.unit_id).exclude(user=persona.user)
                     .filter(Q(end_date__isnull=True) | Q(end_date__gte=today)).order_by("pk").first())
        if colleague is None or kind not in MANAGER_KINDS:  # sick-leave cases come from absence only
            return persona.case_id
        case = services.open_case(persona.user, kind=kind, concerns=[colleague], source=Source.OBSERVED,
                                  description="Lasttest: saken nye notater skrives i.", known_at=today)
        return case.pk

    def search_term(self) -> str:
        """The full name, in lower case, of the organisation's first person with æ, ø or å in it
        (SQLite folds those in Python, ASCII in C), else of its first person."""
        from django.db.models import Q

        from tidsnok.org.models import Person

        people = Person.objects.filter(organisation_id=self.org.pk)
        nordic = Q(name__contains="æ") | Q(name__contains="ø") | Q(name__contains="å")
        name = (people.filter(nordic).order_by("pk").values_list("name", flat=True).first()
                or people.order_by("pk").values_list("name", flat=True).first())
        return name.lower()

    def journeys(self, personas):
        from django.utils import timezone

        from tidsnok.access import services as access_services
        from tidsnok.notify import services as notify_services

        by_key = {p.key: p for p in personas}
        big, small, hr = by_key["mgr-large"], by_key["mgr-small"], by_key["hr"]
        feed = notify_services.new_calendar_feed(big.user)
        _token, api_token = access_services.create_token(None, hr.user, "bench load")
        today = timezone.localdate().isoformat()
        journeys = []

        def add(persona, name, method, path, **kwargs):
            journeys.append(Journey(f"{persona.key}/{name}", name, persona, method, path, **kwargs))

        for persona in (big, small, hr):
            add(persona, "home", "GET", "/")
            add(persona, "case list", "GET", "/saker/")
            if persona.case_id:
                add(persona, "case page", "GET", f"/saker/{persona.case_id}/")
                add(persona, "case PDF", "GET", f"/rapporter/saker/{persona.case_id}/pdf")
            add(persona, "statistics", "GET", "/sykefravaer/statistikk/")
        for persona in (big, hr):
            add(persona, "compliance", "GET", "/etterlevelse/")
        for persona in (big, small):
            if persona.entry_case_id:
                add(persona, "add entry", "POST", f"/saker/{persona.entry_case_id}/oppforing/notat/", expect=(302,),
                    form={"notat-occurred_on": today, "notat-text": "Notat fra lasttesten."})
        add(big, "calendar feed", "GET", f"/kalender/{feed}.ics", session=False)
        add(hr, "API case list", "GET", "/api/v1/cases", api_token=api_token, session=False)
        add(hr, "yearly report", "GET", "/rapporter/arsrapport/")
        # HR looks someone up among everyone to register a sick leave: a name search over the whole
        # organisation, as typed (lower case, with a Norwegian letter where the names have one).
        add(hr, "people search", "GET", "/sykefravaer/ny/?" + urlencode({"sok": self.search_term()}))
        add(hr, "reports list", "GET", "/varsler/")  # the whistleblowing reports HR handles
        if "employee" in by_key:
            add(by_key["employee"], "home", "GET", "/")
            add(by_key["employee"], "my cases", "GET", "/saker/mine/")
        # The systematic HMS work (risk room), where the organisation has it (`generate --risk-only`
        # adds it to one generated before the room existed).
        from tidsnok.risk.models import Assessment

        assessment = (Assessment.objects.filter(unit_id=big.unit_id, status="completed")
                      .order_by("-completed_on", "-pk").values_list("pk", flat=True).first())
        if assessment is not None:
            add(big, "risk list", "GET", "/risiko/")
            add(big, "risk assessment", "GET", f"/risiko/{assessment}/")
            add(hr, "risk list", "GET", "/risiko/")
            add(hr, "risk coverage", "GET", "/risiko/dekning/")
        return journeys

    # --- the load ----------------------------------------------------------------------------------

    def fire(self, journey: Journey, browser: Browser):
        headers = {}
        if journey.api_token:
            headers["Authorization"] = f"Bearer {journey.api_token}"
        if journey.method == "POST":
            fields = {**journey.form, "csrfmiddlewaretoken": browser.cookies.get("csrftoken", "")}
            return browser.post_form(journey.path, fields, headers={"Referer": f"http://{HOST}:{browser.port}/",
                                                                     **headers}, journey=journey.key)
        return browser.get(journey.path, headers=headers, journey=journey.key)

    def drive(self, journeys, port):
        duration, limit, clients = self.options["duration"], self.options["max_requests"], self.options["clients"]
        anonymous = Browser(port)
        cycle = itertools.cycle(journeys)
        lock = threading.Lock()
        issued = [0]
        stop_at = time.monotonic() + duration

        def client():
            while True:
                with lock:
                    if issued[0] >= limit or time.monotonic() >= stop_at:
                        return
                    issued[0] += 1
                    journey = next(cycle)
                browser = journey.persona.browser if journey.session else anonymous
                try:
                    status, _headers, _body, elapsed = self.fire(journey, browser)
                except OSError as exc:
                    status, elapsed = f"{type(exc).__name__}", 0.0
                with lock:
                    journey.times.append(elapsed)
                    if status not in journey.expect:
                        journey.errors += 1
                        if len(journey.error_samples) < 3:
                            journey.error_samples.append(str(status))

        started = time.perf_counter()
        threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return time.perf_counter() - started, issued[0]

    # --- the SQL floor -----------------------------------------------------------------------------

    def measure_floor(self, journey: Journey, repeats: int, timings: int | None = None, warm: bool = True):
        """The journey's SQL floor (median of `repeats` re-runs of its statements on a bare cursor)
        and its in-process time (median of `timings` runs, by default max(3, repeats // 3)).
        `warm=False` skips the first, untimed request, for a caller that has just made it."""
        from django.db import connection, transaction
        from django.test import Client

        client = Client(HTTP_ACCEPT_LANGUAGE="nb", HTTP_HOST=HOST)
        if journey.session:
            client.force_login(journey.persona.user)
        extra = {"HTTP_AUTHORIZATION": f"Bearer {journey.api_token}"} if journey.api_token else {}
        captured = []

        def capture(execute, sql, params, many, context):
            # Only statements that succeed: one the application recovers from (the database
            # cache adding a key that is there, rolled back to its savepoint) would end the
            # replay, which has no handler for it.
            result = execute(sql, params, many, context)
            # The transaction itself is the replay's own (SQLite's BEGIN goes through a cursor).
            if not sql.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK")):
                captured.append((sql, params, many))
            return result

        def request():
            if journey.method == "POST":
                return client.post(journey.path, journey.form, **extra)
            return client.get(journey.path, **extra)

        def rolled_back(fn):
            # Every run (capture, re-runs, timings) in a transaction that is rolled back: the
            # database is the same each time, so a journey that writes (an entry, an audit event
            # for a read that is logged, a PDF export) re-runs the very same statements.
            with transaction.atomic():
                result = fn()
                transaction.set_rollback(True)
            return result

        if warm:
            rolled_back(request)  # warm caches and lazy imports
        with connection.execute_wrapper(capture):
            response = rolled_back(request)
        if response.status_code not in journey.expect:
            journey.error_samples.append(f"in-process {response.status_code}")
        journey.queries = len(captured)

        # Each statement's own time too: the slowest one is where to look first (see report).
        per_statement = [[] for _ in captured]

        def replay():
            with connection.cursor() as cursor:
                for (sql, params, many), times in zip(captured, per_statement, strict=True):
                    started = time.perf_counter()
                    if many:
                        cursor.executemany(sql, params)
                    else:
                        cursor.execute(sql, params)
                        if cursor.description is not None:
                            cursor.fetchall()
                    times.append(time.perf_counter() - started)

        floors = []
        for _ in range(repeats):
            started = time.perf_counter()
            rolled_back(replay)
            floors.append(time.perf_counter() - started)
        if captured:
            medians = [statistics.median(times) for times in per_statement]
            slowest = max(range(len(captured)), key=medians.__getitem__)
            journey.slowest = (medians[slowest], captured[slowest][0])
        timings, cpu = [], []
        for _ in range(timings or max(3, repeats // 3)):
            started, started_cpu = time.perf_counter(), _cpu_with_children()
            rolled_back(request)
            timings.append(time.perf_counter() - started)
            cpu.append(_cpu_with_children() - started_cpu)
        journey.in_process = statistics.median(timings)
        journey.in_process_cpu = statistics.median(cpu)
        journey.floor = statistics.median(floors)
        if self.options.get("profile"):
            stats = benchprofile.profile(lambda: rolled_back(request), self.options["profile"])
            journey.profile = benchprofile.split(stats)
            stats.dump_stats(os.path.join(self.profile_dir, re.sub(r"\W+", "-", journey.key) + ".prof"))

    # --- the run -----------------------------------------------------------------------------------

    def run(self):
        from django.db import connection

        from tidsnok.notify import planner

        opts = self.options
        # What the sweep does every hour in production (a copied database may have no statistics).
        planner.analyze()
        personas = self.personas()
        journeys = self.journeys(personas)
        only = [wanted.lower() for wanted in opts.get("only") or []]
        if only:
            journeys = [j for j in journeys if any(wanted in j.key.lower() for wanted in only)]
            if not journeys:
                raise CommandError(f"No journey matches --only {' '.join(opts['only'])}.")
        port = free_port()
        log_dir = self.log_dir = tempfile.mkdtemp(prefix="tidsnok-load-")
        access_log = os.path.join(log_dir, "access.log")
        env = {**os.environ, "DEBUG": "0", "LOG_LEVEL": "WARNING", "ALLOWED_HOSTS": HOST,
               "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "tidsnok.settings")}
        # The workers read the same settings: say whether they keep their connections.
        engine = f"{connection.vendor} (connections kept {connection.settings_dict['CONN_MAX_AGE']} s)"
        self.out(f"load bench on {engine}, «{self.org.name}» ({self.org.n} people); gunicorn {opts['workers']} "
                 f"workers on {HOST}:{port}; {opts['clients']} clients for at most {opts['duration']:g} s or "
                 f"{opts['max_requests']} requests; {os.cpu_count()} CPUs, load average "
                 f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")
        for p in personas:
            self.out(f"  {p.key}: {p.label}" + (f", case {p.case_id}" if p.case_id else "")
                     + (f", new entries in case {p.entry_case_id}"
                        if p.entry_case_id and p.entry_case_id != p.case_id else ""))
        server = None
        try:
            server = start_gunicorn(port, opts["workers"], env, log_dir, access_log)
            try:
                wait_healthy(port, server)
            except CommandError as exc:
                raise CommandError(f"{exc} (server log in {log_dir})") from exc
            # Only those whose pages are driven: HR's second factor accepts each code once, so every
            # login of hers costs a code (see Browser.login).
            driven = {journey.persona.key for journey in journeys if journey.session}
            for persona in (p for p in personas if p.key in driven):
                persona.browser = Browser(port)
                try:
                    persona.browser.login(persona.user.email, self.password, persona.totp)
                except HttpError as exc:
                    raise CommandError(f"{exc}: is --password the one `tidsnok generate` printed?") from exc
            # One round of every journey first: lazy imports and caches in every worker.
            for _ in range(opts["workers"]):
                for journey in journeys:
                    self.fire(journey, journey.persona.browser if journey.session else Browser(port))
            with open(access_log, "a") as log:
                log.write("--- measured ---\n")
            elapsed, total = self.drive(journeys, port)
            self.memory = worker_memory(server.pid)
        finally:
            stop(server)
        self.read_access_log(access_log, journeys)
        connection.close()
        if opts.get("profile"):
            self.profile_dir = tempfile.mkdtemp(prefix="tidsnok-profile-")
        for journey in journeys:
            self.measure_floor(journey, opts["floor_repeats"], opts.get("timings"))
        self.report(journeys, elapsed, total)
        if not any(j.error_samples for j in journeys):
            shutil.rmtree(log_dir, ignore_errors=True)  # kept, and named in the report, when anything failed

    def read_access_log(self, path, journeys):
        by_key = {j.key: j for j in journeys}
        measured = False
        with open(path) as log:
            for line in log:
                if line.startswith("--- measured"):
                    measured = True
                    continue
                key, _, rest = line.rstrip("\n").rpartition(" ")
                key, _, _status = key.rpartition(" ")
                if measured and key in by_key and rest.isdigit():
                    by_key[key].server_us.append(int(rest))

    def report(self, journeys, elapsed, total):
        out = self.out
        errors = sum(j.errors for j in journeys)
        if getattr(self, "memory", None):
            out(f"gunicorn workers' resident memory after the run: {', '.join(f'{m:.0f}' for m in self.memory)} MB")
        out(f"\n{total} requests in {elapsed:.1f} s = {total / elapsed:.1f} requests/s in all, {errors} errors")
        out(f"{'journey':<16} {'user':<10} {'n':>5} {'req/s':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
            f"{'err':>4} {'in-proc':>8} {'CPU ms':>7} {'SQL ms':>7} {'qs':>4} {'p50/SQL':>8} {'CPU/SQL':>8}")
        for j in journeys:
            server_ms = [us / 1000 for us in j.server_us]
            p50 = _percentile(server_ms, 50)
            ratio = p50 / (j.floor * 1000) if j.floor else float("nan")
            cpu_ratio = j.in_process_cpu / j.floor if j.floor and j.in_process_cpu else float("nan")
            out(f"{j.label:<16} {j.persona.key:<10} {len(j.times):>5} {len(j.times) / elapsed:>6.2f} "
                f"{p50:>8.1f} {_percentile(server_ms, 95):>8.1f} {_percentile(server_ms, 99):>8.1f} "
                f"{j.errors:>4} {(j.in_process or 0) * 1000:>8.1f} {(j.in_process_cpu or 0) * 1000:>7.1f} "
                f"{(j.floor or 0) * 1000:>7.2f} {j.queries:>4} {ratio:>8.1f} {cpu_ratio:>8.1f}")
        slow = [j for j in journeys if j.slowest and j.slowest[0] >= SLOW_STATEMENT]
        if slow:
            out(f"\nthe slowest statement of each page whose floor has one over {SLOW_STATEMENT * 1000:g} ms "
                "(median of the re-runs):")
            for j in slow:
                seconds, sql = j.slowest
                out(f"{j.label:<16} {j.persona.key:<10} {seconds * 1000:>7.2f} ms of {j.floor * 1000:.2f}: "
                    f"{_statement_head(sql)}")
        profiled = [j for j in journeys if j.profile]
        if profiled:
            out(f"\nwhere the in-process time goes, per cent of the profiled time ({self.options['profile']} "
                f"requests each under cProfile; profiles in {self.profile_dir}):")
            out(f"{'journey':<16} {'user':<10} " + " ".join(f"{area:>9}" for area in benchprofile.AREAS))
            for j in profiled:
                parts = benchprofile.shares(j.profile)
                out(f"{j.label:<16} {j.persona.key:<10} "
                    + " ".join(f"{parts[area] * 100:>9.0f}" for area in benchprofile.AREAS))
            out("database: the driver (sqlite3, psycopg) and the wait for the server; ORM: django.db; templates: "
                "the template engine; request: Django's handlers, middleware, sessions, authentication and "
                "allauth; tidsnok: its own code. Built-ins, the standard library and other libraries count to "
                "the area that called them. A PDF is typeset by a child process: the wait for it is tidsnok's.")
        samples = [f"{j.key}: {', '.join(j.error_samples)}" for j in journeys if j.error_samples]
        if samples:
            out("errors seen: " + "; ".join(samples) + f" (server log: {self.log_dir})")
        out("p50/p95/p99: server time per request from gunicorn's access log (%(D)s); in-proc: the page rendered "
            "by Django's test client in this process (median wall time, and CPU time with that of the child "
            "processes that typeset PDFs, which a busy machine "
            "distorts less); SQL: the page's own queries re-run on a bare cursor (median); p50/SQL and CPU/SQL: "
            "how far the page is above its SQL floor.")
