"""Tilsynspakke: what HR hands Arbeidstilsynet when an inspection is announced.

Arbeidstilsynet may demand any information in any form (aml § 18-5). The pack
is one ZIP with the employer's documentation over a period, within what the
person exporting may see, built from the same functions as the pages:

- innhold.txt: what the pack holds, the period, when and by whom it was made,
  the audit chain's head and the result of verifying it at export (as the case
  PDF does), and how to get the documentation of a single case;
- etterlevelse.csv: the compliance overview per unit (notify.compliance);
- sykefravaer.csv: the sick-leave statistics (absence.statistics, small units
  merged as there);
- saker.csv: the cases open at any time in the period, with their deadline and
  measure counts, and frister.csv: every deadline of those cases;
- varslingsrutiner.txt: the whistleblowing routine published today;
- risikovurderinger.csv: the units' mappings and risk assessments worked on or in force in the
  period (risk.exports), with their risks counted by level and their participants by role, and
  handlingsplaner.csv: the measures of their action plans;
- saker/<number>.pdf: the case PDFs HR chose to add (at most MAX_CASE_PDFS).

Data minimisation: saker.csv and frister.csv hold no names and no free text
(descriptions, notes, measure texts, reasons). The inspector gets those from
the case PDFs HR decides to hand over, each export of which is audited. The
risk assessments are different: they describe the work, not a person, and the
written assessment and action plan are what internkontrollforskriften § 5 asks
the employer to show. So their titles, the measures and who owns each are in;
the risks' descriptions, the conclusions and the comments stay in tidsnok, and
the participants are counted by role, not named.

Bounded: each section is a fixed number of queries whatever the number of
cases (a test pins it), read as plain rows, the deadlines in chunks.
"""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, IntegerField, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from tidsnok.absence import statistics
from tidsnok.access.policy import AccessDenied, visible
from tidsnok.audit.models import AuditEvent
from tidsnok.audit.services import record
from tidsnok.cases.models import Case, Deadline, DeadlineStatus, Kind, Measure, MeasureStatus, Status
from tidsnok.notify import compliance
from tidsnok.notify.compliance import safe_cell
from tidsnok.org import scope
from tidsnok.org.models import Role, RoleAssignment
from tidsnok.reports.case_pdf import TEXT as PDF_TEXT
from tidsnok.reports.case_pdf import _basis, _d, _dt, _verification, choice, export_case_pdf, language_of
from tidsnok.risk import exports as risk_exports
from tidsnok.risk import rules as risk_rules
from tidsnok.risk.models import Method as RiskMethod
from tidsnok.risk.models import ParticipantRole
from tidsnok.risk.models import Status as RiskStatus
from tidsnok.whistleblowing.forms import CAPACITY_CHOICES
from tidsnok.whistleblowing.models import Participation
from tidsnok.whistleblowing.services import current_routine

PACK_ACTION = "inspection.pack_exported"
MAX_CASE_PDFS = 20
# As the compliance overview's period form: a longer period is not an inspection's question, and
# the deadlines of many years in one file only make the export slow.
MAX_PERIOD_DAYS = 5 * 366
BOM = "\ufeff"  # makes Excel read the files as UTF-8 (æ, ø, å intact)
# Semicolons, as the sick-leave statistics file has them: a Norwegian spreadsheet splits on them.
DELIMITER = ";"
CHUNK = 2000

INDEX_FILE = "innhold.txt"
COMPLIANCE_FILE = "etterlevelse.csv"
STATISTICS_FILE = "sykefravaer.csv"
CASES_FILE = "saker.csv"
DEADLINES_FILE = "frister.csv"
ROUTINE_FILE = "varslingsrutiner.txt"
RISK_FILE = "risikovurderinger.csv"
ACTION_PLAN_FILE = "handlingsplaner.csv"
CASE_PDF_FOLDER = "saker/"


def may_export(user) -> bool:
    """HR (for its own scope) and administrators of an organisation; nobody else learns the page
    exists. A superuser without a person in an organisation has no organisation to export."""
    if scope.person_of(user) is None:
        return False
    return scope.is_hr(user) or scope.is_admin(user)


@dataclass(frozen=True)
class ExportedPack:
    content: bytes
    filename: str
    sha256: str
    language: str
    event: AuditEvent


