"""State changes in the whistleblowing room: reports, messages, handling, routines.

Every function is one transaction: it checks access, changes state, writes the
audit event and recomputes the case's deadlines. Bad input raises
django.core.exceptions.ValidationError with a message per field.

A report lives on the spine as a case of kind "whistleblowing" (restricted: its
handlers only), with the Report row beside it holding the encrypted content.
Nothing of the content is written in clear: not on the case (its description
stays empty), not on the timeline (message entries carry ids, never text), not
in the audit log (text fields are fingerprints).

Anonymous reports: nothing identifying is stored. The reporter is never the
actor of anything (even when logged in), the case and its timeline carry the
date only (midnight), and so do the audit events the report causes. Named and
confidential reporters are not recorded as actors either: who reported is on
the report, which only its handlers read, not in the audit log, which
administrators read.
"""

import re
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from tidsnok import crypto
from tidsnok.access.policy import AccessDenied, can
from tidsnok.audit.services import day_only, record
from tidsnok.cases import services as case_services
from tidsnok.cases.models import (
    MANAGER_KINDS,
    Case,
    EntryKind,
    Handler,
    HandlerRole,
    Kind,
    PartyRole,
    Source,
    Visibility,
)
from tidsnok.deadlines.models import RuleOverride
from tidsnok.deadlines.rules import OverrideError, find_rule, validate_override
from tidsnok.org import scope
from tidsnok.org.models import Organisation, Person, Role, RoleAssignment, Unit
from tidsnok.org.search import more_than
from tidsnok.versioning import check_and_bump
from tidsnok.whistleblowing import attachments as files
from tidsnok.whistleblowing import receipts, retaliation
from tidsnok.whistleblowing.models import (
    Anonymity,
    Assessment,
    Attachment,
    Category,
    DesignatedHandler,
    Direction,
    Message,
    Participation,
    Protection,
    ProtectionReason,
    Report,
    RetaliationCheck,
    Routine,
    WhistleblowingSettings,
)

MAX_TEXT = 20_000
MAX_SHORT = 2_000
ACKNOWLEDGE_RULE = "whistleblowing.acknowledge"
FEEDBACK_RULE = "whistleblowing.feedback"
CAPACITIES = ("employee", "union_rep", "safety_rep", "amu", "other")
REPRESENTATIVES = ("union_rep", "safety_rep", "amu")
# Exclusion reasons on the spine (cases.Exclusion.reason is a short code).
NAMED_IN_REPORT = "named_in_report"
IS_REPORTER = "reporter"
EXCLUDED_BY_HANDLER = "excluded_by_handler"


def _today() -> date:
    return timezone.localdate()


_role = scope.role_label


def _text(errors, field, value, limit, required=False, message=None):
    value = (value or "").strip()
    if required and not value:
        errors[field] = [message or _("This field is required.")]
    elif len(value) > limit:
        errors[field] = [_("Write at most %(count)d characters.") % {"count": limit}]
    elif "\x00" in value:
        errors[field] = [_("The text holds a character that cannot be stored.")]
    return value


# --- who handles reports -------------------------------------------------------------------------


def _active_people(organisation_id: int):
    today = _today()
    return Person.objects.filter(organisation_id=organisation_id).filter(
        Q(end_date__isnull=True) | Q(end_date__gte=today)
    )


def _holders(organisation_id: int, role: str, whole_organisation: bool = False):
    # The organisation is the outer query's. Joined into the role rows as well, it had SQLite walk
    # all 50,453 people of a large employer to find its one administrator (14 ms, on every report).
    rows = RoleAssignment.objects.active().filter(role=role)
    if whole_organisation:
        rows = rows.filter(unit__isnull=True)
    return _active_people(organisation_id).filter(pk__in=rows.values("person_id")).order_by("sort_name", "pk")


def designated_handlers(organisation_id: int) -> list[Person]:
    """Who receives reports: the designated handlers (HR or a whistleblowing
    committee), or, when none are designated, HR with whole-organisation scope."""
    chosen = _active_people(organisation_id).filter(
        pk__in=DesignatedHandler.objects.filter(organisation_id=organisation_id).values("person_id")
    ).order_by("sort_name", "pk")
    people = list(chosen)
    return people or list(_holders(organisation_id, Role.HR, whole_organisation=True))


def _fallbacks(organisation_id: int) -> list[list[Person]]:
    return [
        list(_holders(organisation_id, Role.HR, whole_organisation=True)),
        list(_holders(organisation_id, Role.HR)),
        list(_holders(organisation_id, Role.ADMIN)),
    ]


def _handler_groups(organisation_id: int) -> list[list[Person]]:
    """Who may handle reports, most preferred first: the designated handlers, then the fallbacks."""
    return [designated_handlers(organisation_id)] + _fallbacks(organisation_id)


