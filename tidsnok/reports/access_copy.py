"""Innsynskopi: the employee's access copy (GDPR art. 15), one PDF of what
tidsnok holds about one person, with its metadata.

Who may make it: HR whose scope reaches the person's unit, and administrators
(`exportable_people`). Anyone else is told the person does not exist. The copy is
made by HR for the employee; the employee does not download it herself (stage 2
lets her ask for it).

What it reads, and through what:
- The person record and her role assignments: `visible(actor, Person)` decides
  whether she can be exported at all; her own rows are then read directly.
- Cases, entries and measures only through `visible(actor, ...)`. A case the
  exporter may not read (restricted to its handlers, or one she is excluded from
  for impartiality, or any case for an administrator who is not HR) is counted,
  never opened: the access copy must not become a way round the case policy.
  The document says how many such cases there are and that their handlers must
  add them.
- Absence episodes through `visible(actor, Episode)`; plan versions of the
  cases read above.
- Whistleblowing: only reports she filed by name. Never the reports that concern
  her (see `_reports_filed`).
- Risk assessments of the work environment (risk.exports.held_about): where she
  took part, the comments she wrote and the measures of action plans she owns,
  each with its assessment's title and unit.
- Metadata from the audit log: who read her cases (ACCESS events and case
  exports) and the events whose object is her person record (action, time and
  the actor's role; never the payload).

Every section is read with a fixed number of queries, whatever the number of
cases, entries or episodes (tests/reports/test_access_copy.py pins it).

The document's words go through gettext in the language asked for (bokmål by
default, English), under `translation.override`, so the PDF's language does
not follow the request's. User data reaches typst as one JSON string in
`sys.inputs`, never as markup, as for the case PDF (case_pdf.py).

Exporting writes one `person.access_copy_exported` event with the person as
object and the file's SHA-256, no content; a failed build writes nothing. When
the copy answers an employee's request (access_copy_requests.py), the request is
marked delivered in the same transaction, with a `person.access_request_delivered`
event.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from importlib import resources

from django.db import transaction
from django.db.models import Count, QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from tidsnok.absence.models import Certification, Episode, PlanVersion, Recipient, WorkRelated
from tidsnok.access.policy import AccessDenied, visible
from tidsnok.audit.models import AuditEvent
from tidsnok.audit.services import record
from tidsnok.cases.models import (
    Case,
    Deadline,
    DeadlineStatus,
    Entry,
    EntryKind,
    Kind,
    Measure,
    MeasureKind,
    MeasureStatus,
    Party,
    PartyRole,
    Status,
    Visibility,
)
from tidsnok.deadlines.rules import ORGANISATION_POLICY, POLICY_DEFAULT
from tidsnok.org import scope
from tidsnok.org.models import Person, Role, RoleAssignment
from tidsnok.reports.case_pdf import ExportedPdf, _d, _dt
from tidsnok.reports.models import AccessRequest
from tidsnok.reports.typeset import typeset_document
from tidsnok.risk import exports as risk_exports
from tidsnok.risk.models import ParticipantRole
from tidsnok.whistleblowing.models import Anonymity, Assessment, Category, Report

TEMPLATE = "templates/reports/access_copy.typ"
EXPORT_ACTION = "person.access_copy_exported"
DELIVERED_ACTION = "person.access_request_delivered"
LANGUAGES = ("nb", "en")
# The audit actions that are a read of a case: a page view (ACCESS) and a PDF export.
READ_ACTIONS = ("ACCESS", "case.exported")


class UnknownLanguage(ValueError):
    """The copy was asked for in a language tidsnok does not write."""


def check_language(lang) -> str:
    if lang not in LANGUAGES:
        raise UnknownLanguage(lang)
    return lang


# --- who may export ----------------------------------------------------------------------------


def exportable_people(actor) -> QuerySet:
    """The people whose access copy `actor` may make: HR for the people in its scope,
    an administrator for everyone in the organisation, nobody else (managers
    included: the copy holds more than a manager may see)."""
    people = visible(actor, Person)
    if scope.is_admin(actor):
        return people
    hr = scope.hr_scope(actor)
    if hr == scope.ALL:
        return people
    if not hr:
        return Person.objects.none()
    return people.filter(unit_id__in=sorted(hr))


def person_for_export(actor, person_id) -> Person:
    """The person, if `actor` may make her access copy; AccessDenied otherwise
    (also for an id that does not exist: the views answer both with 404)."""
    try:
        person_id = int(person_id)
    except (TypeError, ValueError):
        raise AccessDenied("export_access_copy") from None
    person = exportable_people(actor).select_related("unit", "user", "organisation").filter(pk=person_id).first()
    if person is None:
        raise AccessDenied("export_access_copy")
    return person


def may_export(actor, person: Person) -> bool:
    return exportable_people(actor).filter(pk=person.pk).exists()


# --- collecting ---------------------------------------------------------------------------------


@dataclass
class CaseCopy:
    case: Case
    entries: list[Entry] = field(default_factory=list)
    # Entries about another party of the same case (shared with her or internal):
    # counted, not shown (see collect()).
    entries_about_others: int = 0
    measures: list[Measure] = field(default_factory=list)
    deadlines: list[Deadline] = field(default_factory=list)
    plan_versions: list[PlanVersion] = field(default_factory=list)


@dataclass
class Collected:
    person: Person
    roles: list[RoleAssignment]
    episodes: list[Episode]
    cases: list[CaseCopy]
    # Cases she is a party to in another role than the concerned employee: (case, her roles).
    other_cases: list[tuple[Case, list[str]]]
    # Cases that do not concern her, with entries about her: (case number, count).
    mentions: list[tuple[str, int]]
    # Cases she is a party to that the exporter may not read.
    unreadable_cases: int
    reports: list[Report]
    risk: risk_exports.PersonRows
    reads: list[AuditEvent]
    events: list[AuditEvent]
    names: dict[int, str]  # person id -> name
    user_names: dict[int, str]  # user id -> name
    # False for an administrator outside HR: she reads no case or absence content.
    reaches_content: bool

    def counts(self) -> dict[str, int]:
        entries = [e for c in self.cases for e in c.entries]
        return {
            "roles": len(self.roles),
            "episodes": len(self.episodes),
            "cases": len(self.cases),
            "entries_shared": sum(1 for e in entries if e.visibility == Visibility.SHARED),
            "entries_internal": sum(1 for e in entries if e.visibility != Visibility.SHARED),
            "entries_about_others": sum(c.entries_about_others for c in self.cases),
            "measures": sum(len(c.measures) for c in self.cases),
            "deadlines": sum(len(c.deadlines) for c in self.cases),
            "plan_versions": sum(len(c.plan_versions) for c in self.cases),
            "other_cases": len(self.other_cases),
            "mentions": sum(n for _number, n in self.mentions),
            "unreadable_cases": self.unreadable_cases,
            "reports": len(self.reports),
            "risk_participations": len(self.risk.participations),
            "risk_comments": len(self.risk.comments),
            "risk_actions": len(self.risk.actions),
            "reads": len(self.reads),
            "events": len(self.events),
        }


def _reports_filed(person: Person) -> list[Report]:
    """Whistleblowing reports she filed by name.

    Read directly, not through the case policy: HR who is no handler of the report
    may still list that she filed it, since a named report is one whose reporter
    is meant to be known. Confidential reports are left out (her identity is for
    the handlers only; she reads them in the reporting channel), and anonymous
    ones have no reporter at all: tidsnok cannot, and must not, link them to
    anyone. The reports that concern her are never read here: their content and
    reporter are protected (aml § 2 A-4), and HR assesses what she may be given
    separately."""
    return list(
        Report.objects.filter(reporter=person, anonymity=Anonymity.NAMED)
        .select_related("case")
        .order_by("received_on", "pk")
    )


def collect(actor, person: Person) -> Collected:
    """Everything the copy shows, read in a fixed number of queries."""
    if not may_export(actor, person):
        raise AccessDenied("export_access_copy")
    hr = scope.hr_scope(actor)
    reaches_content = hr == scope.ALL or person.unit_id in hr

    roles = list(
        RoleAssignment.objects.filter(person=person).select_related("unit").order_by("starts_on", "pk")
    )
    episodes = list(
        visible(actor, Episode).filter(person=person).select_related("case").prefetch_related("grades")
        .order_by("start", "pk")
    )

    # Her links to cases. Whistleblowing cases are left out of every case section:
    # being a party to one tells who reported or who is reported on.
    links: dict[int, list[str]] = defaultdict(list)
    for case_id, role in (
        Party.objects.filter(person=person).exclude(case__kind=Kind.WHISTLEBLOWING).values_list("case_id", "role")
    ):
        links[case_id].append(role)
    readable = {
        c.pk: c
        for c in visible(actor, Case).filter(pk__in=list(links)).select_related("unit").order_by("created_at", "pk")
    }
    concerned_ids = [pk for pk in readable if PartyRole.CONCERNED in links[pk]]
    copies = {pk: CaseCopy(readable[pk]) for pk in concerned_ids}

    # The entries of her cases. An entry about another party (its `about` is someone
    # else: the accused's statement, a witness's conversation) is that person's data:
    # counted, not shown. Everything else is hers, shared or internal, and marked so.
    for entry in (
        visible(actor, Entry).filter(case_id__in=concerned_ids).order_by("occurred_on", "recorded_at", "pk")
    ):
        if entry.about_id not in (None, person.pk):
            copies[entry.case_id].entries_about_others += 1
        else:
            copies[entry.case_id].entries.append(entry)
    for measure in visible(actor, Measure).filter(case_id__in=concerned_ids).select_related("owner"):
        copies[measure.case_id].measures.append(measure)
    # Deadlines belong to the cases read above through the policy.
    for deadline in Deadline.objects.filter(case_id__in=concerned_ids).order_by("due", "pk"):
        copies[deadline.case_id].deadlines.append(deadline)
    for version in (
        PlanVersion.objects.filter(plan__case_id__in=concerned_ids).select_related("plan")
        .prefetch_related("sendings").order_by("number")
    ):
        copies[version.plan.case_id].plan_versions.append(version)

    # Cases where she is the accused, a witness or another party are about someone
    # else (the concerned employee): their content would give her the other
    # people's data (GDPR art. 15 (4)). So they are listed by number, kind and her
    # role only; HR can give extracts on request after weighing the others' rights.
    other_cases = [
        (readable[pk], links[pk]) for pk in readable if PartyRole.CONCERNED not in links[pk]
    ]
    # Likewise entries about her in the cases that do not concern her (a witness's
    # conversation, the accused's statement): a count per case number, never their
    # text, which is written in a case about someone else and names that person.
    mentions = [
        (number, n)
        for number, n in visible(actor, Entry)
        .filter(about=person)
        .exclude(case_id__in=concerned_ids)
        .exclude(case__kind=Kind.WHISTLEBLOWING)
        .values_list("case__number")
        .annotate(n=Count("pk"))
        .order_by("case__number")
    ]
    unreadable = len(set(links) - set(readable))

    reads = list(
        AuditEvent.objects.filter(
            action__in=READ_ACTIONS, object_type=Case._meta.label_lower,
            object_id__in=[str(pk) for pk in concerned_ids],
        ).order_by("seq")
    )
    events = list(
        AuditEvent.objects.filter(object_type=Person._meta.label_lower, object_id=str(person.pk)).order_by("seq")
    )

    person_ids = {e.author_id for c in copies.values() for e in c.entries if e.author_id}
    person_ids |= {v.created_by_id for c in copies.values() for v in c.plan_versions if v.created_by_id}
    names = dict(Person.objects.filter(pk__in=person_ids).values_list("pk", "name")) if person_ids else {}
    for c in copies.values():
        names.update({m.owner_id: m.owner.name for m in c.measures})
    user_ids = {e.actor_id for e in reads if e.actor_id}
    user_names = dict(Person.objects.filter(user_id__in=user_ids).values_list("user_id", "name")) if user_ids else {}

    return Collected(
        person=person, roles=roles, episodes=episodes, cases=[copies[pk] for pk in concerned_ids],
        other_cases=other_cases, mentions=mentions, unreadable_cases=unreadable, reports=_reports_filed(person),
        risk=risk_exports.held_about(person),
        reads=reads, events=events, names=names, user_names=user_names, reaches_content=reaches_content,
    )


# --- wording ------------------------------------------------------------------------------------


def _label(enum, value) -> str:
    return str(dict(enum.choices).get(value, value)) if value else ""


def _roles_text(codes: str) -> str:
    labels = [_label(Role, code) for code in codes.split(",") if code]
    return ", ".join(labels) or _("none recorded")


def _grades(episode: Episode) -> str:
    return ", ".join(
        _("%(grade)s %% from %(date)s") % {"grade": g.grade, "date": _d(g.from_date)} for g in episode.grades.all()
    )


def _table(header: list[str], rows: list[list[str]], empty: str, widths: list[str] | None = None) -> dict:
    return {"type": "table", "header": header, "rows": rows, "empty": empty,
            "widths": widths or ["1fr"] * len(header)}


def _pairs(rows: list[list[str]]) -> dict:
    return {"type": "pairs", "rows": [r for r in rows if r[1] not in ("", None)]}


def _text(body: str) -> dict:
    return {"type": "text", "body": body}


def _heading(body: str) -> dict:
    return {"type": "heading", "body": body}


def _case_blocks(c: CaseCopy, names: dict[int, str], today: date) -> list[dict]:
    case = c.case
    blocks = [
        _heading(f"{case.number} · {_label(Kind, case.kind)}"),
        _pairs([
            [_("Unit"), f"{case.unit.name} ({case.unit.code})"],
            [_("Status"), _label(Status, case.status)],
            [_("The manager first knew"), _d(case.known_at)],
            [_("Registered"), _dt(case.created_at)],
            [_("Closed"), _dt(case.closed_at) if case.status == Status.CLOSED else ""],
            [_("What happened"), case.description],
        ]),
    ]
    shared, internal = _("Shared with you"), _("Internal")
    blocks.append(_table(
        [_("Happened"), _("Recorded"), _("Kind"), _("Written by"), _("Shared or internal"), _("Text")],
        [[_d(e.occurred_on), _dt(e.recorded_at), _label(EntryKind, e.kind), names.get(e.author_id, ""),
          shared if e.visibility == Visibility.SHARED else internal, e.text] for e in c.entries],
        _("No entries."), ["auto", "auto", "auto", "auto", "auto", "1fr"],
    ))
    if c.entries_about_others:
        blocks.append(_text(_(
            "Entries in this case about another party, left out (see the last section): %(n)s."
        ) % {"n": c.entries_about_others}))
    blocks.append(_table(
        [_("Measure"), _("Type"), _("Responsible"), _("Due"), _("Status"), _("Shared or internal")],
        [[m.what, _label(MeasureKind, m.kind), m.owner.name, _d(m.due),
          _label(MeasureStatus, m.status) + (f" ({_d(m.done_on)})" if m.done_on else ""),
          shared if m.visibility == Visibility.SHARED else internal] for m in c.measures],
        _("No measures."), ["1fr", "auto", "auto", "auto", "auto", "auto"],
    ))
    rows = []
    for d in c.deadlines:
        status = _label(DeadlineStatus, d.status)
        if d.status == DeadlineStatus.OPEN and d.due < today:
            status = _("Open, overdue")
        basis = {POLICY_DEFAULT: _("tidsnok's default (not set by law)"),
                 ORGANISATION_POLICY: _("the organisation's own deadline")}.get(d.basis, d.basis)
        rows.append([d.title(translation.get_language()), basis, _d(d.due), _d(d.met_on), status])
    blocks.append(_table(
        [_("Deadline"), _("Legal basis"), _("Due"), _("Met"), _("Status")], rows, _("No deadlines."),
        ["1fr", "1fr", "auto", "auto", "auto"],
    ))
    return blocks


def _plan_blocks(c: CaseCopy, names: dict[int, str]) -> list[dict]:
    blocks = []
    responses = {"approved": _("You agreed with the plan"), "disagreed": _("You disagreed with the plan")}
    for v in c.plan_versions:
        sent = ", ".join(f"{_label(Recipient, s.recipient)} {_d(s.sent_on)}" for s in v.sendings.all())
        blocks.append(_heading(_("%(case)s, plan version %(number)s") % {"case": c.case.number, "number": v.number}))
        blocks.append(_pairs([
            [_("Made on"), _d(v.made_on)],
            [_("Made by"), names.get(v.created_by_id, "")],
            [_("Work tasks and work capacity"), v.work_tasks_and_capacity],
            [_("Adaptation and measures by the employer"), v.employer_measures],
            [_("Measures with help from NAV or others"), v.assisted_measures],
            [_("Plan for further follow-up"), v.further_follow_up],
            [_("Your response"), responses.get(v.employee_response, _("No response"))
             + (f" ({_dt(v.employee_responded_at)})" if v.employee_responded_at else "")],
            [_("Your comment"), v.employee_comment],
            [_("Sent to"), sent],
        ]))
    return blocks


def access_copy_document(actor, collected: Collected, lang: str, now: datetime,
                         request: AccessRequest | None = None) -> dict:
    """The document as JSON-ready data, every text worded in `lang`."""
    with translation.override(lang):
        return _document(actor, collected, lang, now, request)


def _document(actor, collected: Collected, lang: str, now: datetime, request: AccessRequest | None) -> dict:
    person = collected.person
    today = timezone.localdate(now)
    exporter = scope.person_of(actor)
    roles_now = scope.role_label(actor)
    sections = []

    sections.append({"title": _("About you"), "blocks": [
        _pairs([
            [_("Name"), person.name],
            [_("Employee number"), person.employee_number],
            [_("E-mail"), person.email],
            [_("Login e-mail address"), person.user.email if person.user_id else ""],
            [_("Unit"), f"{person.unit.name} ({person.unit.code})"],
            [_("Position"), person.position],
            [_("Position percentage"), f"{person.position_percent} %"],
            [_("Start date"), _d(person.start_date)],
            [_("End date"), _d(person.end_date)],
        ]),
        _heading(_("Roles you hold or have held")),
        _table(
            [_("Role"), _("Unit"), _("From"), _("To")],
            [[_label(Role, r.role), r.unit.name if r.unit_id else _("The whole organisation"), _d(r.starts_on),
              _d(r.ends_on)] for r in collected.roles],
            _("No roles."),
        ),
    ]})

    sections.append({"title": _("Sick-leave absence"), "blocks": [
        _text(_("Dates, grade, kind of certificate and whether the absence is work-related. "
                "tidsnok never holds a diagnosis.")),
        _table(
            [_("First day"), _("Last day"), _("Grade"), _("Certified by"), _("Work-related"), _("Case")],
            [[_d(e.start), _d(e.end) or _("ongoing"), _grades(e), _label(Certification, e.certified),
              _label(WorkRelated, e.work_related), e.case.number if e.case_id else ""] for e in collected.episodes],
            _("No absence episodes."),
        ),
    ]})

    case_blocks = []
    for c in collected.cases:
        case_blocks.extend(_case_blocks(c, collected.names, today))
    if not case_blocks:
        case_blocks.append(_text(_("No cases concern you.")))
    sections.append({"title": _("Cases that concern you"), "blocks": [
        _text(_("Each entry and measure is marked as shared with you or internal to the case's handlers. "
                "This copy includes the internal ones.")),
        *case_blocks,
    ]})

    plan_blocks = []
    for c in collected.cases:
        plan_blocks.extend(_plan_blocks(c, collected.names))
    sections.append({"title": _("Follow-up plans"), "blocks": plan_blocks or [_text(_("No follow-up plans."))]})

    other_blocks = [
        _text(_("These cases are about someone else. Only the case number and your part in the case are given: "
                "their content is other people's personal data. Ask HR if you want an extract.")),
        _table(
            [_("Case"), _("Kind"), _("Your part"), _("Registered"), _("Status")],
            [[case.number, _label(Kind, case.kind), ", ".join(_label(PartyRole, r) for r in case_roles),
              _d(timezone.localdate(case.created_at)), _label(Status, case.status)]
             for case, case_roles in collected.other_cases],
            _("None."),
        ),
        _heading(_("Entries about you in other cases")),
        _table(
            [_("Case"), _("Entries about you")], [[number, str(n)] for number, n in collected.mentions], _("None."),
        ),
    ]
    if collected.unreadable_cases:
        other_blocks.append(_text(_(
            "Further cases linked to you that are restricted to their handlers and not in this copy: %(n)s. "
            "Their handlers must add what they hold about you."
        ) % {"n": collected.unreadable_cases}))
    sections.append({"title": _("Other cases"), "blocks": other_blocks})

    sections.append({"title": _("Risk assessments of the work environment"), "blocks": _risk_blocks(collected.risk)})

    sections.append({"title": _("Whistleblowing"), "blocks": [
        _text(_("Reports you filed with your name:")),
        _table(
            [_("Case"), _("Received"), _("About"), _("Assessment"), _("Status")],
            [[r.case.number, _d(r.received_on), _label(Category, r.category), _label(Assessment, r.assessment),
              _label(Status, r.case.status)] for r in collected.reports],
            _("None."),
        ),
        _text(_("Anonymous reports are not linked to anyone and never appear here. Reports you filed "
                "confidentially are not listed, so that your identity stays with the handlers; you find them "
                "in the reporting channel.")),
        _text(_("Whistleblowing reports that may concern you are not part of this copy: the law protects the "
                "person who reported (aml § 2 A-4). Such material is assessed separately by HR, and you will "
                "be told what you can be given.")),
    ]})

    sections.append({"title": _("Who read your cases"), "blocks": [
        _text(_("Every read of a case page and every export of a case that concerns you, from the audit log.")),
        _table(
            [_("Time"), _("Case"), _("Who"), _("Role"), _("What")],
            [[_dt(e.time), _case_number(collected, e.object_id), collected.user_names.get(e.actor_id, _("unknown")),
              _roles_text(e.role), _("Read") if e.action == "ACCESS" else _("Exported as PDF")]
             for e in collected.reads],
            _("No reads recorded."),
        ),
    ]})

    sections.append({"title": _("Events about your person record"), "blocks": [
        _text(_("From the audit log: what was done, when, and in which role. The details of each event are "
                "left out.")),
        _table(
            [_("Time"), _("Event"), _("Role")],
            [[_dt(e.time), e.action, _roles_text(e.role) if e.role else _("the system")] for e in collected.events],
            _("None."),
        ),
    ]})

    left_out = [
        _("Diagnoses: tidsnok never stores one (GDPR art. 9)."),
        _("The content and the reporter of whistleblowing reports that may concern you (aml § 2 A-4); HR "
          "assesses such material separately."),
        _("Anonymous whistleblowing reports: tidsnok cannot link them to anyone."),
        _("Entries about other parties in your cases, and the content of cases about someone else: they are "
          "other people's personal data (GDPR art. 15 (4)). They are counted or listed by case number."),
        _("The details of audit events: only what was done, when and in which role."),
    ]
    if collected.unreadable_cases:
        left_out.append(_("Cases restricted to their handlers, which the person who made this copy may not read."))
    if not collected.reaches_content:
        left_out.append(_("This copy was made by an administrator who does not read case or absence content: "
                          "HR must complete those sections."))
    sections.append({"title": _("What is left out, and why"), "blocks": [{"type": "list", "items": left_out}]})

    return {
        "lang": lang,
        "t": {
            "title": _("Access copy"),
            "confidential": _("Confidential – contains personal data"),
            "page": _("Page"),
            "of": _("of"),
            "made": _("Made"),
        },
        "meta": {
            "person": person.name,
            "organisation": person.organisation.name
            + (f" ({person.organisation.org_number})" if person.organisation.org_number else ""),
            "made_at": _dt(now),
            "made_by": _("%(name)s (%(role)s)") % {
                "name": exporter.name if exporter else getattr(actor, "email", ""), "role": _roles_text(roles_now),
            },
            "intro": _(
                "This is your copy of everything tidsnok holds about you, with its metadata, under your right of "
                "access (GDPR art. 15). The employer must answer a request for access without undue delay and at "
                "the latest within one month of receiving it (GDPR art. 12 (3))."
            ),
        },
        "facts": [
            [_("Organisation"), person.organisation.name],
            [_("Made"), _dt(now)],
            [_("Made by"), exporter.name if exporter else getattr(actor, "email", "")],
            [_("Role of the maker"), _roles_text(roles_now)],
            [_("Legal basis"), _("GDPR art. 15 (right of access); art. 12 (3) (one month)")],
            *([[_("Your request received"), _d(request.received_on)], [_("Answer due"), _d(request.due_on)]]
              if request is not None else []),
        ],
        "sections": sections,
    }


def _risk_blocks(risk: risk_exports.PersonRows) -> list[dict]:
    """The units' mappings and risk assessments: where she took part, what she wrote, what she owns."""

    def where(assessment) -> list[str]:
        return [assessment.title, f"{assessment.unit.name} ({assessment.unit.code})"]

    return [
        _text(_("A unit's mapping and risk assessment of the work environment is about the work, not about a "
                "person. What it holds about you: where you took part, what you commented and the measures of "
                "its action plan you own.")),
        _heading(_("Where you took part")),
        _table(
            [_("Assessment"), _("Unit"), _("Took part as"), _("When")],
            [[*where(p.assessment), _label(ParticipantRole, p.role), _d(p.took_part_on)] for p in risk.participations],
            _("None."), ["1fr", "auto", "auto", "auto"],
        ),
        _heading(_("Your comments")),
        _table(
            [_("Assessment"), _("Unit"), _("Written"), _("As"), _("Comment")],
            [[*where(c.assessment), _dt(c.created_at), _label(ParticipantRole, c.role), c.text]
             for c in risk.comments],
            _("None."), ["auto", "auto", "auto", "auto", "1fr"],
        ),
        _heading(_("Measures you own")),
        _table(
            [_("Assessment"), _("Unit"), _("Measure"), _("Due"), _("Status")],
            [[*where(a.assessment), a.what, _d(a.due),
              _label(MeasureStatus, a.status) + (f" ({_d(a.done_on)})" if a.done_on else "")] for a in risk.actions],
            _("None."), ["auto", "auto", "1fr", "auto", "auto"],
        ),
    ]


