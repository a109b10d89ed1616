"""The case timeline for the web pages: entries and deadlines on one axis.

Pure functions over rows already loaded (no queries here), so the case page
costs the same number of queries however long the case grows. The views load
the rows through the access policy and pass them in.
"""

from dataclasses import dataclass, field
from datetime import date

from django.utils.formats import localize
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe
from django.utils.timezone import template_localtime
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from tidsnok.cases import rules
from tidsnok.cases.models import (
    DeadlineStatus,
    EntryKind,
    MeasureKind,
    MeasureStatus,
    PartyRole,
    Source,
)
from tidsnok.deadlines.rules import ORGANISATION_POLICY, POLICY_DEFAULT, explain_text, find_rule
from tidsnok.labels import choice_label


def health_risk_label(value) -> str:
    return {"low": _("Low"), "medium": _("Medium"), "high": _("High")}.get(value, value or "")


def work_related_label(value) -> str:
    return {"yes": _("Yes"), "no": _("No"), "uncertain": _("Uncertain")}.get(value, value or "")


def _yes_no(value) -> str:
    return _("Yes") if value else _("No")


def hr_reason_label(reason: str) -> str:
    extra = {
        "registered_by_hr": _("HR registered the case."),
        "added": _("HR was added as a handler."),
    }
    return str(extra.get(reason) or rules.hr_reason_text(reason))


def exclusion_text(name: str, reason: str) -> str:
    """"X is a party and excluded (habilitet)", with the party role when known."""
    role = reason.removeprefix("party_") if reason.startswith("party_") else ""
    if role in PartyRole.values:
        return _("%(name)s is a party to the case (%(role)s) and is therefore excluded from handling it "
                 "(impartiality).") % {"name": name, "role": choice_label(PartyRole, role).lower()}
    return _("%(name)s is excluded from handling the case (impartiality).") % {"name": name}


def basis_label(basis: str) -> str:
    if basis == POLICY_DEFAULT:
        return _("policy default: the law sets no number of days, so tidsnok suggests one")
    if basis == ORGANISATION_POLICY:
        return _("the organisation's own policy")
    return basis


def responsible_label(value: str) -> str:
    return {
        "handler": _("the case handler"), "hr": _("HR"), "employer": _("the employer"), "nav": _("NAV"),
    }.get(value, value)


# What the timeline shows is worded here rather than in the template: a long case
# has dozens of rows, and each {% blocktranslate %}, |date and {% if %} in the row's
# markup is paid once per row. The wording and the escaping are the template's:
# the same message ids, the variables escaped, the translations as they are.


def dmy(day) -> str:
    """A date as |date:"d.m.Y" writes it."""
    return f"{day.day:02d}.{day.month:02d}.{day.year:04d}"


def dmy_hm(moment) -> str:
    """A date and time as |date:"d.m.Y H:i" writes it (in the current time zone)."""
    moment = template_localtime(moment)
    return f"{dmy(moment)} {moment.hour:02d}:{moment.minute:02d}"


def _filled(translated: str, **values) -> str:
    """What {% blocktranslate %} renders: the translation as it is, the values escaped. The
    message is translated at the call (`_("...")`, `ngettext(...)`), where makemessages finds it."""
    return translated % {key: conditional_escape(localize(value) if isinstance(value, int) else value)
                         for key, value in values.items()}


@dataclass
class EntryView:
    entry: object
    headline: str
    details: list[tuple[str, str]] = field(default_factory=list)

    @property
    def delay_days(self) -> int:
        return max(self.entry.recording_delay_days, 0)

    @property
    def occurred(self) -> str:
        return dmy(self.entry.occurred_on)

    @property
    def occurred_iso(self) -> str:
        return self.entry.occurred_on.isoformat()

    @property
    def meta(self) -> str:
        """When it was recorded, by whom, and how long after it happened."""
        entry = self.entry
        html = [_filled(_("Recorded %(when)s"), when=dmy_hm(entry.recorded_at))]
        if entry.author_id is not None:
            html += [" ", _filled(_("by %(name)s"), name=entry.author.name)]
        delay = self.delay_days
        if delay:
            html += [' · <strong class="late-record">', _filled(ngettext(
                "recorded %(days)s day after it happened", "recorded %(days)s days after it happened", delay,
            ), days=delay), "</strong>"]
        return mark_safe("".join(html))

    @property
    def visibility_label(self) -> str:
        if self.entry.visibility == "shared":
            return mark_safe(_("shared with the employee"))
        return mark_safe(_("internal"))