def potential_handlers(organisation_id: int, groups: list[list[Person]] | None = None) -> list[Person]:
    """Everyone who could come to handle a report: designated handlers, HR, administrators."""
    seen, people = set(), []
    for group in groups if groups is not None else _handler_groups(organisation_id):
        for person in group:
            if person.pk not in seen:
                seen.add(person.pk)
                people.append(person)
    return people


def _fold(text: str) -> str:
    return " ".join((text or "").casefold().split())


def named_in(text: str, people) -> list[Person]:
    """The people whose full name appears in the text (any case, any spacing)."""
    folded = _fold(text)
    found = []
    for person in people:
        name = _fold(person.name)
        if len(name) >= 3 and re.search(r"(?<!\w)" + re.escape(name) + r"(?!\w)", folded):
            found.append(person)
    return found


def _handler_roles(people: list[Person]) -> list[tuple[Person, str]]:
    """Each handler with her role on the case: HR if she holds an HR role. One query for all of
    them: a report without designated handlers goes to every HR adviser (50 at N = 50,000)."""
    hr = set(RoleAssignment.objects.active().filter(person__in=people, role=Role.HR).values_list("person_id", flat=True))
    return [(person, HandlerRole.HR if person.pk in hr else HandlerRole.ADDED) for person in people]


def _choose_handlers(groups: list[list[Person]], skip: set[int]) -> list[Person]:
    for group in groups:
        people = [p for p in group if p.pk not in skip]
        if people:
            return people
    return []


def can_manage(user) -> bool:
    """HR with whole-organisation scope and administrators set up the channel and the routines."""
    return scope.hr_scope(user) == scope.ALL or scope.is_admin(user)


def is_handler(user) -> bool:
    """Designated handlers, and HR and administrators (who may come to handle reports)."""
    person = scope.person_of(user)
    if person is None:
        return False
    if scope.is_hr(user) or scope.is_admin(user):
        return True
    if DesignatedHandler.objects.filter(organisation_id=person.organisation_id, person=person).exists():
        return True
    return Handler.objects.filter(person=person, removed_at__isnull=True, case__kind=Kind.WHISTLEBLOWING).exists()


# --- submitting a report -------------------------------------------------------------------------


class ChannelBusy(Exception):
    """More reports than the channel takes in a minute: try again shortly."""


@dataclass(frozen=True)
class Submitted:
    report: Report
    # Anonymous reports only: shown once, never stored.
    receipt: receipts.NewReceipt | None


def _root_unit(organisation_id: int) -> Unit:
    unit = Unit.objects.filter(organisation_id=organisation_id, parent__isnull=True).order_by("pk").first()
    if unit is None:
        raise ValidationError({"__all__": [_("The organisation is not set up to receive reports yet.")]})
    return unit


def submit_report(user, organisation: Organisation, *, category: str, anonymity: str, description: str,
                  when: str = "", involved: str = "", attachments=()) -> Submitted:
    """Receive a report through the channel (web page or API).

    Named and confidential reports need a logged-in reporter who works in the
    organisation: that is who tidsnok protects against retaliation. Anonymous
    reports store nothing about who sent them, whoever is logged in."""
    errors: dict[str, list[str]] = {}
    if category not in Category.values:
        errors["category"] = [_("Choose what the report is about.")]
    if anonymity not in Anonymity.values:
        errors["anonymity"] = [_("Choose whether you want to be named, confidential or anonymous.")]
    description = _text(errors, "description", description, MAX_TEXT, required=True,
                        message=_("Describe what happened."))
    when = _text(errors, "when", when, MAX_SHORT)
    involved = _text(errors, "involved", involved, MAX_SHORT)
    anonymous = anonymity == Anonymity.ANONYMOUS
    reporter = None
    if anonymity in (Anonymity.NAMED, Anonymity.CONFIDENTIAL):
        reporter = scope.person_of(user) if user is not None and user.is_authenticated else None
        if reporter is None or reporter.organisation_id != organisation.pk:
            errors["anonymity"] = [_("Log in to report with your name, or choose to report anonymously.")]
    try:
        clean = files.clean_files(attachments)
    except ValidationError as error:
        errors.update(error.message_dict)
        clean = []
    if errors:
        raise ValidationError(errors)
    if not receipts.submission_allowed():
        raise ChannelBusy()
    with transaction.atomic(), (day_only() if anonymous else nullcontext()):
        return _receive(organisation, category, anonymity, reporter, description, when, involved, clean)


