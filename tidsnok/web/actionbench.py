"""`tidsnok bench actions`: every state-changing action users make, timed in this process.

Meant for a database made by `tidsnok generate` (normally a copy of one: it adds a
session per user to it, and `ANALYZE`s it first, as `bench load` does). It picks the
users of `bench load` (LoadBench.personas: the manager of the largest unit, HR with
the whole organisation, an employee concerned by a case) plus an administrator, finds
in the organisation what each action needs (a case the user handles, an open
deadline, a planned measure, an episode on an open follow-up case, a person with no
recent absence, a whistleblowing report, ...) and POSTs each action through Django's
test client (force_login, host 127.0.0.1, Accept-Language nb), always inside a
transaction that is rolled back, so every run starts from the same database and the
copy is left as it was.

Each action is first posted once to check the result: the expected status (302 after a
save, 200 for the whistleblowing receipt page), the page it redirects to where that tells
success from failure, and no error message left for the next page (some views redirect
on a refusal too). An action that does not do what it should is an error in the report,
with the start of its response, and is not timed. The others go through
LoadBench.measure_floor, as the journeys of `bench load` do: the statements are captured
once and re-run on a bare cursor for the SQL floor (median of --repeats re-runs), and the
request is timed (median wall and CPU time of --timings runs, by default max(3, repeats // 3)).

An action whose object the organisation lacks (a tiny one has few cases) is reported
as "skipped: why", never left out silently.
"""

import re
import resource
from dataclasses import dataclass
from datetime import timedelta

from django.core.management.base import CommandError

from tidsnok.web.loadbench import HOST, Journey, LoadBench, Persona

HELP = ("Time every state-changing action (the POSTs) in this process, each in a transaction that is rolled "
        "back, against the configured database; prints status, wall and CPU time, queries and the SQL floor.")

BODY_SHOWN = 300


def add_arguments(parser) -> None:
    parser.add_argument("--repeats", type=int, default=5,
                        help="Re-runs of each action's captured SQL for the floor (default 5); the action itself "
                             "is timed max(3, N // 3) times, as in bench load.")
    parser.add_argument("--timings", type=int, default=None,
                        help="Timed runs of each action (default max(3, repeats // 3)); 1 for a quick check.")
    parser.add_argument("--organisation", default=None, help="Name of the organisation (default: the largest).")
    parser.add_argument("--only", action="append", default=[], metavar="SUBSTRING",
                        help="Run only the actions whose name or user contains this (repeatable).")


def run(command, options: dict) -> None:
    ActionBench(command, options).run()


class Skip(Exception):
    """The organisation has nothing this action needs."""


class Upload:
    """A file for the test client that can be posted many times: the client reads an
    upload without seeking back, and measure_floor posts the same form several times."""

    def __init__(self, name: str, data: bytes):
        self.name = name
        self.data = data

    def read(self, *args) -> bytes:
        return self.data


def shown(content: bytes) -> str:
    """The start of a response as its reader sees it: the page's <main> as text when it has
    one, since the first characters of an HTML page are its <head>, which tells nothing."""
    text = content.decode(errors="replace")
    main = re.search(r"<main\b.*?</main>", text, re.S)
    if main:
        text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", main.group(0))).strip()
    return text[:BODY_SHOWN]


@dataclass
class Action:
    name: str
    who: str
    # () -> {"path", "form", and optionally "expect" (default (302,)), "location" (the start of the
    # redirect's target), "who" and "label" (when the object found decides them)}; or raises Skip.
    build: object
    journey: Journey | None = None
    status: int | None = None
    error: str = ""
    skipped: str = ""
    peak_growth: float = 0.0  # MB by which the action raised this process's peak memory


