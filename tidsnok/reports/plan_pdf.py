"""Oppfølgingsplan: one version of a sick-leave follow-up plan as a PDF, for the
certifying doctor (sykmelder) and NAV.

The document follows NAV's structure of the plan (aml § 4-6 (3)): the work
tasks and work capacity, adaptation and measures by the employer, measures with
help from NAV or others, and the plan for further follow-up; then the
employee's response and where the plan has been sent. Around it: the
employee's name and position, the employer, and day 1 of the absence period.

Never anything medical: no diagnosis exists in tidsnok, and the document also
leaves out the sick-leave grade, the kind of certificate and whether the absence
is work-related. The doctor and NAV know those; the plan is about the work.

How it is built (as the case PDF, see case_pdf.py):
- `export_plan_pdf()` is the one entry point. Handlers of the case may export
  (`can(actor, "export", case)`), and so may the employee the plan is about:
  it is her plan. Anyone else gets AccessDenied (a 404 in the views).
- The data reaches typst as one JSON string in `sys.inputs` (never as markup),
  with only the fonts embedded in the typst package; PDF/A-2u when every glyph
  is covered.
- The export is written to the audit log as `absence.plan_exported` with the
  SHA-256 of the file, after the file is built; a failed build writes nothing.
- Exporting changes nothing: recording that the plan was sent is a separate
  step on the follow-up page.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from functools import lru_cache
from importlib import resources

from django.utils import timezone

from tidsnok.absence.models import Episode, PlanVersion, Recipient
from tidsnok.access.policy import AccessDenied, can, visible
from tidsnok.audit.services import record
from tidsnok.cases.models import Case, Kind, PartyRole
from tidsnok.org import scope
from tidsnok.reports.case_pdf import ExportedPdf, _d, _dt, language_of
from tidsnok.reports.typeset import typeset_document

TEMPLATE = "templates/reports/plan.typ"
EXPORT_ACTION = "absence.plan_exported"
LEGAL_BASIS = "aml § 4-6 (3)"

# The document's words in both languages, kept here for the same reason as in
# case_pdf.py: a document sent out must come out in the language asked for.
TEXT = {
    "nb": {
        "title": "Oppfølgingsplan",
        "confidential": "Fortrolig – inneholder personopplysninger",
        "page": "Side",
        "of": "av",
        "exported": "Eksportert",
        "by": "av",
        "version_line": "Versjon {number}, utarbeidet {date}",
        "intro": (
            "Oppfølgingsplan ved sykefravær etter arbeidsmiljøloven § 4-6 (3), til sykmelder og NAV. "
            "Planen er laget av arbeidsgiver og arbeidstaker sammen. Den beskriver arbeidet, ikke helsen: "
            "den inneholder ingen diagnose eller andre medisinske opplysninger."
        ),
        "sec_who": "Arbeidstaker og arbeidsgiver",
        "employee": "Arbeidstaker",
        "position": "Stilling",
        "employer": "Arbeidsgiver",
        "org_number": "org.nr.",
        "unit": "Enhet",
        "manager": "Nærmeste leder",
        "period_start": "Første fraværsdag",
        "case": "Saksnummer",
        "version": "Planversjon",
        "made_on": "Utarbeidet",
        "made_by": "Utarbeidet av",
        "superseded": "Det finnes en nyere versjon av planen (versjon {latest}).",
        "sec_plan": "Planen",
        "work_tasks_and_capacity": "Arbeidsoppgaver og arbeidsevne",
        "work_tasks_hint": "Hva arbeidstakeren kan gjøre, og hva ikke.",
        "employer_measures": "Tilrettelegging og tiltak fra arbeidsgiver",
        "assisted_measures": "Tiltak med bistand fra NAV eller andre",
        "further_follow_up": "Plan for videre oppfølging",
        "none": "Ingen.",
        "sec_response": "Arbeidstakerens svar",
        "approved": "Arbeidstakeren er enig i planen.",
        "disagreed": "Arbeidstakeren er uenig i planen.",
        "no_response": "Arbeidstakeren har ikke svart på denne versjonen ennå.",
        "did_not_take_part": "Arbeidstakeren deltok ikke i utarbeidelsen av planen.",
        "answered": "Svar gitt",
        "comment": "Arbeidstakerens kommentar",
        "reason": "Hvorfor",
        "sec_sent": "Sendt",
        "not_sent": "Denne versjonen er ikke registrert sendt ennå.",
        "sent_to": "Sendt til {recipient} {date}",
        "basis": "Hjemmel",
        "no_medical": "Ingen medisinske opplysninger",
    },
    "en": {
        "title": "Follow-up plan",
        "confidential": "Confidential – contains personal data",
        "page": "Page",
        "of": "of",
        "exported": "Exported",
        "by": "by",
        "version_line": "Version {number}, made {date}",
        "intro": (
            "Follow-up plan for sick leave under the Working Environment Act § 4-6 (3), for the certifying "
            "doctor and NAV. The plan is made by the employer and the employee together. It describes the work, "
            "not the health: it holds no diagnosis or other medical information."
        ),
        "sec_who": "Employee and employer",
        "employee": "Employee",
        "position": "Position",
        "employer": "Employer",
        "org_number": "org. no.",
        "unit": "Unit",
        "manager": "Nearest manager",
        "period_start": "First day of absence",
        "case": "Case number",
        "version": "Plan version",
        "made_on": "Made",
        "made_by": "Made by",
        "superseded": "There is a newer version of the plan (version {latest}).",
        "sec_plan": "The plan",
        "work_tasks_and_capacity": "Work tasks and work capacity",
        "work_tasks_hint": "What the employee can do, and what not.",
        "employer_measures": "Adaptation and measures by the employer",
        "assisted_measures": "Measures with help from NAV or others",
        "further_follow_up": "The plan for further follow-up",
        "none": "None.",
        "sec_response": "The employee's response",
        "approved": "The employee agrees with the plan.",
        "disagreed": "The employee disagrees with the plan.",
        "no_response": "The employee has not answered this version yet.",
        "did_not_take_part": "The employee did not take part in making the plan.",
        "answered": "Answered",
        "comment": "The employee's comment",
        "reason": "Why",
        "sec_sent": "Sent",
        "not_sent": "This version is not recorded as sent yet.",
        "sent_to": "Sent to {recipient} {date}",
        "basis": "Legal basis",
        "no_medical": "No medical information",
    },
}

RECIPIENTS = {
    "nb": {Recipient.DOCTOR: "sykmelder", Recipient.NAV: "NAV"},
    "en": {Recipient.DOCTOR: "the certifying doctor", Recipient.NAV: "NAV"},
}


def may_export_plan(actor, case: Case) -> bool:
    """Handlers with export access, and the employee the plan is about."""
    if case.kind != Kind.SICK_LEAVE:
        return False
    if can(actor, "export", case):
        return True
    return visible(actor, Case, "participate").filter(pk=case.pk).exists()


def plan_document(actor, version: PlanVersion, lang: str, now: datetime) -> dict:
    """Everything the template shows, as JSON-ready data with all text worded."""
    t = TEXT[lang]
    case = Case.objects.select_related("organisation", "unit", "owner").get(pk=version.plan.case_id)
    concerned = (
        case.parties.filter(role=PartyRole.CONCERNED).select_related("person").order_by("added_at", "id").first()
    )
    employee = concerned.person if concerned else None
    first_episode = Episode.objects.filter(case=case).order_by("start", "id").first()
    latest = version.plan.versions.order_by("-number").values_list("number", flat=True).first()
    organisation = case.organisation.name
    if case.organisation.org_number:
        organisation += f" ({t['org_number']} {case.organisation.org_number})"
    facts = [
        [t["employee"], employee.name if employee else ""],
        [t["position"], employee.position if employee and employee.position else "–"],
        [t["employer"], organisation],
        [t["unit"], case.unit.name],
        [t["manager"], case.owner.name if case.owner else "–"],
        [t["period_start"], _d(first_episode.period_start) if first_episode else "–"],
        [t["case"], case.number],
        [t["version"], str(version.number)],
        [t["made_on"], _d(version.made_on)],
    ]
    if version.created_by_id:
        facts.append([t["made_by"], version.created_by.name])

    sections = [
        {"title": t["work_tasks_and_capacity"], "hint": t["work_tasks_hint"], "text": version.work_tasks_and_capacity},
        {"title": t["employer_measures"], "hint": "", "text": version.employer_measures},
        {"title": t["assisted_measures"], "hint": "", "text": version.assisted_measures or t["none"]},
        {"title": t["further_follow_up"], "hint": "", "text": version.further_follow_up},
    ]

    if version.employee_response in ("approved", "disagreed"):
        response = {
            "status": t[version.employee_response], "agrees": version.employee_response == "approved",
            "answered": _dt(version.employee_responded_at), "comment": version.employee_comment, "reason": "",
        }
    elif version.employee_absent_reason:
        response = {"status": t["did_not_take_part"], "agrees": True, "answered": "", "comment": "",
                    "reason": version.employee_absent_reason}
    else:
        response = {"status": t["no_response"], "agrees": True, "answered": "", "comment": "", "reason": ""}

    sendings = [
        t["sent_to"].format(recipient=RECIPIENTS[lang].get(s.recipient, s.recipient), date=_d(s.sent_on))
        for s in version.sendings.order_by("sent_on", "id")
    ]
    exporter = scope.person_of(actor)
    return {
        "lang": lang,
        "t": t,
        "meta": {
            "number": case.number,
            "version_line": t["version_line"].format(number=version.number, date=_d(version.made_on)),
            "organisation": case.organisation.name,
            "employee": employee.name if employee else "",
            "exported_at": _dt(now),
            "exported_by": exporter.name if exporter else getattr(actor, "email", ""),
            "basis": LEGAL_BASIS,
            "superseded": t["superseded"].format(latest=latest) if latest and latest > version.number else "",
        },
        "facts": facts,
        "sections": sections,
        "response": response,
        "sendings": sendings,
    }


@lru_cache(maxsize=1)
def _template() -> bytes:
    return resources.files("tidsnok.reports").joinpath(TEMPLATE).read_bytes()


def render(document: dict, timestamp: datetime | None = None) -> bytes:
    """Compile the template with `document` as data; returns the PDF bytes."""
    return typeset_document(_template(), document, timestamp)


def filename(case: Case, version: PlanVersion, lang: str) -> str:
    stem = "oppfolgingsplan" if lang == "nb" else "follow-up-plan"
    return f"{stem}-{case.number}-v{version.number}.pdf"


def export_plan_pdf(actor, version: PlanVersion, lang: str | None = None) -> ExportedPdf:
    """Build one plan version as a PDF and record the export in the audit log."""
    case = version.plan.case
    if not may_export_plan(actor, case):
        raise AccessDenied("export")
    lang = language_of(actor, lang)
    now = timezone.now()
    document = plan_document(actor, version, lang, now)
    content = render(document, timestamp=now)
    digest = hashlib.sha256(content).hexdigest()
    event = record(
        actor, EXPORT_ACTION, version,
        {"case": case.pk, "number": version.number, "format": "pdf", "language": lang, "sha256": digest,
         "bytes": len(content)},
        role=scope.role_label(actor),
    )
    return ExportedPdf(content=content, filename=filename(case, version, lang), sha256=digest, language=lang,
                       event=event)


def plan_version_for(actor, case_id: int, number: int) -> PlanVersion:
    """The plan version a user may export, or AccessDenied: one lookup for the view and the API.

    A case the user may not export the plan of is told apart from nothing: both
    are AccessDenied, which the views answer with 404."""
    case = Case.objects.filter(pk=case_id, kind=Kind.SICK_LEAVE).first()
    if case is None or not may_export_plan(actor, case):
        raise AccessDenied("export")
    version = PlanVersion.objects.select_related("plan", "created_by").filter(plan__case=case, number=number).first()
    if version is None:
        raise AccessDenied("export")
    return version