def _receive(organisation, category, anonymity, reporter, description, when, involved, clean) -> Submitted:
    today = _today()
    org_id = organisation.pk
    anonymous = anonymity == Anonymity.ANONYMOUS
    groups = _handler_groups(org_id)  # read once: a report asks twice
    candidates = potential_handlers(org_id, groups)
    named = {p.pk: p for p in named_in(f"{description}\n{involved}", candidates)}
    skip = set(named)
    if reporter is not None:
        skip.add(reporter.pk)
    handlers = _choose_handlers(groups, skip)
    # The channel receives the report, not the reporter: no actor on the spine,
    # so a reporter who is HR or a manager is never made a handler of her own report.
    case = case_services.create_case(
        None, org_id, kind=Kind.WHISTLEBLOWING, concerns=[],
        parties=[(reporter, PartyRole.REPORTER)] if reporter is not None else [],
        description="", source=Source.REPORT, known_at=today,
        handlers=_handler_roles(handlers),
        unit=reporter.unit if reporter is not None else _root_unit(org_id), assign_manager=False,
    )
    for person in named.values():
        case_services.exclude_from_case(case, person, NAMED_IN_REPORT)
    if reporter is not None and reporter.pk in {p.pk for p in candidates}:
        case_services.exclude_from_case(case, reporter, IS_REPORTER)
    receipt = None
    if anonymous:
        receipt = receipts.new_receipt(lambda loc: Report.objects.filter(receipt_locator=loc).exists())
    report = Report.objects.create(
        organisation=organisation, case=case, category=category, anonymity=anonymity, reporter=reporter,
        description_enc=crypto.encrypt(description), when_enc=crypto.encrypt(when) if when else "",
        involved_enc=crypto.encrypt(involved) if involved else "",
        receipt_locator=receipt.locator if receipt else "", receipt_hash=receipt.hash if receipt else "",
        received_on=today,
    )
    _store_files(report, None, clean, today)
    if reporter is not None:
        retaliation.protect(None, reporter, ProtectionReason.REPORTED, case, today)
    record(None, "whistleblowing.report_received", report, {
        "case": case.pk, "category": category, "anonymity": anonymity, "attachments": len(clean),
        "handlers": len(handlers), "excluded": len(named),
    }, role="reporting_channel")
    case_services.refresh_case(case, None)
    if anonymous:
        case_services.keep_day_only(case)
    return Submitted(report=report, receipt=receipt)


def _store_files(report, message, clean, today):
    for f in clean:
        Attachment.objects.create(
            report=report, message=message, filename_enc=crypto.encrypt(f.name), content_type=f.content_type,
            size=len(f.data), data_enc=crypto.encrypt_bytes(f.data), added_on=today,
        )


# --- the reporter coming back --------------------------------------------------------------------


class ReceiptRefused(Exception):
    """The receipt was not recognised. Says nothing about whether it exists."""


class ReceiptLimited(Exception):
    """Too many failed attempts for now."""


def open_by_receipt(text: str | None) -> Report:
    """The report a receipt opens. Costs one Argon2 verification whatever the
    input, and refuses unknown locators and wrong secrets alike."""
    code = receipts.normalise(text)
    if code is None:
        receipts.check_work()
        receipts.note_failure("")
        raise ReceiptRefused()
    locator, secret = receipts.split(code)
    if receipts.limited(locator):
        raise ReceiptLimited()
    report = Report.objects.filter(receipt_locator=locator).exclude(receipt_hash="").select_related("case").first()
    if not receipts.verify(secret, report.receipt_hash if report is not None else None):
        receipts.note_failure(locator)
        raise ReceiptRefused()
    return report


def reports_of(user):
    """The named and confidential reports the logged-in user sent."""
    person = scope.person_of(user)
    if person is None:
        return Report.objects.none()
    return Report.objects.filter(reporter=person).select_related("case")


def mark_read_by_reporter(report: Report) -> None:
    Message.objects.filter(report=report, direction=Direction.TO_REPORTER, read_by_reporter_on__isnull=True).update(
        read_by_reporter_on=_today()
    )


def _check_reporter(user, report: Report) -> None:
    """Anonymous reports are answered with the receipt (user None); the others by their reporter, logged in."""
    if report.anonymity == Anonymity.ANONYMOUS:
        return
    person = scope.person_of(user) if user is not None else None
    if person is None or person.pk != report.reporter_id:
        raise AccessDenied("reporter")