def peak_memory_mb() -> float:
    """This process's peak resident memory so far (ru_maxrss: kilobytes on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class ActionBench:
    def __init__(self, command, options):
        self.command = command
        self.options = options
        self.found = {}  # objects the actions need, by name: looked up once

    def out(self, line=""):
        self.command.stdout.write(line)

    @property
    def today(self):
        """Today where the server is, when the action is built: a run of many minutes may pass
        midnight, after which the day it started is the past (a policy change dated then is
        refused)."""
        from django.utils import timezone

        return timezone.localdate()

    # --- who ---------------------------------------------------------------------------------------

    def setup(self):
        from tidsnok.org.models import Person, Role, RoleAssignment

        # LoadBench only reads its options' organisation here; no password is needed in process.
        self.loader = LoadBench(self.command, {"organisation": self.options["organisation"]}, None)
        self.personas = {p.key: p for p in self.loader.personas()}
        self.org = self.loader.org
        admin = (RoleAssignment.objects.active()
                 .filter(role=Role.ADMIN, person__organisation=self.org, person__user__isnull=False)
                 .select_related("person__user").order_by("pk").first())
        if admin is not None:
            self.personas["admin"] = Persona("admin", "administrator", admin.person.user)
        self.personas["anonymous"] = Persona("anonymous", "no login", None)
        self.big_person = Person.objects.get(user=self.personas["mgr-large"].user)
        self.hr_person = Person.objects.get(user=self.personas["hr"].user)

    def fresh(self, key):
        """The persona's user as a request would load it: the access policy caches the
        user's roles on the object, and the personas' users are logged in elsewhere."""
        from tidsnok.org.models import User

        return User.objects.get(pk=self.personas[key].user.pk)

    def persona(self, key):
        if key not in self.personas:
            raise Skip({"admin": "no administrator with a login",
                        "employee": "no employee concerned by a case"}.get(key, f"no {key}"))
        return self.personas[key]

    # --- what: objects the actions need, looked up once and only when an action asks -------------------

    def once(self, name, find):
        if name not in self.found:
            self.found[name] = find()
        return self.found[name]

    def large_unit(self):
        def find():
            from django.db.models import Count

            from tidsnok.org.models import Role, RoleAssignment, Unit

            managed = RoleAssignment.objects.active().filter(person=self.big_person, role=Role.MANAGER)
            return (Unit.objects.filter(pk__in=managed.values("unit_id")).annotate(n=Count("people"))
                    .order_by("-n", "pk").first())
        return self.once("large_unit", find)

    def role_holders(self):
        from tidsnok.org.models import RoleAssignment

        return RoleAssignment.objects.values("person_id")

    def absence_near(self, days):
        """Whether the person has an episode open, ahead, or ended in the last `days` days: a new
        one for her could overlap it or continue it (and a continued one is another action)."""
        from django.db.models import Exists, OuterRef, Q

        from tidsnok.absence.models import Episode

        since = self.today - timedelta(days=days)
        return Exists(Episode.objects.filter(person=OuterRef("pk")).filter(
            Q(end__isnull=True) | Q(end__gte=since) | Q(start__gte=since)))

    def subject(self):
        """Someone in the large unit to open a case and register absence for: active, holding no
        role, with no absence in the last 60 days and none open or ahead, so that a new episode
        neither overlaps nor continues another."""
        def find():
            from tidsnok.org.models import Person

            return (Person.objects.filter(unit=self.large_unit(), end_date__isnull=True)
                    .exclude(pk__in=self.role_holders()).exclude(self.absence_near(60)).order_by("pk").first())
        subject = self.once("subject", find)
        if subject is None:
            raise Skip("nobody in the large unit without a role and without recent absence")
        return subject

    def case_of(self, key):
        case_id = self.persona(key).case_id
        if case_id is None:
            raise Skip(f"{key} handles no open case")
        return case_id

    def cases_of(self, key):
        """The cases the user works on: those she handles (a manager), any non-restricted one (HR)."""
        from django.db.models import Exists, OuterRef

        from tidsnok.cases.models import Case, Handler

        cases = Case.objects.filter(organisation=self.org)
        if key == "hr":
            return cases.filter(restricted=False)
        return cases.filter(Exists(Handler.objects.filter(case=OuterRef("pk"), person=self.big_person,
                                                          removed_at__isnull=True)))

    def first_handler(self, case_id):
        """The case's first handler: a participant in a conversation, the owner of a measure."""
        from tidsnok.cases.models import Handler

        person_id = (Handler.objects.filter(case_id=case_id, removed_at__isnull=True).order_by("pk")
                     .values_list("person_id", flat=True).first())
        if person_id is None:
            raise Skip(f"case {case_id} has no handler")
        return person_id

    def follow_up_episode(self):
        """An episode in the large unit on an open follow-up case, the person's latest (so a later
        end date overlaps nothing), of the person with the most episodes."""
        def find():
            from django.db.models import Count, OuterRef

            from tidsnok.absence.models import Episode

            latest = Episode.objects.filter(person=OuterRef("person")).order_by("-start").values("pk")[:1]
            count = (Episode.objects.filter(person=OuterRef("person")).order_by().values("person")
                     .annotate(n=Count("pk")).values("n"))
            return (Episode.objects.filter(person__unit=self.large_unit(), case__status="open").filter(pk=latest)
                    .annotate(n=count).order_by("-n", "pk").first())
        episode = self.once("episode", find)
        if episode is None:
            raise Skip("no episode in the large unit on an open follow-up case")
        return episode

    def whistleblowing(self):
        """An open report, unacknowledged if there is one, and who handles it: HR when she may,
        else one of its handlers (a designated handler need not be HR)."""
        def find():
            from django.db.models import Exists, OuterRef

            from tidsnok.access.policy import visible
            from tidsnok.cases.models import Case, Handler
            from tidsnok.whistleblowing.models import Direction, Message, Report

            def pick(reports):
                unacknowledged = reports.exclude(Exists(Message.objects.filter(
                    report=OuterRef("pk"), direction=Direction.TO_REPORTER)))
                return unacknowledged.order_by("pk").first() or reports.order_by("pk").first()

            open_reports = Report.objects.filter(organisation=self.org, case__status="open")
            hr_cases = visible(self.fresh("hr"), Case, "edit").filter(kind="whistleblowing")
            report = pick(open_reports.filter(case__in=hr_cases))
            if report is not None:
                return report, "hr"
            report = pick(open_reports.filter(Exists(Handler.objects.filter(
                case=OuterRef("case"), removed_at__isnull=True, person__user__isnull=False))))
            if report is None:
                return None, None
            handler = (Handler.objects.filter(case=report.case, removed_at__isnull=True, person__user__isnull=False)
                       .select_related("person__user").order_by("pk").first())
            self.personas["wb-handler"] = Persona("wb-handler", "whistleblowing handler", handler.person.user)
            return report, "wb-handler"
        report, who = self.once("report", find)
        if report is None:
            raise Skip("no open whistleblowing report with a handler who has a login")
        return report, who

    # --- the actions -------------------------------------------------------------------------------

    def actions(self) -> list[Action]:
        actions = []

        def add(name, who, build):
            actions.append(Action(name, who, build))

        # cases
        for who in ("mgr-large", "hr"):
            add("cases: open a case", who, self.open_case)
            add("cases: add entry (note)", who, lambda who=who: {
                "path": f"/saker/{self.case_of(who)}/oppforing/notat/",
                "form": {"notat-occurred_on": self.today.isoformat(), "notat-text": "Notat fra ytelsestesten."}})
            add("cases: add entry (conversation)", who, lambda who=who: self.conversation(who))
            add("cases: add measure", who, lambda who=who: self.add_measure(who))
            add("cases: change measure status", who, lambda who=who: self.measure_status(who))
        add("cases: waive deadline", "hr", self.waive)
        add("cases: add handler", "hr", self.add_handler)
        for who in ("mgr-large", "hr"):
            add("cases: close case", who, lambda who=who: self.close(who))
            add("cases: reopen case", who, lambda who=who: self.reopen(who))
        add("cases: ask HR", "mgr-large", lambda: {
            "path": f"/saker/{self.case_of('mgr-large')}/usikker/",
            "form": {"usikker-note": "Usikker på neste steg."}})
        add("cases: employee comment", "employee", self.employee_comment)
        add("cases: change a rule's offset", "hr", lambda: {
            "path": "/saker/regler/whistleblowing.acknowledge/",
            "form": {"offset": "5", "effective_from": self.today.isoformat()}})
        # absence
        for who in ("mgr-large", "hr"):
            add("absence: register episode (short, self)", who, lambda: self.register_episode(long=False))
            add("absence: register episode (opens case)", who, lambda: self.register_episode(long=True))
        for who in ("mgr-large", "hr"):
            add("absence: change end date", who, self.change_end)
            add("absence: change grade", who, self.change_grade)
            add("absence: save follow-up plan version", who, self.save_plan)
            add("absence: invite to dialogue meeting", who, self.invite_meeting)
        add("absence: recurrence flag handled", "mgr-large", self.flag_handled)
        add("absence: import CSV (3 rows)", "hr", self.import_absence)
        # whistleblowing
        report = {"category": "work_environment", "description": "Det er farlige forhold på lageret.",
                  "when": "I høst", "involved": ""}
        add("whistleblowing: submit (named)", "employee", lambda: {
            "path": "/varsling/ny/", "form": {**report, "anonymity": "named"}, "expect": (200,)})
        add("whistleblowing: submit (anonymous)", "anonymous", lambda: {
            "path": "/varsling/ny/", "form": {**report, "anonymity": "anonymous", "organisation": self.org.org_number},
            "expect": (200,)})
        add("whistleblowing: acknowledge", "wb", lambda: self.report_action("kvitter", {}))
        add("whistleblowing: message to reporter", "wb", lambda: self.report_action(
            "melding", {"melding-body": "Vi ser på saken."}))
        add("whistleblowing: internal note", "wb", lambda: self.report_action("notat", {"notat-text": "Notat."}))
        # org
        add("org: import 1-row people file (unit change)", "admin", self.import_people)
        add("org: import 1-row units file (new manager)", "admin", self.import_units)
        # reports: the two exports that write to the audit log, so they are POSTs
        add("reports: inspection pack (12 months)", "hr", lambda: {
            "path": "/rapporter/tilsyn/", "expect": (200,),
            "form": {"start": (self.today - timedelta(days=365)).strftime("%d.%m.%Y"),
                     "end": self.today.strftime("%d.%m.%Y"), "case_numbers": ""}})
        add("reports: access copy (PDF)", "hr", self.access_copy)
        # retention: the rule only; what it reaches is deleted or restricted by the sweep
        add("retention: set a rule", "admin", self.retention_rule)
        # notify
        for who in ("mgr-large", "hr"):
            add("notify: mark all read", who, lambda: {"path": "/meldinger/", "form": {"all": "1"}})
            add("notify: mark one read", who, lambda who=who: self.mark_one_read(who))
        return actions

    def open_case(self):
        subject = self.subject()
        return {"path": "/saker/ny/", "form": {
            "unit": self.large_unit().pk, "sok": subject.employee_number, "kind": "psychosocial",
            "concerns": [subject.pk], "description": "Sier at arbeidsmengden er for stor.", "source": "observed",
            "known_at": self.today.isoformat(), "known_at_reason": "", "party-TOTAL_FORMS": "3",
            "party-INITIAL_FORMS": "0", "party-MIN_NUM_FORMS": "0", "party-MAX_NUM_FORMS": "3"}}

    def conversation(self, who):
        case_id = self.case_of(who)
        return {"path": f"/saker/{case_id}/oppforing/samtale/", "form": {
            "samtale-occurred_on": self.today.isoformat(), "samtale-text": "Samtale om arbeidsmengden.",
            "samtale-visibility": "shared", "samtale-participants": [self.first_handler(case_id)]}}

    def add_measure(self, who):
        case_id = self.case_of(who)
        return {"path": f"/saker/{case_id}/tiltak/", "form": {
            "tiltak-what": "Redusert arbeidsmengde", "tiltak-kind": "organisational", "tiltak-area": "workload",
            "tiltak-owner": self.first_handler(case_id), "tiltak-due": (self.today + timedelta(days=14)).isoformat(),
            "tiltak-visibility": "shared"}}

    def measure_status(self, who):
        from django.db.models import Count

        from tidsnok.cases.models import Measure

        # A planned measure is started, else one in progress is done; on the open case with the most
        # entries, the heaviest case page to come back to.
        measures = (Measure.objects.filter(case__in=self.cases_of(who).filter(status="open"))
                    .annotate(e=Count("case__entries")).order_by("-e", "pk"))
        measure, new = measures.filter(status="planned").first(), "in_progress"
        if measure is None:
            measure, new = measures.filter(status="in_progress").first(), "done"
        if measure is None:
            raise Skip(f"no planned measure or measure in progress on an open case {who} works on")
        return {"path": f"/saker/{measure.case_id}/tiltak/{measure.pk}/status/",
                "form": {f"m{measure.pk}-status": new, f"m{measure.pk}-version": measure.version}}

    def waive(self):
        from tidsnok.cases.models import Deadline

        # HR's own case when it has an open deadline (its page is the one measured elsewhere), else
        # the first one due on any open case she works on.
        open_deadlines = Deadline.objects.filter(status="open").order_by("due", "pk")
        deadline = (open_deadlines.filter(case_id=self.personas["hr"].case_id).first()
                    or open_deadlines.filter(case__in=self.cases_of("hr").filter(status="open")).first())
        if deadline is None:
            raise Skip("no open deadline on an open case HR works on")
        return {"path": f"/saker/{deadline.case_id}/frister/{deadline.pk}/frafall/",
                "form": {f"d{deadline.pk}-reason": "Ikke aktuelt i denne saken."}}

    def add_handler(self):
        """Someone the form offers (its rules of who may handle the case are the view's), read
        from the form page as the user would, preferring someone other than HR herself."""
        from django.db import transaction
        from django.test import Client

        case_id = self.case_of("hr")
        client = Client(HTTP_ACCEPT_LANGUAGE="nb", HTTP_HOST=HOST)
        client.force_login(self.personas["hr"].user)
        with transaction.atomic():  # a page view may write (an audit event)
            page = client.get(f"/saker/{case_id}/behandlere/").content.decode()
            transaction.set_rollback(True)
        select = re.search(r'<select name="behandler-person"[^>]*>(.*?)</select>', page, re.S)
        offered = [int(v) for v in re.findall(r'<option value="(\d+)"', select.group(1))] if select else []
        others = [pk for pk in offered if pk != self.hr_person.pk]
        if not (others or offered):
            raise Skip(f"the form offers nobody to add to case {case_id}")
        return {"path": f"/saker/{case_id}/behandlere/",
                "form": {"behandler-person": (others or offered)[0], "behandler-reason": "Bistand i saken."}}

    def close(self, who):
        from django.db.models import Count

        from tidsnok.cases import services as case_services

        evaluation = "Tiltakene virket."
        candidates = (self.cases_of(who).filter(status="open").exclude(kind="whistleblowing")
                      .annotate(e=Count("entries")).order_by("-e", "pk")[:300])
        case = next((c for c in candidates if not case_services.close_refusals(c, evaluation)), None)
        if case is None:
            raise Skip(f"no open case {who} works on that may be closed now (open deadlines or measures)")
        return {"path": f"/saker/{case.pk}/avslutt/",
                "form": {"avslutt-evaluation": evaluation, "avslutt-version": case.version}}

    def reopen(self, who):
        from django.db.models import Count

        case = (self.cases_of(who).filter(status="closed").exclude(kind="whistleblowing")
                .annotate(e=Count("entries")).order_by("-e", "pk").first())
        if case is None:
            raise Skip(f"no closed case {who} worked on")
        return {"path": f"/saker/{case.pk}/gjenapne/",
                "form": {"gjenapne-reason": "Nye opplysninger.", "gjenapne-version": case.version}}

    def employee_comment(self):
        """The newest open case of the employee of bench load, else of any employee (holding no
        role, with a login) concerned by an open case: the former's may all be closed."""
        from tidsnok.cases.models import Party

        concerned = (Party.objects.filter(role="concerned", case__organisation=self.org, case__status="open",
                                          person__user__isnull=False)
                     .exclude(person__in=self.role_holders()).select_related("person__user").order_by("-case_id"))
        employee = self.personas.get("employee")
        party = (employee and concerned.filter(person__user=employee.user).first()) or concerned.first()
        if party is None:
            raise Skip("no employee with a login is concerned by an open case")
        who = "employee"
        if employee is None or party.person.user_id != employee.user.pk:
            who = "concerned"
            self.personas[who] = Persona(who, "employee concerned by an open case", party.person.user)
        return {"path": f"/saker/{party.case_id}/kommentar/", "form": {"kommentar-text": "Jeg er enig i dette."},
                "who": who}

    def register_episode(self, long: bool):
        from django.urls import reverse

        subject = self.subject()
        form = {"enhet": self.large_unit().pk, "sok": subject.employee_number, "person": subject.pk,
                "start": (self.today - timedelta(days=2)).isoformat(), "end": self.today.isoformat(), "grade": "100",
                "certified": "self", "work_related": "no"}
        if long:
            # Still going after 20 days, certified by a doctor: the follow-up case is opened with it.
            form.update(start=(self.today - timedelta(days=20)).isoformat(), end="", certified="doctor")
            return {"path": "/sykefravaer/ny/", "form": form, "location": "/sykefravaer/sak/"}
        return {"path": "/sykefravaer/ny/", "form": form, "location": reverse("absence:list")}

    def change_end(self):
        episode = self.follow_up_episode()
        end = episode.end + timedelta(days=1) if episode.end else self.today
        return {"path": f"/sykefravaer/fravaer/{episode.pk}/", "form": {
            "action": "edit", "version": episode.version, "end": end.isoformat(), "certified": episode.certified}}

    def change_grade(self):
        episode = self.follow_up_episode()
        return {"path": f"/sykefravaer/fravaer/{episode.pk}/", "form": {
            "action": "grade", "version": episode.version, "from_date": episode.start.isoformat(), "grade": "50"}}

    def save_plan(self):
        episode = self.follow_up_episode()
        return {"path": f"/sykefravaer/sak/{episode.case_id}/plan/", "form": {
            "work_tasks_and_capacity": "Lette oppgaver.", "employer_measures": "Tilrettelegging av arbeidstid.",
            "assisted_measures": "", "further_follow_up": "Nytt møte om fire uker.",
            "made_on": self.today.isoformat()}}

    def invite_meeting(self):
        episode = self.follow_up_episode()
        return {"path": f"/sykefravaer/sak/{episode.case_id}/meeting/", "form": {
            "kind": "dialogue_1", "planned_on": (self.today + timedelta(days=7)).isoformat(),
            "participants": ["employee", "manager"]}}

    def flag_handled(self):
        from tidsnok.absence.models import RecurrenceFlag
        from tidsnok.access.policy import visible

        flag = visible(self.fresh("mgr-large"), RecurrenceFlag).filter(handled_on__isnull=True).order_by("pk").first()
        if flag is None:
            raise Skip("no unhandled frequent-absence flag the manager sees")
        return {"path": f"/sykefravaer/flagg/{flag.pk}/", "form": {"note": "Hadde en samtale om fraværet."}}

    def import_absence(self):
        """Three short self-certified episodes, as the payroll system's file has them, for people
        with no absence near them (a row that overlaps an episode refuses the whole file)."""
        from tidsnok.org.models import Person

        # Not HR herself: only an administrator imports her own absence.
        people = list(Person.objects.filter(organisation=self.org, end_date__isnull=True)
                      .exclude(pk=self.hr_person.pk).exclude(self.absence_near(30)).order_by("-pk")[:3])
        if not people:
            raise Skip("nobody without recent absence to import an episode for")
        first, last = (self.today - timedelta(days=2)).strftime("%d.%m.%Y"), self.today.strftime("%d.%m.%Y")
        lines = ["ansattnummer;fravaers_id;fra;til;grad;type;arbeidsrelatert"]
        lines += [f"{p.employee_number};BENCH-{p.pk};{first};{last};100;egenmelding;nei" for p in people]
        upload = Upload("fravaer.csv", ("\n".join(lines) + "\n").encode())
        return {"path": "/sykefravaer/import/", "form": {"file": upload},
                "label": f"absence: import CSV ({len(people)} rows)"}

    def report_action(self, action, form):
        report, who = self.whistleblowing()
        return {"path": f"/varsler/{report.case_id}/{action}/", "form": form, "who": who}

    def org_change(self):
        """A person to move out of the large unit and one to make its manager: active, holding no role."""
        def find():
            from django.db.models import Count

            from tidsnok.org.models import Person, Unit

            unit = self.large_unit()
            other = (Unit.objects.filter(organisation=self.org).exclude(pk=unit.pk).annotate(n=Count("people"))
                     .order_by("-n", "pk").first())
            people = list(Person.objects.filter(unit=unit, end_date__isnull=True).exclude(pk__in=self.role_holders())
                          .order_by("-pk")[:2])
            return other, people
        other, people = self.once("org_change", find)
        if other is None or len(people) < 2:
            raise Skip("the organisation has one unit, or the large unit has fewer than two people without a role")
        return self.large_unit(), other, people[0], people[1]

    def import_people(self):
        self.persona("admin")
        _unit, other, mover, _manager = self.org_change()
        row = [mover.employee_number, mover.name, mover.email or "", other.code, mover.position or "",
               mover.start_date.strftime("%d.%m.%Y")]
        data = "ansattnummer;navn;epost;enhet;stilling;startdato\n" + ";".join(row) + "\n"
        return {"path": "/org/import/", "form": {"people_file": Upload("people.csv", data.encode())},
                "location": "/org/import/?import="}

    def import_units(self):
        self.persona("admin")
        unit, _other, _mover, manager = self.org_change()
        parent = unit.parent.code if unit.parent_id else ""
        data = f"kode;navn;overordnet;leder\n{unit.code};{unit.name};{parent};{manager.employee_number}\n"
        return {"path": "/org/import/", "form": {"units_file": Upload("units.csv", data.encode())},
                "location": "/org/import/?import="}

    def access_copy(self):
        from tidsnok.org.models import Person

        employee = Person.objects.get(user=self.persona("employee").user)
        return {"path": f"/rapporter/innsyn/{employee.pk}/pdf", "form": {"lang": "nb"}, "expect": (200,)}

    def retention_rule(self):
        from tidsnok.retention.models import RetentionRule

        self.persona("admin")
        rule = RetentionRule.objects.filter(organisation=self.org, data_class="psychosocial").first()
        return {"path": "/oppbevaring/", "location": "/oppbevaring/", "form": {
            "data_class": "psychosocial", "months": "36", "mode": "restrict", "version": rule.version if rule else 0}}

    def mark_one_read(self, who):
        from tidsnok.notify.models import Notification

        notification = (Notification.objects.filter(user=self.personas[who].user, read_at__isnull=True)
                        .order_by("-pk").first())
        if notification is None:
            raise Skip(f"{who} has no unread notification")
        return {"path": "/meldinger/", "form": {"id": notification.pk}}

    # --- checking and measuring ----------------------------------------------------------------------

    def check(self, action: Action, spec: dict) -> None:
        """Post once, rolled back, and say what is wrong with the result, if anything."""
        from django.contrib.messages import constants
        from django.db import transaction
        from django.test import Client

        journey = action.journey
        client = Client(HTTP_ACCEPT_LANGUAGE="nb", HTTP_HOST=HOST)
        if journey.session:
            client.force_login(journey.persona.user)
        with transaction.atomic():
            response = client.post(journey.path, journey.form)
            transaction.set_rollback(True)
        action.status = response.status_code
        problems = []
        if response.status_code not in journey.expect:
            problems.append(f"expected {'/'.join(map(str, journey.expect))}")
        location = response.headers.get("Location", "")
        if spec.get("location") and response.status_code == 302 and not location.startswith(spec["location"]):
            problems.append(f"redirected to {location}, expected {spec['location']}")
        # Some views redirect after a refusal too, with an error message for the next page.
        storage = getattr(response.wsgi_request, "_messages", None)
        refusals = [str(m) for m in storage or [] if m.level >= constants.ERROR]
        if refusals:
            problems.append("error message: " + " ".join(refusals))
        if problems:
            action.error = "; ".join(problems) + f"; response: {shown(response.content)!r}"

    def run_action(self, action: Action) -> None:
        try:
            spec = action.build()
        except Skip as why:
            action.skipped = str(why)
            return
        action.name = spec.get("label", action.name)
        action.who = spec.get("who", action.who)
        try:
            persona = self.persona(action.who)
        except Skip as why:
            action.skipped = str(why)
            return
        action.journey = Journey(f"{action.who}/{action.name}", action.name, persona, "POST", spec["path"],
                                 expect=spec.get("expect", (302,)), form=spec["form"],
                                 session=persona.user is not None)
        before = peak_memory_mb()
        try:
            self.check(action, spec)
            # Of the one checked POST, not of the timing runs and the floor's replays after it (which
            # fetch every row of a statement at once): an export builds its file in the worker, and
            # what it adds to the peak is what a worker needs for it.
            action.peak_growth = peak_memory_mb() - before
        except Exception as exc:  # noqa: BLE001  (one broken action must not hide the others' figures)
            action.error = f"{type(exc).__name__}: {str(exc)[:BODY_SHOWN]}"
            return
        if action.error:
            return  # an action that fails is not timed: its figures would be those of an error page
        try:
            # The checked POST above has warmed the caches and lazy imports.
            self.loader.measure_floor(action.journey, self.options["repeats"], self.options["timings"], warm=False)
        except Exception as exc:  # noqa: BLE001
            action.error = f"while measuring: {type(exc).__name__}: {str(exc)[:BODY_SHOWN]}"
            return
        if action.journey.error_samples:  # the same request answered otherwise later
            action.error = ", ".join(action.journey.error_samples)

    def wanted(self, action: Action) -> bool:
        only = [s.lower() for s in self.options["only"]]
        return not only or any(s in f"{action.name} {action.who}".lower() for s in only)

    # --- the run -----------------------------------------------------------------------------------

    def run(self):
        from django.db import connection

        from tidsnok.notify import planner

        if self.options["repeats"] < 1:
            raise CommandError("--repeats must be 1 or more.")
        if self.options["timings"] is not None and self.options["timings"] < 1:
            raise CommandError("--timings must be 1 or more.")
        # What the sweep does every hour in production (a copied database may have no statistics).
        planner.analyze()
        self.setup()
        self.out(f"actions bench on {connection.vendor}, «{self.org.name}» ({self.org.n} people); each action in a "
                 f"rolled-back transaction, SQL floor of {self.options['repeats']} re-runs")
        actions = [a for a in self.actions() if self.wanted(a)]
        if not actions:
            raise CommandError(f"No action matches {' or '.join(self.options['only'])}.")
        for action in actions:
            self.run_action(action)
        self.report(actions)

    def report(self, actions):
        out = self.out
        done = [a for a in actions if not a.skipped]
        errors = [a for a in done if a.error]
        for key in dict.fromkeys(a.who for a in done):  # the users, in the order they first act
            persona = self.personas[key]
            out(f"  {persona.key}: {persona.label}" + (f", case {persona.case_id}" if persona.case_id else ""))
        out()
        out(f"{'action':<46} {'user':<10} {'status':>6} {'wall ms':>8} {'CPU ms':>7} {'qs':>4} {'SQL ms':>7} "
            f"{'wall/SQL':>8} {'peak +MB':>8}")
        for a in done:
            j = a.journey
            if a.error:
                out(f"{a.name:<46} {a.who:<10} {a.status or '-':>6} ERROR (see below)")
                continue
            wall, cpu, floor = j.in_process * 1000, j.in_process_cpu * 1000, j.floor * 1000
            ratio = f"{wall / floor:8.1f}" if floor else f"{'-':>8}"
            out(f"{a.name:<46} {a.who:<10} {a.status:>6} {wall:>8.1f} {cpu:>7.1f} {j.queries:>4} {floor:>7.2f} {ratio} "
                f"{a.peak_growth:>8.1f}")
        for a in actions:
            if a.skipped:
                out(f"skipped: {a.name} ({a.who}): {a.skipped}")
        for a in errors:
            out(f"error: {a.name} ({a.who}), status {a.status}: {a.error}")
        out(f"{len(done)} actions, {len(errors)} errors" + (f", {len(actions) - len(done)} skipped"
                                                          if len(done) < len(actions) else ""))
        out("wall and CPU: median in-process time of the POST (Django's test client, rolled back); qs: its queries; "
            "SQL: those statements re-run on a bare cursor (median); wall/SQL: how far the action is above its "
            "SQL floor; peak +MB: how much the action raised this process's peak resident memory (0 when it stayed "
            "under an earlier peak).")
