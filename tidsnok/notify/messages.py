"""E-mail and notification texts, rendered when shown or sent, in the reader's language.

What an e-mail may say: that there is a deadline, its due date, the case number
and a link. Never a name, a description, the kind of case or the deadline's
title (which can tell what kind of case it is): everything else is behind the
login the link leads to.

The risk room's reminders (a measure of an action plan, the review of a unit's risk
assessment, an invitation to its anonymous survey) say what is due when and link to
the assessment or the survey: never its title, its risks or the measure's text.
"""

import email.policy
from dataclasses import dataclass
from datetime import date
from email.headerregistry import HeaderRegistry

from django.conf import settings
from django.core.mail import EmailMessage
from django.urls import NoReverseMatch, reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext


def case_path(case_id) -> str:
    """The case page (the cases room names it; /saker/<id>/ until it does)."""
    for name in ("cases:detail", "case_detail"):
        try:
            return reverse(name, args=[case_id])
        except NoReverseMatch:
            continue
    return f"/saker/{case_id}/"


# Queued by the risk room, which sits above notify: known here by their values only.
RISK_KINDS = ("risk_action", "risk_action_due", "risk_review", "risk_survey")


def risk_path(kind: str, data: dict) -> str:
    """The page a risk notification leads to, by its URL name (notify may not import the risk
    room): the survey to answer, else the assessment."""
    if kind == "risk_survey":
        return reverse("risk_survey:answer", kwargs={"pk": int(data["survey_id"])})
    return reverse("risk:assessment", kwargs={"pk": int(data["assessment_id"])})


def absolute(path: str) -> str:
    return settings.SITE_URL + path


def _date(value) -> str:
    if isinstance(value, str):
        value = date.fromisoformat(value)
    return value.strftime("%d.%m.%Y")


@dataclass
class Rendered:
    subject: str
    body: str


def render_mail(kind: str, data: dict, language: str) -> Rendered:
    with translation.override(language):
        footer = "\n\n-- \n" + _(
            "This e-mail says nothing about the case itself: read it in tidsnok.\n"
            "Change how you get reminders: %(url)s"
        ) % {"url": absolute(reverse("notify:preferences"))}
        if kind == "digest":
            return _digest(data, footer)
        if kind in ("access_request", "access_due"):
            return _access_mail(kind, data, footer)
        if kind in RISK_KINDS:
            return _risk_mail(kind, data)
        number = data.get("case_number", "")
        link = absolute(case_path(data.get("case_id", "")))
        due = _date(data["due"]) if data.get("due") else ""
        if kind == "before":
            days = int(data.get("days", 0))
            subject = ngettext(
                "tidsnok: a deadline in case %(number)s is due in %(count)d working day",
                "tidsnok: a deadline in case %(number)s is due in %(count)d working days", days,
            ) % {"count": days, "number": number}
            lead = _("A deadline in case %(number)s is due on %(due)s.") % {"number": number, "due": due}
        elif kind == "due":
            subject = _("tidsnok: a deadline in case %(number)s is due today") % {"number": number}
            lead = _("A deadline in case %(number)s is due today, %(due)s.") % {"number": number, "due": due}
        elif kind == "overdue":
            subject = _("tidsnok: a deadline in case %(number)s is overdue") % {"number": number}
            lead = _("A deadline in case %(number)s was due on %(due)s and is still open.") % {"number": number, "due": due}
        elif kind == "escalation":
            subject = _("tidsnok: an overdue deadline in case %(number)s is escalated to you") % {"number": number}
            lead = _(
                "A deadline in case %(number)s was due on %(due)s and is still open. It has been escalated "
                "to you as the next level: see that it is dealt with."
            ) % {"number": number, "due": due}
        elif kind == "hr_involved":
            subject = _("tidsnok: HR is involved in case %(number)s") % {"number": number}
            lead = _("You have been involved as HR in case %(number)s.") % {"number": number}
        else:  # handler_added
            subject = _("tidsnok: you are a handler of case %(number)s") % {"number": number}
            lead = _("You have been made a handler of case %(number)s.") % {"number": number}
        body = lead + "\n\n" + _("Open the case in tidsnok: %(url)s") % {"url": link} + footer
        return Rendered(subject, body)