def add_reporter_message(user, report: Report, body: str, attachments=()) -> Message:
    """The reporter answers a question or adds information. `user` is None for
    the receipt path; a named reporter writes logged in."""
    _check_reporter(user, report)
    errors: dict[str, list[str]] = {}
    body = _text(errors, "body", body, MAX_TEXT, required=True, message=_("Write your message."))
    try:
        clean = files.clean_files(attachments)
    except ValidationError as error:
        errors.update(error.message_dict)
        clean = []
    if not Case.objects.filter(pk=report.case_id, status="open").exists():
        errors["__all__"] = [_("The report is closed. Send a new report if you have more to tell.")]
    if errors:
        raise ValidationError(errors)
    anonymous = report.anonymity == Anonymity.ANONYMOUS
    with transaction.atomic(), (day_only() if anonymous else nullcontext()):
        today = _today()
        author = None if anonymous else report.reporter
        message = Message.objects.create(
            report=report, direction=Direction.FROM_REPORTER, body_enc=crypto.encrypt(body), sent_on=today,
            author=author,
        )
        _store_files(report, message, clean, today)
        case = report.case
        case_services.record_entry(
            None, case, kind=EntryKind.MESSAGE, occurred_on=today, author=author,
            data={"message": message.pk, "direction": Direction.FROM_REPORTER, "attachments": len(clean)},
            day_only=anonymous,
        )
        record(None, "whistleblowing.message_received", message, {
            "case": case.pk, "body": body, "attachments": len(clean),
        }, role="reporter")
        case_services.refresh_case(case, None)
    return message


@transaction.atomic
def set_redirect_consent(user, report: Report, consent: bool) -> Report:
    """The reporter says whether her personal grievance may go to the right
    track (a case with her manager or HR). Only asked once the handlers have
    assessed the report as a personal grievance."""
    _check_reporter(user, report)
    return _consent(report, consent, "reporter", None)


def _consent(report, consent, given_by, actor):
    current = Report.objects.get(pk=report.pk)
    if current.assessment != Assessment.PERSONAL_GRIEVANCE:
        raise ValidationError({"consent": [_("The handlers have not asked for this.")]})
    anonymous = report.anonymity == Anonymity.ANONYMOUS
    with day_only() if anonymous and actor is None else nullcontext():
        check_and_bump(Report, report.pk, current.version, redirect_consent=bool(consent))
        case_services.record_entry(
            actor, report.case, kind=EntryKind.DECISION, occurred_on=_today(),
            data={"event": "redirect_consent", "consent": bool(consent), "given_by": given_by},
            author=scope.person_of(actor) if actor is not None else None,
            day_only=anonymous and actor is None,
        )
        record(actor, "whistleblowing.redirect_consent", report, {
            "case": report.case_id, "consent": bool(consent), "given_by": given_by,
        }, role=_role(actor) if actor is not None else "reporter")
        case_services.refresh_case(report.case, actor)
    report.refresh_from_db()
    return report


# --- handling ------------------------------------------------------------------------------------


def _require_handler(actor, report: Report, action: str = "edit"):
    if not can(actor, action, report.case):
        raise AccessDenied(action)


def _require_open(report: Report):
    if not Case.objects.filter(pk=report.case_id, status="open").exists():
        raise ValidationError({"__all__": [_("The case is closed. Reopen it to add to it.")]})


def _send(actor, report: Report, body: str, *, feedback: bool = False, standard: str = "") -> Message:
    person = scope.person_of(actor)
    today = _today()
    message = Message.objects.create(
        report=report, direction=Direction.TO_REPORTER, body_enc=crypto.encrypt(body), sent_on=today, author=person,
        is_feedback=feedback,
    )
    case_services.record_entry(
        actor, report.case, kind=EntryKind.MESSAGE, occurred_on=today,
        data={"message": message.pk, "direction": Direction.TO_REPORTER, "feedback": feedback,
              **({"standard": standard} if standard else {})},
    )
    if feedback and report.feedback_given_on is None:
        Report.objects.filter(pk=report.pk).update(feedback_given_on=today)
    record(actor, "whistleblowing.message_sent", message, {
        "case": report.case_id, "body": body, "feedback": feedback, "standard": standard,
    }, role=_role(actor))
    return message


@transaction.atomic
def send_message(actor, report: Report, body: str, *, feedback: bool = False) -> Message:
    """A handler writes to the reporter: a question, an update, or feedback on the follow-up.
    The first message to the reporter acknowledges receipt (whistleblowing.acknowledge)."""
    _require_handler(actor, report)
    _require_open(report)
    errors: dict[str, list[str]] = {}
    body = _text(errors, "body", body, MAX_TEXT, required=True, message=_("Write the message."))
    if errors:
        raise ValidationError(errors)
    message = _send(actor, report, body, feedback=feedback)
    case_services.refresh_case(report.case, actor)
    return message


def acknowledgement_text() -> str:
    return _(
        "We have received your report and will follow it up. We will look into it within reasonable time "
        "and tell you what we are doing. You may be asked questions here: come back with your receipt (or "
        "log in, if you reported with your name) to read them and to add anything you want."
    )


@transaction.atomic
def acknowledge(actor, report: Report) -> Message:
    """Acknowledge receipt with the standard message."""
    _require_handler(actor, report)
    _require_open(report)
    message = _send(actor, report, acknowledgement_text(), standard="acknowledgement")
    case_services.refresh_case(report.case, actor)
    return message