@dataclass
class DeadlineView:
    deadline: object
    title: str
    status_label: str
    overdue: bool
    days_overdue: int
    explanation: str
    basis: str
    duty_basis: str
    note: str
    responsible: str
    met_by: EntryView | None = None

    @property
    def css(self) -> str:
        return "overdue" if self.overdue else f"status-{self.deadline.status}"

    @property
    def due(self) -> str:
        return dmy(self.deadline.due)

    @property
    def due_iso(self) -> str:
        return self.deadline.due.isoformat()

    @property
    def heading(self) -> str:
        return mark_safe(_filled(_("Deadline: %(title)s"), title=self.title))

    @property
    def state(self) -> str:
        """Overdue by how much; or met when, by what and how late; or not met yet."""
        d = self.deadline
        if self.overdue:
            html = ["<strong>", _filled(ngettext("Overdue by %(days)s day.", "Overdue by %(days)s days.", self.days_overdue),
                                         days=self.days_overdue),
                    "</strong>"]
        elif d.met_on:
            html = [_filled(_("Met %(date)s"), date=dmy(d.met_on))]
            if self.met_by is not None:
                entry = self.met_by.entry
                html += [", ", _("by"), ' <a href="#entry-', str(entry.pk), '">',
                         conditional_escape(str(self.met_by.headline).lower()), " (", dmy(entry.occurred_on), ")</a>"]
            if d.days_late:
                html += [" · <strong>", _filled(ngettext("%(days)s day late", "%(days)s days late", d.days_late), days=d.days_late), "</strong>"]
            html.append(".")
        elif d.status == DeadlineStatus.OPEN:
            html = [_("Not met yet.")]
        else:
            html = []
        return mark_safe("".join(html))


@dataclass
class Item:
    """One row on the timeline: an entry, or a deadline (placed on its due date)."""

    on: date
    entry: EntryView | None = None
    deadline: DeadlineView | None = None
    # For a deadline on the case page: the link to waive it, if the reader may.
    waive: str | None = None

    @property
    def sort_key(self):
        # On the same day, what was done comes before what was due.
        if self.entry is not None:
            return (self.on, 0, self.entry.entry.recorded_at.timestamp(), self.entry.entry.pk)
        return (self.on, 1, 0, self.deadline.deadline.pk)


def describe_entry(entry, *, names: dict, factor_names: dict, measures: dict, deadline_titles: dict) -> EntryView:
    """What an entry says, worded for the reader in the active language."""
    data = entry.data or {}
    kind = entry.kind
    headline = choice_label(EntryKind, kind)
    details: list[tuple[str, str]] = []
    if kind == EntryKind.SYSTEM and data.get("event") == "known":
        headline = _("First known: %(source)s") % {"source": choice_label(Source, data.get("source"))}
    elif kind == EntryKind.CONVERSATION:
        people = ", ".join(names.get(p, "#%s" % p) for p in data.get("participants", []))
        if people:
            details.append((_("Participants"), people))
    elif kind == EntryKind.ASSESSMENT:
        details += [
            (_("Health risk"), health_risk_label(data.get("health_risk"))),
            (_("Work-related"), work_related_label(data.get("work_related"))),
            (_("Affects ability to work"), _yes_no(data.get("affects_work_ability"))),
            (_("Affects several in the team"), _yes_no(data.get("affects_several"))),
        ]
        if data.get("factors_confirmed"):
            details.append((_("Factors confirmed"), ", ".join(factor_names.get(c, c) for c in data["factors_confirmed"])))
    elif kind == EntryKind.MEASURE:
        what = measures[entry.measure_id].what if entry.measure_id in measures else entry.text
        if data.get("event") == "status":
            headline = _("Measure changed: %(from)s → %(to)s") % {
                "from": choice_label(MeasureStatus, data.get("from")), "to": choice_label(MeasureStatus, data.get("to")),
            }
        else:
            headline = _("Measure added")
            if data.get("kind"):
                details.append((_("Type"), choice_label(MeasureKind, data.get("kind"))))
            if data.get("owner") in names:
                details.append((_("Owner"), names[data["owner"]]))
            if data.get("due"):
                details.append((_("Due"), date.fromisoformat(data["due"]).strftime("%d.%m.%Y")))
        if what != entry.text:
            details.insert(0, (_("Measure"), what))
    elif kind == EntryKind.MEASURE_RESPONSE:
        headline = _("Agrees with the measure") if data.get("agrees") else _("Does not agree with the measure")
    elif kind == EntryKind.HR_INVOLVED:
        headline = _("HR involved: %(name)s") % {"name": names.get(data.get("hr_person"), _("HR"))}
        details.append((_("Why"), hr_reason_label(data.get("reason", ""))))
    elif kind == EntryKind.ESCALATION and data.get("hr_available") is False:
        headline = _("HR should be involved, but no HR adviser covers this unit")
        details.append((_("Why"), hr_reason_label(data.get("reason", ""))))
    elif kind == EntryKind.EXCLUSION:
        details.append(("", exclusion_text(names.get(data.get("person"), "#%s" % data.get("person")), data.get("reason", ""))))
    elif kind == EntryKind.WAIVER:
        headline = _("Deadline waived: %(title)s") % {
            "title": deadline_titles.get(data.get("deadline"), data.get("rule", "")),
        }
    if entry.measure_id and kind in (EntryKind.FOLLOW_UP, EntryKind.MEASURE_RESPONSE) and entry.measure_id in measures:
        details.append((_("Measure"), measures[entry.measure_id].what))
    if entry.about_id and kind not in (EntryKind.COMMENT, EntryKind.MEASURE_RESPONSE) and entry.about_id in names:
        details.append((_("Concerns"), names[entry.about_id]))
    return EntryView(entry=entry, headline=headline, details=details)