def check_period(start: date, end: date, today: date) -> None:
    """The same rule for the page and for any other caller: a ValidationError per field."""
    if start > end:
        raise ValidationError({"end": [_("The period must start before it ends.")]})
    if end > today:
        raise ValidationError({"end": [_("The period cannot end after today.")]})
    if (end - start).days > MAX_PERIOD_DAYS:
        raise ValidationError({"start": [_("Choose a period of at most five years.")]})


def cases_in_period(actor, start: date, end: date):
    """The cases the actor may see that were open at some time in the period: known or registered
    by its end, and not closed before its start. A reopened case counts as open since it was
    first known (reopening clears the closing time)."""
    zone = timezone.get_current_timezone()
    period_start = datetime.combine(start, time.min, tzinfo=zone)
    after_end = datetime.combine(end + timedelta(days=1), time.min, tzinfo=zone)
    return (
        visible(actor, Case)
        .filter(Q(known_at__lte=end) | Q(created_at__lt=after_end))
        .filter(Q(closed_at__isnull=True) | Q(closed_at__gte=period_start))
    )


# --- the sections ---------------------------------------------------------------------------------


def _writer(out: io.StringIO):
    return csv.writer(out, delimiter=DELIMITER, lineterminator="\r\n")


def _iso(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return timezone.localdate(value).isoformat()
    return value.isoformat()


def _compliance_csv(actor, start: date, end: date, today: date) -> tuple[str, int]:
    rows, total = compliance.overview(actor, start, end, today)
    out = io.StringIO()
    compliance.write_csv(out, rows, total, [
        _("Unit code"), _("Unit"), _("Open deadlines"), _("Overdue now"), _("Met on time"), _("Late"),
        _("Percent on time"),
    ], _("Total"), delimiter=DELIMITER)
    return out.getvalue(), len(rows)


def _statistics_csv(actor, organisation, start: date, end: date) -> tuple[str, int]:
    # HR and administrators always have a statistics scope (absence.statistics.unit_scope).
    stats = statistics.compute(actor, organisation, start, end)
    return statistics.as_csv(stats), len(stats.table)


def _case_rows(actor, start: date, end: date) -> list[tuple]:
    """(id, number, kind, unit code, unit name, known_at, created_at, closed_at, status, measures),
    in the order they were registered (by id, as the deadlines are read, so that frister.csv is
    written as its rows arrive). The measures are counted by a subquery per row, in the same query."""
    measures = (
        Measure.objects.filter(case=OuterRef("pk")).order_by().values("case").annotate(n=Count("id")).values("n")
    )
    return list(
        cases_in_period(actor, start, end)
        .annotate(measure_count=Coalesce(Subquery(measures, output_field=IntegerField()), 0))
        .order_by("id")
        .values_list("pk", "number", "kind", "unit__code", "unit__name", "known_at", "created_at", "closed_at",
                     "status", "measure_count")
    )


@dataclass
class Counts:
    on_time: int = 0
    late: int = 0
    missed: int = 0
    open: int = 0
    overdue: int = 0


def _deadlines_csv(out, actor, start: date, end: date, today: date, cases: list[tuple], lang: str) -> tuple[int, dict]:
    """frister.csv, written to `out` as the rows arrive, and per case the counts saker.csv shows,
    from one pass over the deadlines, read in the order of saker.csv (case id), each case's by
    due date.

    The titles are the rules' titles: a measure's follow-up is not given its measure's text (the
    case PDF adds it), and no waiver reason is written (free text)."""
    t = PDF_TEXT[lang]
    number_of = {row[0]: row[1] for row in cases}
    case_open = {row[0]: row[8] == Status.OPEN for row in cases}
    counts: dict[int, Counts] = {}
    writer = _writer(out)
    writer.writerow([
        _("Case number"), _("Deadline"), _("Legal basis"), _("Rule"), _("Employer's duty"), _("Start"), _("Falls due"),
        _("Met on"), _("Status"),
    ])
    rows = (
        Deadline.objects.filter(case__in=cases_in_period(actor, start, end).values("pk"))
        .order_by("case_id", "due", "id")
        .values_list("case_id", "title_nb", "title_en", "basis", "rule_id", "rule_version", "expected_event",
                     "start", "due", "met_on", "status")
        .iterator(chunk_size=CHUNK)
    )
    written = 0
    for case_id, title_nb, title_en, basis, rule_id, rule_version, expected, begins, due, met_on, status in rows:
        if case_id not in number_of:
            # Opened between the two reads (each query reads the database afresh): left for the next pack.
            continue
        overdue = status == DeadlineStatus.OPEN and due < today and case_open[case_id]
        label = t["overdue"] if overdue else choice(status, DeadlineStatus, lang)
        writer.writerow([
            number_of[case_id], safe_cell(title_en if lang == "en" else title_nb), safe_cell(_basis(basis, t)),
            f"{rule_id} v{rule_version}", _("no") if expected else _("yes"), _iso(begins), _iso(due), _iso(met_on),
            label,
        ])
        written += 1
        if expected:
            continue  # NAV's milestones are not the employer's duties (as in the compliance overview)
        c = counts.setdefault(case_id, Counts())
        if status == DeadlineStatus.MET:
            c.on_time += 1
        elif status == DeadlineStatus.LATE:
            c.late += 1
        elif status == DeadlineStatus.MISSED:
            c.missed += 1
        elif status == DeadlineStatus.OPEN:
            c.open += 1
            c.overdue += int(overdue)
    return written, counts


def _cases_csv(out, cases: list[tuple], counts: dict, lang: str) -> None:
    writer = _writer(out)
    writer.writerow([
        _("Case number"), _("Kind"), _("Unit code"), _("Unit"), _("Manager first knew"), _("Registered"),
        _("Closed"), _("Status"), _("Deadlines met on time"), _("Deadlines met late"), _("Deadlines missed"),
        _("Deadlines open"), _("Of them overdue"), _("Measures"),
    ])
    for pk, number, kind, unit_code, unit_name, known_at, created_at, closed_at, status, measures in cases:
        c = counts.get(pk, Counts())
        writer.writerow([
            number, choice(kind, Kind, lang), safe_cell(unit_code), safe_cell(unit_name), _iso(known_at),
            _iso(created_at), _iso(closed_at) if status == Status.CLOSED else "", choice(status, Status, lang),
            c.on_time, c.late, c.missed, c.open, c.overdue, measures,
        ])


def _label(enum, value) -> str:
    return str(dict(enum.choices).get(value, value)) if value else ""


def _risk_csv(out, assessments: list[risk_exports.AssessmentRow]) -> None:
    """risikovurderinger.csv: one row per assessment, its risks by level and its participants by
    role (counted, not named)."""
    writer = _writer(out)
    roles = ParticipantRole.values
    writer.writerow([
        _("Assessment no."), _("Unit code"), _("Unit"), _("Title"), _("Method"), _("Started"), _("Completed"),
        _("Next review"), _("Status"), _("Low risks"), _("Medium risks"), _("High risks"),
        *[_("Took part as: %(role)s") % {"role": _label(ParticipantRole, role)} for role in roles],
    ])
    for row in assessments:
        writer.writerow([
            row.id, safe_cell(row.unit_code), safe_cell(row.unit_name), safe_cell(row.title),
            _label(RiskMethod, row.method), _iso(row.started_on), _iso(row.completed_on), _iso(row.review_due),
            _label(RiskStatus, row.status), row.levels[risk_rules.LOW], row.levels[risk_rules.MEDIUM],
            row.levels[risk_rules.HIGH], *[row.roles[role] for role in roles],
        ])


def _action_plan_csv(out, actor, start: date, end: date, today: date, assessments: list, lang: str) -> int:
    """handlingsplaner.csv, written as the rows arrive: every measure of those assessments' action
    plans, with the level of the risk it answers."""
    of = {row.id: row for row in assessments}
    writer = _writer(out)
    writer.writerow([
        _("Assessment no."), _("Unit code"), _("Assessment"), _("Measure"), _("Risk level"), _("Owner"), _("Due"),
        _("Status"), _("Overdue"), _("Done on"),
    ])
    written = 0
    for action in risk_exports.action_rows(actor, start, end):
        assessment = of.get(action.assessment_id)
        if assessment is None:
            continue  # started between the two reads: left for the next pack
        writer.writerow([
            assessment.id, safe_cell(assessment.unit_code), safe_cell(assessment.title), safe_cell(action.what),
            str(risk_rules.LEVEL_LABELS[action.level]) if action.level else "", safe_cell(action.owner),
            _iso(action.due), choice(action.status, MeasureStatus, lang),
            _("yes") if action.overdue(today) else _("no"), _iso(action.done_on),
        ])
        written += 1
    return written


def _routine_text(organisation) -> tuple[str, int | None]:
    """The routine published today, as text, and its version number (None: none is published)."""
    routine = current_routine(organisation.pk)
    if routine is None:
        return _("%(organisation)s has not published whistleblowing routines in tidsnok.") % {
            "organisation": organisation.name} + "\r\n", None
    lines = [
        _("Whistleblowing routines (aml § 2 A-6): %(organisation)s") % {"organisation": organisation.name},
        _("Version %(number)s, published %(date)s.") % {"number": routine.number, "date": _d(routine.published_on)},
        "",
        _("1. Encouragement to report"), routine.encouragement, "",
        _("2. How to report, internally and externally"), routine.how_to_report, "",
        _("3. How reports are received, handled and followed up"), routine.handling, "",
    ]
    # Who took part in making it, by capacity and date: the routine must be made with the
    # employees and their representatives. Their names and comments stay in tidsnok.
    taken_part = Participation.objects.filter(routine=routine).order_by("on", "id").values_list("capacity", "on")
    capacities = dict(CAPACITY_CHOICES)
    participation = [f"- {capacities.get(capacity, capacity)}, {_d(on)}" for capacity, on in taken_part]
    lines.append(_("Made with the employees and their representatives:"))
    lines.extend(participation or [_("No participation is recorded for this version.")])
    return "\r\n".join(lines) + "\r\n", routine.number


def _scope_text(actor) -> str:
    if scope.hr_scope(actor) == scope.ALL:
        return _("the whole organisation (HR)")
    person = scope.person_of(actor)
    hr_units = list(
        RoleAssignment.objects.active().filter(person=person, role=Role.HR, unit__isnull=False)
        .order_by("unit__path").values_list("unit__name", "unit__code")
    )
    if hr_units:
        units = ", ".join(f"{name} ({code})" for name, code in hr_units)
        return _("HR for %(units)s and the units below") % {"units": units}
    return _("what an administrator may see: the organisation's statistics and routines, and the cases "
             "the administrator handles")


def _index_text(*, actor, organisation, start, end, now, counts: dict, verification, routine_number,
                case_pdfs: list[str]) -> str:
    person = scope.person_of(actor)
    roles = ", ".join(sorted(str(Role(r).label) for r in scope.roles_of(actor)))
    by = f"{person.name} ({roles})" if person is not None else getattr(actor, "email", "")
    lines = [
        _("Inspection pack (tilsynspakke)"),
        "",
        _("Organisation: %(name)s") % {"name": organisation.name + (
            f" ({organisation.org_number})" if organisation.org_number else "")},
        _("Period: %(start)s–%(end)s") % {"start": _d(start), "end": _d(end)},
        _("Made: %(when)s by %(by)s") % {"when": _dt(now), "by": by},
        _("Scope: %(scope)s") % {"scope": _scope_text(actor)},
        "",
        _("The pack holds the documentation in tidsnok that the person who made it may see, for the "
          "Norwegian Labour Inspection Authority, which may demand any information it needs (aml § 18-5). "
          "The CSV files are UTF-8 with semicolons between the columns; dates are written yyyy-mm-dd."),
        "",
        _("Contents"),
        f"- {INDEX_FILE}: " + _("this overview."),
        f"- {COMPLIANCE_FILE}: " + _(
            "the deadlines the employer must keep, per unit (%(units)s units): open and overdue today; met on "
            "time and late among those due in the period. NAV's own milestones are left out."
        ) % {"units": counts["units"]},
        f"- {STATISTICS_FILE}: " + _(
            "sick-leave statistics per unit and month (ftrl. § 25-2), %(rows)s rows. Units with fewer than "
            "%(minimum)s employees are merged into the unit above, so that nobody can be identified."
        ) % {"rows": counts["statistics_rows"], "minimum": statistics.MINIMUM_GROUP},
        f"- {CASES_FILE}: " + _(
            "%(cases)s cases open at some time in the period: number, kind, unit, when the manager first knew, "
            "registered and closed, status, and the employer's deadlines met on time, met late, missed and "
            "open, and the number of measures."
        ) % {"cases": counts["cases"]},
        f"- {DEADLINES_FILE}: " + _(
            "the %(deadlines)s deadlines of these cases: what, legal basis, rule, whether it is the employer's "
            "duty (not a NAV milestone), start, due, met on and status."
        ) % {"deadlines": counts["deadlines"]},
        f"- {RISK_FILE}: " + (_(
            "%(assessments)s mappings and risk assessments of the units (forskrift om organisering, ledelse og "
            "medvirkning § 7-1) in progress or in force in the period: unit, title, method, started, completed, "
            "next review, status, the risks by level (low, medium, high) and how many took part in each capacity."
        ) % {"assessments": counts["risk_assessments"]} if counts["risk_assessments"] else _(
            "no mapping and risk assessment of a unit in progress or in force in the period is recorded in tidsnok."
        )),
        f"- {ACTION_PLAN_FILE}: " + _(
            "the %(actions)s measures of their action plans: what, the level of the risk it answers, owner, due, "
            "status, whether it is overdue, and when it was done."
        ) % {"actions": counts["risk_actions"]},
        f"- {ROUTINE_FILE}: " + (
            _("the whistleblowing routines published today (version %(number)s).") % {"number": routine_number}
            if routine_number is not None else _("no whistleblowing routines are published.")
        ),
    ]
    if case_pdfs:
        lines.append(f"- {CASE_PDF_FOLDER}: " + _("the case documentation of %(numbers)s.") % {
            "numbers": ", ".join(case_pdfs)})
    lines += [
        "",
        _("What the pack leaves out, and why"),
        _("Names, descriptions, conversation notes, measure texts and other free text from the cases are left "
          "out (data minimisation, GDPR art. 5 (1) c). The full documentation of one case (the timeline, "
          "measures, deadlines with legal basis, and the audit log) is a PDF made from the case in tidsnok: "
          "Cases, the case, “%(button)s”. Each such export is recorded in the audit log.")
        % {"button": _("Download the case documentation (PDF)")},
        _("Cases with restricted access (harassment, whistleblowing) are included only where the person who "
          "made the pack handles them."),
        _("The risk assessments describe the work, not a person: their titles, the measures of the action plans "
          "and who owns each are included. The descriptions of the risks, the conclusions and the comments are in "
          "tidsnok, and the participants are counted by capacity, not named."),
        "",
        _("Audit log and integrity"),
        verification.text,
        _("Chain head at export: event no. %(seq)s, hash %(hash)s") % {
            "seq": verification.head_seq, "hash": verification.head_hash},
        _("This export is recorded in the audit log as the event “%(action)s” with the SHA-256 of the ZIP "
          "file, so that a copy shown later can be checked against the log.") % {"action": PACK_ACTION},
    ]
    return "\r\n".join(lines) + "\r\n"


# --- the export -----------------------------------------------------------------------------------


def _case_pdfs(actor, numbers: list[str], organisation_id: int) -> list[Case]:
    """The cases to add as PDFs, looked up through the export policy; a number the actor may not
    export is refused as if it did not exist."""
    if len(numbers) > MAX_CASE_PDFS:
        raise ValidationError({"case_numbers": [
            _("Add at most %(max)s cases.") % {"max": MAX_CASE_PDFS}]})
    if not numbers:
        return []
    found = {
        c.number: c for c in visible(actor, Case, "export").filter(organisation_id=organisation_id,
                                                                     number__in=numbers)
    }
    missing = [n for n in numbers if n not in found]
    if missing:
        raise ValidationError({"case_numbers": [
            _("You have no case to export with the number %(numbers)s.") % {"numbers": ", ".join(missing)}]})
    return [found[n] for n in numbers]


class _Pack:
    """The ZIP being written. The large files go in as they are written (the deadlines of a
    year at 50,000 employees are a 19 MB CSV: built as one string first, with its bytes and the
    archive beside it, a worker grew by 145 MB for the request)."""

    def __init__(self, now: datetime):
        self.stamp = timezone.localtime(now).timetuple()[:6]
        self.buffer = io.BytesIO()
        self.archive = zipfile.ZipFile(self.buffer, "w", zipfile.ZIP_DEFLATED)

    def _info(self, name: str) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=self.stamp)
        info.compress_type = zipfile.ZIP_DEFLATED
        return info

    @contextmanager
    def text(self, name: str):
        """A text file of the pack, UTF-8 with a BOM (so Excel reads æ, ø and å), written as it goes."""
        with io.TextIOWrapper(self.archive.open(self._info(name), "w"), encoding="utf-8", newline="") as out:
            out.write(BOM)
            yield out

    def add(self, name: str, data: bytes | str) -> None:
        self.archive.writestr(self._info(name), (BOM + data).encode("utf-8") if isinstance(data, str) else data)

    def close(self) -> bytes:
        self.archive.close()
        return self.buffer.getvalue()