def acknowledged(report: Report) -> bool:
    return Message.objects.filter(report=report, direction=Direction.TO_REPORTER).exists()


def add_note(actor, report: Report, text: str):
    """An internal note: the handlers' own, never shown to the reporter."""
    _require_handler(actor, report)
    return case_services.add_entry(actor, report.case, kind=EntryKind.NOTE, occurred_on=_today(), text=text,
                                   visibility=Visibility.INTERNAL)


def add_investigation_step(actor, report: Report, occurred_on: date | None, text: str):
    """A step of the investigation (an interview, documents gathered, ...), dated when it happened."""
    _require_handler(actor, report)
    return case_services.add_entry(actor, report.case, kind=EntryKind.FOLLOW_UP, occurred_on=occurred_on,
                                   text=text, visibility=Visibility.INTERNAL)


def add_conclusion(actor, report: Report, text: str):
    """What the investigation found. Measures are decided on the case's timeline page."""
    _require_handler(actor, report)
    return case_services.add_entry(actor, report.case, kind=EntryKind.CONCLUSION, occurred_on=_today(),
                                   text=text, visibility=Visibility.INTERNAL)


@transaction.atomic
def record_assessment(actor, report: Report, version: int, *, assessment: str, reasoning: str) -> Report:
    """Is it whistleblowing under aml § 2 A-1, or a personal grievance about one's own employment?"""
    _require_handler(actor, report)
    _require_open(report)
    errors: dict[str, list[str]] = {}
    if assessment not in (Assessment.WHISTLEBLOWING, Assessment.PERSONAL_GRIEVANCE):
        errors["assessment"] = [_("Choose the assessment.")]
    reasoning = _text(errors, "reasoning", reasoning, MAX_TEXT, required=True,
                      message=_("Give the reasons for the assessment."))
    if errors:
        raise ValidationError(errors)
    changes = {"assessment": assessment}
    if assessment != Assessment.PERSONAL_GRIEVANCE:
        changes["redirect_consent"] = None
    check_and_bump(Report, report.pk, version, **changes)
    case_services.record_entry(
        actor, report.case, kind=EntryKind.DECISION, occurred_on=_today(), text=reasoning,
        data={"event": "assessment", "assessment": assessment},
    )
    record(actor, "whistleblowing.assessed", report, {
        "case": report.case_id, "assessment": assessment, "reason": reasoning,
    }, role=_role(actor))
    case_services.refresh_case(report.case, actor)
    report.refresh_from_db()
    return report


@transaction.atomic
def record_consent(actor, report: Report, *, consent: bool) -> Report:
    """A handler records the reporter's answer given another way (in a conversation)."""
    _require_handler(actor, report)
    _require_open(report)
    return _consent(report, consent, "handler", actor)


@transaction.atomic
def redirect_report(actor, report: Report, *, kind: str, note: str) -> Case:
    """With the reporter's consent, a personal grievance goes to the right track:
    a case of its own with her manager (and HR), where it is followed up like any other."""
    _require_handler(actor, report)
    _require_open(report)
    report.refresh_from_db()
    errors: dict[str, list[str]] = {}
    if report.assessment != Assessment.PERSONAL_GRIEVANCE:
        errors["__all__"] = [_("Only a report assessed as a personal grievance can be redirected.")]
    elif report.redirect_consent is not True:
        errors["__all__"] = [_("The reporter has not consented to the redirection.")]
    elif report.reporter_id is None:
        errors["__all__"] = [_("An anonymous report cannot be redirected: tell the reporter how to raise it instead.")]
    if kind not in MANAGER_KINDS:
        errors["kind"] = [_("Choose the kind of case.")]
    note = _text(errors, "note", note, MAX_TEXT, required=True,
                 message=_("Write what the new case is about (the reporter consented to this)."))
    if errors:
        raise ValidationError(errors)
    new = case_services.create_case(
        actor, report.organisation_id, kind=kind, concerns=[report.reporter], description=note,
        source=Source.EMPLOYEE_TOLD, known_at=report.received_on, raised_by=report.reporter,
        known_at_reason=_("Redirected from a whistleblowing report with the reporter's consent."),
    )
    case_services.record_entry(
        actor, report.case, kind=EntryKind.DECISION, occurred_on=_today(),
        data={"event": "redirected", "to_case": new.pk, "to_number": new.number, "kind": kind},
    )
    record(actor, "whistleblowing.redirected", report, {"case": report.case_id, "to_case": new.pk, "kind": kind},
           role=_role(actor))
    case_services.refresh_case(report.case, actor)
    return new