def _case_number(collected: Collected, object_id: str) -> str:
    for c in collected.cases:
        if str(c.case.pk) == object_id:
            return c.case.number
    return ""


# --- rendering and the export -------------------------------------------------------------------


@lru_cache(maxsize=1)
def _template() -> bytes:
    return resources.files("tidsnok.reports").joinpath(TEMPLATE).read_bytes()


def render(document: dict, timestamp: datetime | None = None) -> bytes:
    """Compile the template with `document` as data; returns the PDF bytes."""
    return typeset_document(_template(), document, timestamp)


def filename(person: Person, lang: str, on: date) -> str:
    stem = "innsynskopi" if lang == "nb" else "access-copy"
    number = re.sub(r"[^A-Za-z0-9-]+", "-", person.employee_number).strip("-") or str(person.pk)
    return f"{stem}-{number}-{on.isoformat()}.pdf"


class AlreadyDelivered(Exception):
    """The request the copy was to answer is delivered already (or is not this person's)."""


def export_access_copy(actor, person: Person, lang: str = "nb", request: AccessRequest | None = None) -> ExportedPdf:
    """Build the person's access copy as a PDF and record the export.

    HR whose scope reaches the person, or an administrator; AccessDenied for
    anyone else, UnknownLanguage for a language other than nb and en. The event is
    written after the file is built, so a failed build leaves none. With `request`
    (an open request of the person's), the request is marked delivered in the same
    transaction as the export's event; AlreadyDelivered if it was not open."""
    lang = check_language(lang)
    if request is not None and (request.person_id != person.pk or not request.is_open):
        raise AlreadyDelivered(request.pk)
    now = timezone.now()
    collected = collect(actor, person)
    document = access_copy_document(actor, collected, lang, now, request)
    content = render(document, timestamp=now)
    digest = hashlib.sha256(content).hexdigest()
    role = scope.role_label(actor)
    with transaction.atomic():
        event = record(
            actor, EXPORT_ACTION, person,
            # Counts and a fingerprint only: what the copy says stays out of the log.
            {"format": "pdf", "language": lang, "sha256": digest, "bytes": len(content),
             "counts": collected.counts(), "request": request.pk if request else None},
            role=role,
        )
        if request is not None:
            # Conditional, so two HR advisers exporting at once deliver it once.
            delivered = AccessRequest.objects.filter(pk=request.pk, delivered_at__isnull=True).update(
                delivered_at=now, delivered_by=actor, delivered_sha256=digest,
            )
            if not delivered:
                raise AlreadyDelivered(request.pk)
            record(actor, DELIVERED_ACTION, person,
                   {"request": request.pk, "sha256": digest, "late": timezone.localdate(now) > request.due_on},
                   role=role)
    return ExportedPdf(content=content, filename=filename(person, lang, timezone.localdate(now)), sha256=digest,
                       language=lang, event=event)
