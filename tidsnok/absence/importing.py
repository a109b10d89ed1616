"""Import of absence episodes from the payroll/HR system (CSV).

All or nothing: every row is checked first and every problem reported with
line, column and reason; only a clean file is applied, in one transaction,
through the absence services (so every change is audited and every follow-up
case gets its timeline). Re-importing the same file changes nothing; a changed
row updates its episode and the change is recorded.

Never a diagnosis: a column that looks like one refuses the whole file.
"""

import csv
import hashlib
import io
import logging
import re
from dataclasses import dataclass, field
from datetime import date, timedelta

from cryptography.fernet import InvalidToken
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from tidsnok import crypto
from tidsnok.absence import services
from tidsnok.absence.models import Certification, Episode, GradePeriod, ImportJob, WorkRelated
from tidsnok.absence.policy import may_import
from tidsnok.access.policy import AccessDenied
from tidsnok.audit.services import record
from tidsnok.org import scope
from tidsnok.org.importer import Column, RowError, chunks, parse_date, parse_percent, read_table
from tidsnok.org.models import Person

log = logging.getLogger("tidsnok.absence")

FILE = "absence"
# Rows imported while the user waits. At 50,000 employees the import runs at about 50 rows a
# second (docs/performance.md, section 4) and an app server gives a request 120 s, so a larger
# file is imported by the sweep.
IMPORT_AT_ONCE = 1000
# A job still running this long after it started lost its worker; a year's file of a
# 50,000-employee organisation takes about 35 minutes.
JOB_STALE_AFTER = timedelta(hours=3)
JOB_ERRORS_KEPT = 1000
COLUMNS = (
    Column("employee_number", "ansattnummer", ("employee", "ansatt"), True, True),
    Column("external_id", "fravaers_id", ("id", "episode_id", "fraværs_id", "fravær_id"), False, False),
    Column("start", "fra", ("start_date", "first_day", "startdato", "fra_dato", "første_dag"), True, True),
    Column("end", "til", ("end_date", "last_day", "sluttdato", "til_dato", "siste_dag"), False, False),
    Column("grade", "grad", ("percent", "prosent", "sykmeldingsgrad"), False, False),
    Column("certified", "type", ("certification", "egenmelding_eller_sykmelding", "dokumentasjon"), True, True),
    Column("work_related", "arbeidsrelatert", ("work-related",), False, False),
)
# Headers that suggest medical information. The employer must never hold a
# diagnosis, so such a file is refused whole, not imported without the column.
DIAGNOSIS_LIKE = re.compile(
    r"diagnos|icd|icpc|sykdom|lidelse|illness|disease|medical|medisinsk|symptom|condition|årsak|cause",
    re.IGNORECASE,
)
CERTIFIED_VALUES = {
    "self": Certification.SELF, "egenmelding": Certification.SELF, "egen": Certification.SELF, "e": Certification.SELF,
    "doctor": Certification.DOCTOR, "sykmelding": Certification.DOCTOR, "lege": Certification.DOCTOR,
    "s": Certification.DOCTOR,
}
WORK_RELATED_VALUES = {
    "": WorkRelated.NO, "no": WorkRelated.NO, "nei": WorkRelated.NO,
    "partly": WorkRelated.PARTLY, "delvis": WorkRelated.PARTLY,
    "fully": WorkRelated.FULLY, "yes": WorkRelated.FULLY, "ja": WorkRelated.FULLY,
}


@dataclass(frozen=True)
class AbsenceRow:
    line: int
    employee_number: str
    external_id: str
    start: date
    end: date | None
    grade: int
    certified: str
    work_related: str

    @property
    def key(self) -> str:
        return self.external_id or f"{self.employee_number}:{self.start.isoformat()}"


@dataclass
class ImportResult:
    errors: list[RowError] = field(default_factory=list)
    summary: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def _diagnosis_columns(data: bytes) -> list[RowError]:
    try:
        first = data.decode("utf-8-sig").lstrip("\r\n").split("\n", 1)[0]
    except UnicodeDecodeError:
        return []  # read_table reports the encoding
    delimiter = ";" if first.count(";") > first.count(",") else ","
    header = next(csv.reader(io.StringIO(first), delimiter=delimiter), [])
    return [
        RowError(FILE, 1, cell.strip(), _(
            "The column “%(column)s” looks like medical information. tidsnok never stores a diagnosis: "
            "remove the column and import again.") % {"column": cell.strip()})
        for cell in header if cell.strip() and DIAGNOSIS_LIKE.search(cell)
    ]