@transaction.atomic
def close_with_feedback(actor, report: Report, version: int, *, evaluation: str, feedback: str) -> Case:
    """Close the case with its final evaluation, and tell the reporter the outcome."""
    _require_handler(actor, report, "close")
    _require_open(report)
    errors: dict[str, list[str]] = {}
    feedback = _text(errors, "feedback", feedback, MAX_TEXT, required=True,
                     message=_("Write the feedback to the reporter."))
    if not (evaluation or "").strip():
        errors["evaluation"] = [_("Write a final evaluation: what was done, and what effect it had.")]
    if errors:
        raise ValidationError(errors)
    _send(actor, report, feedback, feedback=True, standard="closing")
    return case_services.close_case(actor, report.case, evaluation, version)


@transaction.atomic
def exclude_handler(actor, report: Report, person: Person, reason: str) -> None:
    """Shut a colleague (or oneself) out of the report for impartiality, with a reason."""
    _require_handler(actor, report, "manage_handlers")
    errors: dict[str, list[str]] = {}
    reason = _text(errors, "reason", reason, MAX_SHORT, required=True,
                   message=_("Say why the person cannot handle the report."))
    if person is None or person.organisation_id != report.organisation_id:
        errors["person"] = [_("Choose who is excluded.")]
    if errors:
        raise ValidationError(errors)
    case = report.case
    remaining = case.handlers.filter(removed_at__isnull=True).exclude(person=person).count()
    if remaining == 0:
        raise ValidationError({"person": [_("Add another handler first: the report would have none.")]})
    case_services.exclude_from_case(case, person, EXCLUDED_BY_HANDLER, actor)
    case_services.record_entry(actor, case, kind=EntryKind.NOTE, occurred_on=_today(), text=reason,
                               data={"event": "exclusion_reason", "person": person.pk})
    record(actor, "whistleblowing.handler_excluded", report, {
        "case": case.pk, "person": person.pk, "reason": reason,
    }, role=_role(actor))
    case_services.refresh_case(case, actor)


# --- reading the content (handlers) --------------------------------------------------------------


@dataclass
class Content:
    description: str
    when: str
    involved: str


def content_of(report: Report) -> Content:
    """The decrypted report. Callers have checked that the reader handles it."""
    return Content(
        description=crypto.decrypt(report.description_enc),
        when=crypto.decrypt(report.when_enc) if report.when_enc else "",
        involved=crypto.decrypt(report.involved_enc) if report.involved_enc else "",
    )


def body_of(message: Message) -> str:
    return crypto.decrypt(message.body_enc)


def filename_of(attachment: Attachment) -> str:
    return crypto.decrypt(attachment.filename_enc)


def data_of(attachment: Attachment) -> bytes:
    return crypto.decrypt_bytes(bytes(attachment.data_enc))


def read_attachment(actor, report: Report, attachment_id: int) -> tuple[Attachment, bytes]:
    """A handler opens an attachment: an ACCESS event, like reading the report."""
    _require_handler(actor, report, "view")
    attachment = Attachment.objects.filter(report=report, pk=attachment_id).first()
    if attachment is None:
        raise AccessDenied("attachment")
    record(actor, "ACCESS", attachment, {"case": report.case_id, "reason": "attachment"}, role=_role(actor))
    return attachment, data_of(attachment)


# --- settings: designated handlers, protection period, deadlines ---------------------------------


def _require_manager(actor, organisation: Organisation):
    if not can_manage(actor) or scope.organisation_id_of(actor) != organisation.pk:
        raise AccessDenied("whistleblowing.settings")


@transaction.atomic
def add_designated_handler(actor, organisation: Organisation, person: Person) -> DesignatedHandler:
    _require_manager(actor, organisation)
    if person is None or person.organisation_id != organisation.pk:
        raise ValidationError({"person": [_("Choose who receives reports.")]})
    row, created = DesignatedHandler.objects.get_or_create(organisation=organisation, person=person)
    if created:
        record(actor, "whistleblowing.handler_designated", organisation, {"person": person.pk}, role=_role(actor))
    return row


@transaction.atomic
def remove_designated_handler(actor, organisation: Organisation, person: Person) -> None:
    _require_manager(actor, organisation)
    deleted, _rows = DesignatedHandler.objects.filter(organisation=organisation, person=person).delete()
    if deleted:
        record(actor, "whistleblowing.handler_undesignated", organisation, {"person": person.pk}, role=_role(actor))


def settings_of(organisation_id: int) -> dict:
    """The protection period and the two deadlines as they apply to reports received today."""
    from tidsnok.deadlines.queries import overrides_map
    from tidsnok.deadlines.rules import apply_override

    today = _today()
    overrides = overrides_map(organisation_id)
    ack = apply_override(find_rule(ACKNOWLEDGE_RULE, today), today, overrides)
    feedback = apply_override(find_rule(FEEDBACK_RULE, today), today, overrides)
    return {
        "protection_months": retaliation.protection_months(organisation_id),
        "acknowledge_days": ack.offset, "acknowledge_bounds": ack.bounds,
        "feedback_months": feedback.offset, "feedback_bounds": feedback.bounds,
    }


