"""What the whistleblowing room adds to a case's documentation (the case PDF).

The case PDF (tidsnok.reports.case_pdf) shows every entry of the timeline; the
entries this room writes carry ids, not words, so the PDF asks here for the
lines that explain them, in the document's language (not the request's):

- a retaliation check: the change, its date and source, the justification
  given, and once documented, the objective grounds, who decided the change and
  the outcome (aml § 2 A-4: this record is the employer's defence);
- a message to or from the reporter: its direction (never its text);
- the assessment under § 2 A-1, the reporter's consent to redirect, and the redirection.

Only for documents about a case the reader may export (handler access);
the protected person is not named here (the case's parties are, elsewhere).
"""

from tidsnok import crypto
from tidsnok.cases.models import EntryKind
from tidsnok.org.models import Person
from tidsnok.whistleblowing.models import Assessment, ChangeType, Direction, RetaliationCheck

WORDS = {
    "nb": {
        "check_raised": "Endring for en vernet person: {change}, {date} (kilde: {source}).",
        "justification": "Oppgitt begrunnelse: {text}",
        "check_documented": "Gjengjeldelseskontroll dokumentert: {outcome}.",
        "grounds": "Saklig grunnlag: {text}",
        "decided_by": "Endringen ble besluttet av: {name}",
        "objective_grounds": "endringen har saklig grunnlag uavhengig av varselet",
        "retaliation_suspected": "mistanke om gjengjeldelse – egen sak opprettet",
        "to_reporter": "Melding til varsleren.",
        "feedback": "Tilbakemelding til varsleren.",
        "from_reporter": "Melding fra varsleren.",
        "assessment": "Vurdering: {label}.",
        "consent_yes": "Varsleren samtykker i at saken følges opp som en personalsak.",
        "consent_no": "Varsleren samtykker ikke i at saken følges opp som en personalsak.",
        "redirected": "Overført til ordinær oppfølging i sak {number}.",
        "sources": {"api": "melding fra HR-system", "case": "ny sak", "case_measure": "tiltak i en annen sak",
                    "organisation": "endring i organisasjonen", "measure_disagreed": "tiltak den vernede er uenig i"},
        "changes": {
            ChangeType.NEW_CASE_PARTY: "part i en ny sak", ChangeType.TASKS: "endrede arbeidsoppgaver",
            ChangeType.HOURS: "endret arbeidstid", ChangeType.PLACE: "omplassering", ChangeType.ROLE: "endret rolle",
            ChangeType.WARNING: "advarsel", ChangeType.MANAGER: "ny leder", ChangeType.DEMOTION: "degradering",
            ChangeType.DISMISSAL: "oppsigelse", ChangeType.OTHER: "annen negativ endring",
        },
        "assessments": {
            Assessment.WHISTLEBLOWING: "varsling etter arbeidsmiljøloven § 2 A-1",
            Assessment.PERSONAL_GRIEVANCE: "personalsak om eget arbeidsforhold",
        },
    },
    "en": {
        "check_raised": "A change for a protected person: {change}, {date} (source: {source}).",
        "justification": "Justification given: {text}",
        "check_documented": "Retaliation check documented: {outcome}.",
        "grounds": "Objective grounds: {text}",
        "decided_by": "The change was decided by: {name}",
        "objective_grounds": "the change has objective grounds independent of the report",
        "retaliation_suspected": "retaliation suspected – a case of its own was opened",
        "to_reporter": "Message to the reporter.",
        "feedback": "Feedback to the reporter.",
        "from_reporter": "Message from the reporter.",
        "assessment": "Assessment: {label}.",
        "consent_yes": "The reporter consents to follow-up as a personal matter.",
        "consent_no": "The reporter does not consent to follow-up as a personal matter.",
        "redirected": "Redirected to the ordinary follow-up in case {number}.",
        "sources": {"api": "message from an HR system", "case": "a new case", "case_measure": "a measure in another case",
                    "organisation": "a change in the organisation", "measure_disagreed": "a measure the person disagrees with"},
        "changes": {
            ChangeType.NEW_CASE_PARTY: "made a party to a new case", ChangeType.TASKS: "changed tasks",
            ChangeType.HOURS: "changed working hours", ChangeType.PLACE: "relocation", ChangeType.ROLE: "changed role",
            ChangeType.WARNING: "warning", ChangeType.MANAGER: "new manager", ChangeType.DEMOTION: "demotion",
            ChangeType.DISMISSAL: "dismissal", ChangeType.OTHER: "other adverse change",
        },
        "assessments": {
            Assessment.WHISTLEBLOWING: "whistleblowing under the Working Environment Act § 2 A-1",
            Assessment.PERSONAL_GRIEVANCE: "a personal grievance about one's own employment",
        },
    },
}


def _date(value) -> str:
    return value.strftime("%d.%m.%Y") if value else ""


def _check_lines(entry, w) -> list[str]:
    data = entry.data or {}
    check = RetaliationCheck.objects.filter(pk=data.get("check")).select_related("decided_by").first()
    if check is None:
        return []
    if data.get("event") == "raised":
        lines = [w["check_raised"].format(
            change=w["changes"].get(check.change_type, check.change_type), date=_date(check.change_on),
            source=w["sources"].get(check.source, check.source),
        )]
        if check.reported_justification_enc:
            lines.append(w["justification"].format(text=crypto.decrypt(check.reported_justification_enc)))
        return lines
    if data.get("event") == "documented":
        outcome = data.get("outcome") or check.outcome
        lines = [w["check_documented"].format(outcome=w.get(outcome, outcome))]
        if check.grounds_enc:
            lines.append(w["grounds"].format(text=crypto.decrypt(check.grounds_enc)))
        decided = Person.objects.filter(pk=data.get("decided_by")).values_list("name", flat=True).first()
        if decided or check.decided_by_id:
            lines.append(w["decided_by"].format(name=decided or check.decided_by.name))
        return lines
    return []


def entry_lines(entry, lang: str) -> list[str]:
    """The lines explaining an entry this room wrote, or [] for any other entry."""
    w = WORDS["en" if lang == "en" else "nb"]
    data = entry.data or {}
    if entry.kind == EntryKind.RETALIATION_CHECK:
        return _check_lines(entry, w)
    if entry.kind == EntryKind.MESSAGE:
        if data.get("direction") == Direction.FROM_REPORTER:
            return [w["from_reporter"]]
        if data.get("direction") == Direction.TO_REPORTER:
            return [w["feedback"] if data.get("feedback") else w["to_reporter"]]
        return []
    if entry.kind == EntryKind.DECISION:
        event = data.get("event")
        if event == "assessment":
            return [w["assessment"].format(label=w["assessments"].get(data.get("assessment"), data.get("assessment")))]
        if event == "redirect_consent":
            return [w["consent_yes"] if data.get("consent") else w["consent_no"]]
        if event == "redirected":
            return [w["redirected"].format(number=data.get("to_number", ""))]
    return []