def parse(data: bytes) -> tuple[list[AbsenceRow], list[RowError]]:
    """Pure: the file's rows, or every problem in it."""
    refused = _diagnosis_columns(data)
    if refused:
        return [], refused
    headers, records, errors = read_table(data, FILE, COLUMNS)
    rows = []
    for line, values in records:
        problems = []

        def bad(column, reason):
            problems.append(RowError(FILE, line, headers.get(column, column), reason))

        if not values.get("employee_number"):
            bad("employee_number", _("The employee number is missing."))
        start = parse_date(values.get("start", ""))
        if start is None:
            bad("start", _("“%(value)s” is not a date (use dd.mm.yyyy).") % {"value": values.get("start", "")})
        end = None
        if values.get("end"):
            end = parse_date(values["end"])
            if end is None:
                bad("end", _("“%(value)s” is not a date (use dd.mm.yyyy).") % {"value": values["end"]})
            elif start is not None and end < start:
                bad("end", _("The last day is before the first day."))
        grade = 100
        if values.get("grade"):
            grade = parse_percent(values["grade"])
            if grade is None:
                bad("grade", _("The grade must be a percentage from 1 to 100."))
        certified = CERTIFIED_VALUES.get(values.get("certified", "").strip().lower())
        if certified is None:
            bad("certified", _("Use “egenmelding” (self) or “sykmelding” (doctor)."))
        work_related = WORK_RELATED_VALUES.get(values.get("work_related", "").strip().lower())
        if work_related is None:
            bad("work_related", _("Use “nei”, “delvis” or “ja”."))
        if problems:
            errors.extend(problems)
            continue
        rows.append(AbsenceRow(line, values["employee_number"], values.get("external_id", ""), start, end, grade,
                               certified, work_related))
    return rows, errors


def _check_against_database(rows: list[AbsenceRow], organisation_id: int) -> tuple[dict, list[RowError]]:
    errors = []
    people = {}
    for chunk in chunks(sorted({r.employee_number for r in rows})):
        people.update((p.employee_number, p) for p in Person.objects.filter(
            organisation_id=organisation_id, employee_number__in=chunk).select_related("unit").order_by())
    seen: dict[str, int] = {}
    by_person: dict[str, list[AbsenceRow]] = {}
    for row in rows:
        if row.employee_number not in people:
            errors.append(RowError(FILE, row.line, "employee_number", _(
                "No person with employee number “%(number)s”.") % {"number": row.employee_number}))
        if row.key in seen:
            errors.append(RowError(FILE, row.line, "external_id", _(
                "The same absence is also on line %(line)d.") % {"line": seen[row.key]}))
        seen.setdefault(row.key, row.line)
        by_person.setdefault(row.employee_number, []).append(row)
    for number, person_rows in by_person.items():
        ordered = sorted(person_rows, key=lambda r: r.start)
        for earlier, later in zip(ordered, ordered[1:]):
            if earlier.end is None or earlier.end >= later.start:
                errors.append(RowError(FILE, later.line, "start", _(
                    "Overlaps the absence on line %(line)d for the same person.") % {"line": earlier.line}))
    return people, errors


def _own_absence(actor, rows: list[AbsenceRow], people: dict) -> list[RowError]:
    """Nobody but an administrator registers her own absence (absence.services), and an HR
    adviser's payroll file holds her own: say so for the line, instead of failing the import."""
    me = scope.person_of(actor)
    if me is None or scope.is_admin(actor):
        return []
    return [RowError(FILE, row.line, "employee_number", _(
        "This is your own absence, which only an administrator may import. Remove the line, or ask an "
        "administrator to import the file.")) for row in rows if people.get(row.employee_number) == me]


@dataclass(frozen=True)
class Existing:
    """An episode already in the database, with what an import row is compared to."""

    pk: int
    start: date
    end: date | None
    certified: str
    work_related: str
    grade: int | None  # the latest grade