@transaction.atomic
def update_settings(actor, organisation: Organisation, *, protection_months: int, acknowledge_days: int,
                    feedback_months: int) -> dict:
    """The organisation's own figures (policy defaults: 12 months, 7 days, 3 months).
    New deadlines apply to reports received from today; earlier reports keep theirs."""
    _require_manager(actor, organisation)
    errors: dict[str, list[str]] = {}
    if protection_months is None or not 1 <= protection_months <= 60:
        errors["protection_months"] = [_("Choose between 1 and 60 months.")]
    today = _today()
    wanted = {ACKNOWLEDGE_RULE: ("acknowledge_days", acknowledge_days), FEEDBACK_RULE: ("feedback_months", feedback_months)}
    for rule_id, (field, offset) in wanted.items():
        rule = find_rule(rule_id, today)
        try:
            if offset is None:
                raise OverrideError(_("Give a number."))
            validate_override(rule, offset)
        except OverrideError:
            low, high = rule.bounds
            errors[field] = [_("Choose between %(low)d and %(high)d.") % {"low": low, "high": high}]
    if errors:
        raise ValidationError(errors)
    before = settings_of(organisation.pk)
    WhistleblowingSettings.objects.update_or_create(organisation=organisation,
                                                    defaults={"protection_months": protection_months})
    for rule_id, (field, offset) in wanted.items():
        if before[field] != offset:
            RuleOverride.objects.update_or_create(
                organisation=organisation, rule_id=rule_id, effective_from=today,
                defaults={"offset": offset, "created_by": actor},
            )
    after = settings_of(organisation.pk)
    record(actor, "whistleblowing.settings_changed", organisation, {
        "before": {k: before[k] for k in ("protection_months", "acknowledge_days", "feedback_months")},
        "after": {k: after[k] for k in ("protection_months", "acknowledge_days", "feedback_months")},
    }, role=_role(actor))
    return after


# --- routines (§ 2 A-6) ---------------------------------------------------------------------------


def routine_template() -> dict[str, str]:
    """A starting point with the three parts § 2 A-6 requires; HR adapts it."""
    return {
        "encouragement": _(
            "We want to know about censurable conditions in our organisation: breaches of law, of our ethical "
            "guidelines or of norms most people agree on, including an unsound work environment, harassment and "
            "discrimination. Reporting is right and lawful, and you are protected: retaliation against anyone who "
            "reports, or is about to report, is forbidden (aml § 2 A-4). You need not be certain, only acting "
            "in good faith, and you need not call it a report."
        ),
        "how_to_report": _(
            "Internally: tell your manager or another manager, HR, the safety representative or your union "
            "representative, orally or in writing, or use the reporting channel in tidsnok (Whistleblowing in "
            "the menu, also open without logging in). You may report with your name, confidentially (only the "
            "handlers know who you are) or anonymously (you get a receipt to follow the report up). You may "
            "always report through a union representative or a lawyer. Externally: you may always report to the "
            "authorities, such as the Norwegian Labour Inspection Authority (Arbeidstilsynet), the Data "
            "Protection Authority (Datatilsynet) or the police (aml § 2 A-2)."
        ),
        "handling": _(
            "Reports are received by the designated handlers (HR or the whistleblowing committee). Anyone named "
            "in a report is kept out of handling it. We confirm receipt within 7 days, assess whether the matter "
            "is a report of censurable conditions, investigate it within reasonable time, and give you feedback, "
            "at the latest after 3 months. Personal grievances about your own employment are, with your consent, "
            "moved to the ordinary follow-up. Your identity is known only to those who need it, and we follow up "
            "that you have a fully sound work environment afterwards. Everything is documented in tidsnok."
        ),
    }


def routines_warning(organisation_id: int | None) -> bool:
    """An organisation with 5 or more employees must have written routines (aml § 2 A-6)."""
    if organisation_id is None:
        return False
    if Routine.objects.filter(organisation_id=organisation_id, published_on__isnull=False).exists():
        return False
    # Five are enough to know: counting read every employee of a large one, on each page of reports.
    return more_than(_active_people(organisation_id), 4)


def current_routine(organisation_id: int) -> Routine | None:
    return (
        Routine.objects.filter(organisation_id=organisation_id, published_on__isnull=False)
        .order_by("-number").first()
    )


def _require_draft(routine: Routine):
    if routine.published_on is not None:
        raise ValidationError({"__all__": [_("A published version cannot be changed: make a new version.")]})