def describe_deadline(deadline, *, case_known_at: date, lang: str, today: date, entries: dict) -> DeadlineView:
    overdue = deadline.status == DeadlineStatus.OPEN and deadline.due < today
    rule = find_rule(deadline.rule_id, case_known_at)
    note = rule.note(lang) if rule is not None and rule.version == deadline.rule_version else ""
    explanation = explain_text(deadline.explanation, lang) if deadline.explanation else ""
    return DeadlineView(
        deadline=deadline,
        title=deadline.title(lang),
        status_label=_("Overdue") if overdue else choice_label(DeadlineStatus, deadline.status),
        overdue=overdue,
        days_overdue=(today - deadline.due).days if overdue else 0,
        explanation=explanation,
        basis=basis_label(deadline.basis),
        duty_basis=deadline.duty_basis,
        note=note,
        responsible=responsible_label(deadline.responsible),
        met_by=entries.get(deadline.met_by_id),
    )


def build(entry_views: list[EntryView], deadline_views: list[DeadlineView]) -> list[Item]:
    items = [Item(on=e.entry.occurred_on, entry=e) for e in entry_views]
    items += [Item(on=d.deadline.due, deadline=d) for d in deadline_views]
    return sorted(items, key=lambda item: item.sort_key)


# --- the picture --------------------------------------------------------------------------------

WIDTH, HEIGHT = 800, 130
LEFT, RIGHT = 40, 760
AXIS_Y = 70


@dataclass
class Marker:
    x: float
    shape: str  # "known", "due", "met", "late"
    css: str
    title: str
    points: str = ""
    y: float = AXIS_Y
    # For a met marker: where its deadline's diamond is, to draw the line between them.
    from_x: float | None = None

    @property
    def box(self) -> tuple[float, float]:
        """Top-left corner of the 10×10 square drawn for a deadline met late."""
        return round(self.x - 5, 1), round(self.y - 5, 1)


def picture(known_at: date, deadline_views: list[DeadlineView], today: date) -> dict:
    """Positions for a server-rendered SVG: known-at, each deadline's due date and
    when it was met, and today. Colours come from CSS classes (the CSP forbids
    inline styles); the shapes differ too, so colour is never the only signal."""
    dates = [known_at, today]
    for d in deadline_views:
        dates.append(d.deadline.due)
        if d.deadline.met_on:
            dates.append(d.deadline.met_on)
    first, last = min(dates), max(dates)
    span = max((last - first).days, 1)

    def x(day: date) -> float:
        return round(LEFT + (day - first).days / span * (RIGHT - LEFT), 1)

    markers = [Marker(x=x(known_at), shape="known", css="tl-known",
                      title=_("First known %(date)s") % {"date": known_at.strftime("%d.%m.%Y")})]
    for d in deadline_views:
        dl = d.deadline
        cx = x(dl.due)
        # A diamond on the axis for the due date.
        diamond = f"{cx},{AXIS_Y - 8} {cx + 6},{AXIS_Y} {cx},{AXIS_Y + 8} {cx - 6},{AXIS_Y}"
        markers.append(Marker(
            x=cx, shape="due", css=f"tl-due {d.css}", points=diamond,
            title=_("%(title)s: due %(due)s (%(status)s)") % {
                "title": d.title, "due": dl.due.strftime("%d.%m.%Y"), "status": d.status_label,
            },
        ))
        if dl.met_on:
            late = dl.status == DeadlineStatus.LATE
            # Late and in-time markers on two heights, so two met on one day do not hide each other.
            markers.append(Marker(
                x=x(dl.met_on), y=AXIS_Y - (40 if late else 24), from_x=cx,
                shape="late" if late else "met", css="tl-met tl-late" if late else "tl-met",
                title=_("%(title)s: met %(date)s") % {"title": d.title, "date": dl.met_on.strftime("%d.%m.%Y")},
            ))
    today_x = x(today)
    return {
        "width": WIDTH, "height": HEIGHT, "left": LEFT, "right": RIGHT, "axis_y": AXIS_Y,
        "first": first, "last": last, "today_x": today_x, "today": today,
        "markers": markers,
    }