@dataclass
class ExistingEpisodes:
    """The episodes a file's rows may match, read once per import: by payroll id, and by
    (person, first day) for those without one."""

    by_external_id: dict[str, Existing] = field(default_factory=dict)
    by_person_start: dict[tuple[int, date], Existing] = field(default_factory=dict)

    @classmethod
    def read(cls, organisation_id: int, rows: list[AbsenceRow], people: dict[str, Person]) -> "ExistingEpisodes":
        """Only what `find` can return for these rows: reading all of the organisation's episodes
        cost a large employer 4 s per import (291,000 episodes), even for a file of one row."""
        columns = ("pk", "external_id", "person_id", "start", "end", "certified", "work_related")
        episodes = Episode.objects.filter(organisation_id=organisation_id).order_by()
        found = []
        # The excluded blank id lets the database use the payroll id's (partial) unique index.
        for chunk in chunks(sorted({row.external_id for row in rows if row.external_id})):
            found += episodes.filter(external_id__in=chunk).exclude(external_id="").values_list(*columns)
        for chunk in chunks(sorted({people[row.employee_number].pk for row in rows if not row.external_id})):
            found += episodes.filter(person_id__in=chunk, external_id="").values_list(*columns)
        latest_grade: dict[int, int] = {}
        for chunk in chunks(sorted(pk for pk, *_rest in found)):
            grades = GradePeriod.objects.filter(episode_id__in=chunk).order_by("episode_id", "from_date")
            for episode_id, grade in grades.values_list("episode_id", "grade"):
                latest_grade[episode_id] = grade  # the latest from_date wins
        index = cls()
        for pk, external_id, person_id, start, end, certified, work_related in found:
            item = Existing(pk, start, end, certified, work_related, latest_grade.get(pk))
            if external_id:
                index.by_external_id[external_id] = item
            else:
                index.by_person_start[(person_id, start)] = item
        return index

    def find(self, row: AbsenceRow, person: Person) -> Existing | None:
        if row.external_id:
            return self.by_external_id.get(row.external_id)
        return self.by_person_start.get((person.pk, row.start))


def submit(actor, organisation, data: bytes, filename: str = "") -> "ImportResult | ImportJob":
    """The import page's upload: a file's own mistakes are reported at once; a small file is
    imported while the user waits, a larger one is queued for the sweep (ImportJob)."""
    if not may_import(actor):
        raise AccessDenied("import_absence")
    rows, errors = parse(data)
    if errors:
        return ImportResult(errors=sorted(errors, key=RowError.sort_key))
    if len(rows) <= IMPORT_AT_ONCE:
        return import_episodes(actor, organisation, data, filename)
    sha256 = hashlib.sha256(data).hexdigest()
    with transaction.atomic():
        job = ImportJob.objects.create(
            organisation=organisation, uploaded_by=actor, filename=filename[:255], rows=len(rows),
            content=crypto.encrypt_bytes(data), sha256=sha256,
        )
        record(actor, "absence.import_queued", organisation,
               {"job": job.pk, "rows": len(rows), "sha256": sha256, "filename": filename})
    return job


def run_queued_import(worker: str = "") -> int:
    """Sweep upkeep: import the oldest waiting file, if any (one a round, so reminders are not
    held up behind several large files). Returns how many it ran."""
    now = timezone.now()
    # The import is one transaction: a worker that died during it wrote nothing, and its job
    # can simply wait again.
    ImportJob.objects.filter(status=ImportJob.Status.RUNNING, started_at__lt=now - JOB_STALE_AFTER).update(
        status=ImportJob.Status.QUEUED, claimed_by="", started_at=None)
    job_id = (ImportJob.objects.filter(status=ImportJob.Status.QUEUED).order_by("queued_at", "pk")
              .values_list("pk", flat=True).first())
    if job_id is None:
        return 0
    # Several sweep workers may pick the same job: the conditional update gives it to one.
    claimed = ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.QUEUED).update(
        status=ImportJob.Status.RUNNING, claimed_by=worker[:200], started_at=now)
    if not claimed:
        return 0
    job = ImportJob.objects.select_related("organisation", "uploaded_by").get(pk=job_id)
    _run(job)
    return 1