@transaction.atomic
def start_routine(actor, organisation: Organisation) -> Routine:
    """A new version to edit: a copy of the latest version, or the template."""
    _require_manager(actor, organisation)
    draft = Routine.objects.filter(organisation=organisation, published_on__isnull=True).order_by("-number").first()
    if draft is not None:
        return draft
    latest = Routine.objects.filter(organisation=organisation).order_by("-number").first()
    parts = (
        {"encouragement": latest.encouragement, "how_to_report": latest.how_to_report, "handling": latest.handling}
        if latest else routine_template()
    )
    routine = Routine.objects.create(
        organisation=organisation, number=(latest.number + 1) if latest else 1, created_by=scope.person_of(actor),
        **parts,
    )
    record(actor, "whistleblowing.routine_started", routine, {"number": routine.number}, role=_role(actor))
    return routine


@transaction.atomic
def update_routine(actor, routine: Routine, version: int, *, encouragement: str, how_to_report: str,
                   handling: str) -> Routine:
    _require_manager(actor, routine.organisation)
    _require_draft(routine)
    errors: dict[str, list[str]] = {}
    encouragement = _text(errors, "encouragement", encouragement, MAX_TEXT, required=True,
                          message=_("Write the encouragement to report."))
    how_to_report = _text(errors, "how_to_report", how_to_report, MAX_TEXT, required=True,
                          message=_("Write how to report, internally and externally."))
    handling = _text(errors, "handling", handling, MAX_TEXT, required=True,
                     message=_("Write how reports are received, handled and followed up."))
    if errors:
        raise ValidationError(errors)
    check_and_bump(Routine, routine.pk, version, encouragement=encouragement, how_to_report=how_to_report,
                   handling=handling)
    record(actor, "whistleblowing.routine_changed", routine, {"number": routine.number}, role=_role(actor))
    routine.refresh_from_db()
    return routine


@transaction.atomic
def add_participation(actor, routine: Routine, *, who: str, capacity: str, on: date | None,
                      comment: str = "") -> Participation:
    """Who took part in making this version (employees and their representatives), when, and what they said."""
    _require_manager(actor, routine.organisation)
    _require_draft(routine)
    errors: dict[str, list[str]] = {}
    who = _text(errors, "who", who, 200, required=True, message=_("Say who took part."))
    if capacity not in CAPACITIES:
        errors["capacity"] = [_("Choose in what capacity they took part.")]
    if on is None:
        errors["on"] = [_("Say when they took part.")]
    elif on > _today():
        errors["on"] = [_("The date cannot be in the future.")]
    comment = _text(errors, "comment", comment, MAX_TEXT)
    if errors:
        raise ValidationError(errors)
    row = Participation.objects.create(routine=routine, who=who, capacity=capacity, on=on, comment=comment)
    record(actor, "whistleblowing.routine_participation", routine, {
        "number": routine.number, "capacity": capacity, "on": on, "name": who, "comment": comment,
    }, role=_role(actor))
    return row


@transaction.atomic
def publish_routine(actor, routine: Routine, version: int) -> Routine:
    """Publish a version for all employees. Made with employees and their
    representatives (§ 2 A-6): their participation is recorded first."""
    _require_manager(actor, routine.organisation)
    _require_draft(routine)
    errors = []
    capacities = set(routine.participation.values_list("capacity", flat=True))
    if not capacities:
        errors.append(_("Record who took part in making the routines (employees and their representatives) first."))
    elif not capacities & set(REPRESENTATIVES):
        errors.append(_("Record the participation of the employees' representatives (union or safety "
                        "representative, or the working environment committee) first."))
    if errors:
        raise ValidationError({"__all__": errors})
    check_and_bump(Routine, routine.pk, version, published_on=_today())
    record(actor, "whistleblowing.routine_published", routine, {"number": routine.number}, role=_role(actor))
    routine.refresh_from_db()
    return routine


# --- retention (called by the retention room, which decides which cases and audits each batch) ---


def cases_under_protection(organisation, today: date) -> set[int]:
    """The organisation's cases whose retaliation watch still runs on `today` (aml § 2 A-4): they
    are kept whatever the retention policy says, since the watch needs its case. The running
    watches are few; the cases a rule reaches may be tens of thousands, too many for one IN list."""
    return set(Protection.objects.filter(organisation=organisation, ends_on__gte=today)
               .values_list("case_id", flat=True))


@transaction.atomic
def delete_case_rows(organisation, case_ids) -> int:
    """Delete what this room holds of these cases before the spine deletes them: the reports
    (their messages and attachments cascade; attachments are stored in the database, so no file
    is left behind) and the retaliation watch on them (its checks first: PROTECT). Returns how
    many reports went."""
    ids = list(Case.objects.filter(organisation=organisation, pk__in=list(case_ids)).values_list("pk", flat=True))
    RetaliationCheck.objects.filter(protection__case_id__in=ids).delete()
    Protection.objects.filter(case_id__in=ids).delete()
    reports = Report.objects.filter(case_id__in=ids)
    count = reports.count()
    reports.delete()
    return count