def export_inspection_pack(actor, *, start: date, end: date, lang: str | None = None,
                           case_numbers: list[str] | tuple = ()) -> ExportedPack:
    """Build the inspection pack for the period and record the export in the audit log.

    HR and administrators only (AccessDenied otherwise). The files are read first, outside any
    transaction, and the event is written afterwards in one of its own: a pack that could not be
    built leaves no event. Not one transaction around it all: on SQLite (IMMEDIATE transactions)
    that held the write lock for the whole build, and every other user's change waited for it
    (the build takes 3.1 s for HR of the whole organisation at 50,000 employees, `tidsnok bench
    actions`). The chain is verified after the files were read, so the head the index names
    covers what they show; a case opened between two reads is left for the next pack (see
    _deadlines_csv). Reads only, apart from the event, the audit checkpoint the verification
    advances, and the chosen case PDFs' own events (each written once its PDF is made, as for a
    PDF downloaded alone)."""
    if not may_export(actor):
        raise AccessDenied("inspection")
    person = scope.person_of(actor)
    organisation = person.organisation
    lang = language_of(actor, lang)
    now = timezone.now()
    today = timezone.localdate(now)
    numbers = list(dict.fromkeys(n.strip().upper() for n in case_numbers if n.strip()))
    with translation.override(lang):
        check_period(start, end, today)
        chosen = _case_pdfs(actor, numbers, organisation.pk)
        pack = _Pack(now)
        compliance_csv, unit_count = _compliance_csv(actor, start, end, today)
        pack.add(COMPLIANCE_FILE, compliance_csv)
        statistics_csv, statistics_rows = _statistics_csv(actor, organisation, start, end)
        pack.add(STATISTICS_FILE, statistics_csv)
        cases = _case_rows(actor, start, end)
        with pack.text(DEADLINES_FILE) as out:
            deadline_count, counts = _deadlines_csv(out, actor, start, end, today, cases, lang)
        with pack.text(CASES_FILE) as out:
            _cases_csv(out, cases, counts, lang)
        assessments = risk_exports.assessment_rows(actor, start, end)
        with pack.text(RISK_FILE) as out:
            _risk_csv(out, assessments)
        with pack.text(ACTION_PLAN_FILE) as out:
            action_count = _action_plan_csv(out, actor, start, end, today, assessments, lang)
        routine_txt, routine_number = _routine_text(organisation)
        pack.add(ROUTINE_FILE, routine_txt)
        # Each PDF writes its own case.exported event, before the chain is verified below.
        pdfs = [export_case_pdf(actor, case, lang) for case in chosen]
        for pdf in pdfs:
            pack.add(CASE_PDF_FOLDER + pdf.filename, pdf.content)
        # Verified after everything was read: the head named covers all the pack shows.
        verification = _verification(lang)
        totals = {"units": unit_count, "statistics_rows": statistics_rows, "cases": len(cases),
                  "deadlines": deadline_count, "risk_assessments": len(assessments), "risk_actions": action_count}
        pack.add(INDEX_FILE, _index_text(
            actor=actor, organisation=organisation, start=start, end=end, now=now, counts=totals,
            verification=verification, routine_number=routine_number, case_pdfs=[p.filename for p in pdfs],
        ))
        content = pack.close()
        digest = hashlib.sha256(content).hexdigest()
        with transaction.atomic():
            event = record(
                actor, PACK_ACTION, organisation,
                {
                    "start": start, "end": end, "language": lang, **totals,
                    "routine_version": routine_number, "case_pdfs": [p.filename for p in pdfs],
                    "sha256": digest, "bytes": len(content),
                    "chain_head_seq": verification.head_seq, "chain_verified": verification.ok,
                    "chain_checkpoint_seq": verification.checkpoint_seq,
                },
                role=scope.role_label(actor),
            )
    return ExportedPack(content=content, filename=f"tilsynspakke-{today:%Y-%m-%d}.zip", sha256=digest,
                        language=lang, event=event)