def _access_mail(kind: str, data: dict, footer: str) -> Rendered:
    """A request for an access copy and the reminders about it. Not who asked: the open requests
    are listed behind the login."""
    due = {"due": _date(data["due"])}
    if kind == "access_request":
        subject = _("tidsnok: an employee asks for an access copy, due %(due)s") % due
        lead = _("An employee has asked for a copy of what tidsnok holds about them (GDPR art. 15). "
                 "The copy is due by %(due)s.") % due
    elif data.get("overdue"):
        subject = _("tidsnok: an access copy was due %(due)s") % due
        lead = _("An employee's access copy was due on %(due)s and has not been given yet.") % due
    else:
        subject = _("tidsnok: an access copy is due %(due)s") % due
        lead = _("An employee's access copy is due on %(due)s and has not been given yet.") % due
    link = _("See the open requests in tidsnok: %(url)s") % {"url": absolute(data.get("path") or "/")}
    return Rendered(subject, lead + "\n\n" + link + footer)


def _risk_mail(kind: str, data: dict) -> Rendered:
    """A measure of an action plan and the review of a unit's risk assessment: the due date and the
    link only. The assessment's title, its risks and the measure's text are free text written about
    a unit's work environment: they stay behind the login (mail_data carries ids and dates only)."""
    if kind == "risk_survey":
        # An invitation to answer: when it closes, nothing else (the answers are anonymous).
        closes = {"date": _date(data["closes"])}
        subject = _("tidsnok: an anonymous survey about your work environment, open until %(date)s") % closes
        lead = _("Your unit is mapping its work environment. Answer the anonymous survey by %(date)s. Your "
                 "answers are only added to counts, shown after the survey has closed.") % closes
        link = _("Answer the survey in tidsnok: %(url)s") % {"url": absolute(risk_path(kind, data))}
        return Rendered(subject, lead + "\n\n" + link + _risk_footer())
    due = {"due": _date(data["due"])}
    overdue = data.get("stage") == "overdue"
    if kind == "risk_action":
        subject = _("tidsnok: you own a measure in an action plan, due %(due)s") % due
        lead = _("You have been made the owner of a measure in the action plan of a unit's risk assessment. "
                 "The measure is due on %(due)s.") % due
    elif kind == "risk_action_due":
        if overdue:
            subject = _("tidsnok: a measure you own was due %(due)s") % due
            lead = _("A measure you own in an action plan was due on %(due)s and is not done yet.") % due
        else:
            subject = _("tidsnok: a measure you own is due %(due)s") % due
            lead = _("A measure you own in an action plan is due on %(due)s and is not done yet.") % due
    elif overdue:  # risk_review
        subject = _("tidsnok: a risk assessment was due for review %(due)s") % due
        lead = _("The mapping and risk assessment of a unit you manage was due for review on %(due)s. "
                 "Start the next round: it must be repeated regularly.") % due
    else:
        subject = _("tidsnok: a risk assessment is due for review %(due)s") % due
        lead = _("The mapping and risk assessment of a unit you manage is due for review on %(due)s. "
                 "Plan the next round in time: it must be repeated regularly.") % due
    link = _("Open the risk assessment in tidsnok: %(url)s") % {"url": absolute(risk_path(kind, data))}
    return Rendered(subject, lead + "\n\n" + link + _risk_footer())


def _risk_footer() -> str:
    return "\n\n-- \n" + _(
        "This e-mail says nothing about the assessment itself: read it in tidsnok.\n"
        "Change how you get reminders: %(url)s"
    ) % {"url": absolute(reverse("notify:preferences"))}


def _deadlines(n: int) -> str:
    return ngettext("%(count)d deadline", "%(count)d deadlines", n) % {"count": n}


def _cases(n: int) -> str:
    return ngettext("%(count)d case", "%(count)d cases", n) % {"count": n}