def _run(job: ImportJob) -> None:
    user = job.uploaded_by
    # The episodes and the job's result are committed together: a worker that dies between
    # them leaves neither, and the job waits again. Problems are worded for the uploader.
    with transaction.atomic(), translation.override(getattr(user, "language", "") or settings.LANGUAGE_CODE):
        result = _attempt(job, user)
        job.status = ImportJob.Status.DONE if result.ok else ImportJob.Status.FAILED
        job.result = ({"summary": {k: result.summary[k] for k in ("created", "changed", "unchanged")}} if result.ok
                      else {"errors": [[e.line, e.column, e.reason] for e in result.errors[:JOB_ERRORS_KEPT]],
                            "problems": len(result.errors)})
        job.content = b""  # the minimum: the episodes are in the database now, or nothing is
        job.finished_at = timezone.now()
        job.save(update_fields=["status", "result", "content", "finished_at"])
        if not result.ok:
            record(user, "absence.import_failed", job.organisation,
                   {"job": job.pk, "problems": len(result.errors), "sha256": job.sha256})


def _attempt(job: ImportJob, user) -> ImportResult:
    """The import in a savepoint: whatever fails inside it, the job's own row can still be written."""
    try:
        with transaction.atomic():
            return import_episodes(user, job.organisation, crypto.decrypt_bytes(bytes(job.content)), job.filename)
    except AccessDenied:
        reason = _("The person who uploaded the file may no longer import absence. Nothing was imported.")
    except InvalidToken:
        reason = _("The file can no longer be read (the encryption keys changed). Nothing was imported: upload it "
                   "again.")
    except Exception:
        log.exception("absence import job %s failed", job.pk)
        reason = _("The import stopped on an unexpected error. Nothing was imported: try again, or tell the "
                   "administrator.")
    return ImportResult(errors=[RowError(FILE, None, "", reason)])


def import_episodes(actor, organisation, data: bytes, filename: str = "") -> ImportResult:
    """Check the whole file, then apply it in one transaction, or write nothing."""
    if not may_import(actor):
        raise AccessDenied("import_absence")
    rows, errors = parse(data)
    people, more = _check_against_database(rows, organisation.pk)
    errors += more + _own_absence(actor, rows, people)
    if errors:
        return ImportResult(errors=sorted(errors, key=RowError.sort_key))
    created, changed, unchanged = [], [], 0
    with transaction.atomic(), services.one_run():
        # Read once: no row of a file can match an episode another row creates
        # (the keys in a file are unique), so this is what each row would find.
        existing = ExistingEpisodes.read(organisation.pk, rows, people)
        for row in sorted(rows, key=lambda r: (r.employee_number, r.start)):
            try:
                outcome = _apply(actor, row, people[row.employee_number], existing)
            except ValidationError as exc:
                # Checked against the database inside the transaction (an overlap
                # with an episode not in the file): report it, and write nothing.
                for column, messages in exc.message_dict.items():
                    errors.extend(RowError(FILE, row.line, column, message) for message in messages)
                continue
            if outcome == "created":
                created.append(row.key)
            elif outcome == "changed":
                changed.append(row.key)
            else:
                unchanged += 1
        if errors:
            transaction.set_rollback(True)
            return ImportResult(errors=sorted(errors, key=RowError.sort_key))
        summary = {"created": len(created), "changed": len(changed), "unchanged": unchanged,
                   "changed_keys": changed[:200], "sha256": hashlib.sha256(data).hexdigest(), "filename": filename}
        record(actor, "absence.imported", organisation, summary)
    return ImportResult(summary=summary)


def _apply(actor, row: AbsenceRow, person: Person, existing: ExistingEpisodes) -> str:
    found = existing.find(row, person)
    if found is None:
        services.register_episode(
            actor, person=person, start=row.start, end=row.end, grade=row.grade, certified=row.certified,
            work_related=row.work_related, external_id=row.external_id,
        )
        return "created"
    changes = {name: getattr(row, name) for name in ("start", "end", "certified", "work_related")
               if getattr(found, name) != getattr(row, name)}
    if not changes and found.grade == row.grade:
        return "unchanged"
    episode = Episode.objects.get(pk=found.pk)
    if changes:
        episode = services.update_episode(actor, episode, episode.version, **changes)
    if found.grade != row.grade:
        # The file carries one grade for the whole episode.
        services.set_grade(actor, episode, episode.version, from_date=episode.start, grade=row.grade)
    return "changed"