def _digest(data: dict, footer: str) -> Rendered:
    lines = []
    overdue, soon, escalated = data.get("overdue", 0), data.get("soon", 0), data.get("escalated", 0)
    if overdue:
        lines.append(_("You have %(deadlines)s overdue in %(cases)s.") % {
            "deadlines": _deadlines(overdue), "cases": _cases(data.get("overdue_cases", 0)),
        })
    if soon:
        lines.append(_("You have %(deadlines)s due this week in %(cases)s.") % {
            "deadlines": _deadlines(soon), "cases": _cases(data.get("soon_cases", 0)),
        })
    if escalated:
        lines.append(ngettext(
            "%(count)d overdue deadline in %(cases)s has been escalated to you.",
            "%(count)d overdue deadlines in %(cases)s have been escalated to you.", escalated,
        ) % {"count": escalated, "cases": _cases(data.get("escalated_cases", 0))})
    total = overdue + soon + escalated
    subject = ngettext("tidsnok: %(count)d deadline needs you", "tidsnok: %(count)d deadlines need you", total) % {"count": total}
    link = absolute(reverse("notify:deadlines"))
    body = "\n".join(lines) + "\n\n" + _("See them in tidsnok: %(url)s") % {"url": link} + footer
    return Rendered(subject, body)


class _CachedHeaderRegistry(HeaderRegistry):
    """The standard library builds a new header class every time a header is set or
    read (about 25 times per e-mail); the classes are stateless, so one per header
    name does. A third less CPU per e-mail, which is most of a large sweep round."""

    def __init__(self):
        super().__init__()
        self._classes = {}

    def __getitem__(self, name):
        key = name.lower()
        cls = self._classes.get(key)
        if cls is None:
            cls = self._classes[key] = super().__getitem__(name)
        return cls


POLICY = email.policy.default.clone(header_factory=_CachedHeaderRegistry())


class ReminderEmail(EmailMessage):
    def message(self, *, policy=POLICY):
        return super().message(policy=policy)


def build_message(mail) -> EmailMessage:
    rendered = render_mail(mail.kind, mail.data or {}, mail.language or settings.LANGUAGE_CODE)
    return ReminderEmail(
        subject=rendered.subject,
        body=rendered.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[mail.to],
        headers={
            # RFC 3834: no auto-replies to this one.
            "Auto-Submitted": "auto-generated",
            "Content-Language": mail.language or settings.LANGUAGE_CODE,
            # The outbox row, for tracing a delivery; says nothing about the case.
            "X-Tidsnok-Mail": str(mail.pk),
        },
    )


def notification_text(kind: str, data: dict, *, number: str = "", title: str = "", visible: bool = True) -> str:
    """The line the notifications page shows (in the active language)."""
    if kind == "mail_failed":
        return _("Some e-mails could not be delivered after several attempts. See the delivery page.")
    if not visible:
        return _("A notification about a case you no longer have access to.")
    values = {"number": number, "title": title}
    if kind == "before":
        days = int(data.get("days", 0))
        return ngettext(
            "Due in %(count)d working day: %(title)s (case %(number)s)",
            "Due in %(count)d working days: %(title)s (case %(number)s)", days,
        ) % {"count": days, **values}
    if kind == "due":
        return _("Due today: %(title)s (case %(number)s)") % values
    if kind == "overdue":
        return _("Overdue: %(title)s (case %(number)s)") % values
    if kind == "escalation":
        return _("Escalated to you, overdue: %(title)s (case %(number)s)") % values
    if kind == "hr_involved":
        return _("You are involved as HR in case %(number)s") % values
    if kind == "handler_added":
        return _("You are a handler of case %(number)s") % values
    if kind in ("access_request", "access_due"):
        # The request's due date only: who asked is on the access copy page, behind HR's login.
        due = {"due": _date(data["due"])}
        if kind == "access_request":
            return _("An employee asked for an access copy, due %(due)s") % due
        if data.get("overdue"):
            return _("An access copy was due %(due)s and is not given yet") % due
        return _("An access copy is due %(due)s and is not given yet") % due
    if kind in RISK_KINDS:
        if kind == "risk_survey":
            return _("Answer the anonymous survey about your work environment, open until %(date)s") % {
                "date": _date(data["closes"])}
        # The due date only, as in the e-mail: the page the link opens says which unit and measure.
        due = {"due": _date(data["due"])}
        overdue = data.get("stage") == "overdue"
        if kind == "risk_action":
            return _("You own a measure in the action plan of a risk assessment, due %(due)s") % due
        if kind == "risk_action_due":
            if overdue:
                return _("A measure you own in an action plan was due %(due)s and is not done") % due
            return _("A measure you own in an action plan is due %(due)s") % due
        if overdue:
            return _("A risk assessment of a unit you manage was due for review %(due)s") % due
        return _("A risk assessment of a unit you manage is due for review %(due)s") % due
    return kind
