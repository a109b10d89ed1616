"""The deadline rule catalogue and the pure functions that turn a rule and a start date into a due date.

A rule is data: what it applies to, what starts it, how far, counted how, on what basis, from when.
Nothing here knows about cases; the cases app picks the rules for a case with `rules_for` and asks
`compute_due` for each trigger date it has.

Counting conventions (the same everywhere, and stated in every explanation):
- working_days: the n-th working day strictly after the start (see WorkingCalendar.add_working_days).
- calendar_days: start + n days; a due date on a weekend or holiday is not moved, but the
  explanation says so.
- day_number: day 1 is the start date itself, so day N is start + (N - 1) days. Used for the
  sick-leave milestones, which the law counts in weeks of absence ("within 7 weeks" = day 49).
- months: the same day of the month N months later, or the month's last day if that day does not
  exist (29.02.2028 + 12 months = 28.02.2029). For "12 months from 1 December 2026" this gives
  1 December 2027: the first day after the twelve months.
- sick_pay_days: the N-th sick-pay day counting Monday to Friday, public holidays included, from
  day 1 (ftrl. § 8-11 counts five days a week). An estimate: it assumes one continuous absence
  and no sick-pay days used in the previous three years; NAV sets the real maximum date.
"""

from __future__ import annotations

import calendar as stdlib_calendar
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from .calendar import CLOSED, WEEKEND, WorkingCalendar, holiday_name, normalise_lang

# --- vocabulary --------------------------------------------------------------------------------

KINDS = ("psychosocial", "conflict", "harassment", "violence", "sick_leave", "whistleblowing")

TRIGGERS = (
    "known_at",  # the date the manager first knew (DOMAIN §4.4: deadlines start there)
    "case_opened",
    "hr_involved",
    "measure_due",  # the due date of one measure; one deadline per measure
    "review",  # the previous review (or known_at for the first one); repeats while open
    "absence_start",  # day 1 of the absence episode
    "nav_meeting",  # the date of a registered NAV meeting
    "received",  # a whistleblowing report was received
    "retaliation_change",  # an adverse change for someone who reported or raised a concern
)

WORKING_DAYS = "working_days"
CALENDAR_DAYS = "calendar_days"
DAY_NUMBER = "day_number"
MONTHS = "months"
SICK_PAY_DAYS = "sick_pay_days"
UNITS = (WORKING_DAYS, CALENDAR_DAYS, DAY_NUMBER, MONTHS, SICK_PAY_DAYS)

RESPONSIBLE = ("handler", "hr", "employer", "nav")

POLICY_DEFAULT = "policy default"
ORGANISATION_POLICY = "organisation policy"

# Overrides as stored by the organisation: rule id -> [(effective_from, offset), ...].
Overrides = Mapping[str, Sequence[tuple[date, int]]]


@dataclass(frozen=True)
class Rule:
    id: str
    version: int
    kinds: tuple[str, ...]
    trigger: str
    offset: int
    unit: str
    # Where the number comes from: a law reference, or "policy default" when the law only says
    # "promptly" / "within reasonable time" and the number is ours.
    basis: str
    # Where the duty itself comes from; for law rules the same as `basis`.
    duty_basis: str
    # True if the organisation may change `offset` within `bounds`.
    policy: bool
    bounds: tuple[int, int] | None
    effective_from: date
    # Last day in force (inclusive); None while in force.
    effective_to: date | None
    title_nb: str
    title_en: str
    responsible: str
    # An event done by someone else (NAV) or a legal consequence, not a duty of the employer.
    expected_event: bool = False
    repeat: bool = False
    # A machine condition the caller checks before applying the rule ("full_leave", "work_related").
    condition: str = ""
    note_nb: str = ""
    note_en: str = ""
    # Set by rules_for when an organisation override replaced the default offset.
    overridden_from: date | None = None

    def title(self, lang: str | None = None) -> str:
        return self.title_nb if normalise_lang(lang) == "nb" else self.title_en

    def note(self, lang: str | None = None) -> str:
        return self.note_nb if normalise_lang(lang) == "nb" else self.note_en

    def in_force_on(self, d: date) -> bool:
        return self.effective_from <= d and (self.effective_to is None or d <= self.effective_to)


def weeks_to_day_number(n: int) -> int:
    """"Within N weeks" of absence, counted with day 1 = first day of absence, is day 7N."""
    return 7 * n


# --- the catalogue -----------------------------------------------------------------------------

# Policy defaults are ours: they start with the product's rule set.
POLICY_FROM = date(2026, 1, 1)
# VERIFY historical dates: the sick-leave and whistleblowing provisions are older than 2026, but
# tidsnok only computes deadlines for cases from 2026 on. Earlier versions, if ever needed, go in
# as extra rule versions with their own effective_from/effective_to.
LAW_FROM = date(2026, 1, 1)

_HARASSMENT_DUTY = "aml § 4-3 (5); likestillings- og diskrimineringsloven § 13"
_WHISTLEBLOWING_NOTE_NB = (
    "Intern målsetting etter EU-direktiv 2019/1937, som ikke er norsk lov; "
    "loven krever forsvarlig undersøkelse innen rimelig tid."
)
_WHISTLEBLOWING_NOTE_EN = (
    "Internal target taken from EU directive 2019/1937, which is not Norwegian law; "
    "the law requires an adequate investigation within reasonable time."
)


def _policy(**fields) -> Rule:
    return Rule(
        version=1,
        policy=True,
        basis=POLICY_DEFAULT,
        effective_from=POLICY_FROM,
        effective_to=None,
        **fields,
    )


def _law(**fields) -> Rule:
    return Rule(
        version=1,
        policy=False,
        bounds=None,
        duty_basis=fields["basis"],
        effective_from=LAW_FROM,
        effective_to=None,
        **fields,
    )


CATALOGUE: tuple[Rule, ...] = (
    # Psychosocial concerns and conflicts: the law says "fullt forsvarlig" (aml § 4-3 (1)) and
    # systematic follow-up, not a number of days, so the numbers are policy defaults.
    _policy(
        id="psychosocial.first_conversation",
        kinds=("psychosocial", "conflict"),
        trigger="known_at",
        offset=5,
        unit=WORKING_DAYS,
        bounds=(1, 10),
        duty_basis="aml § 4-3 (1)–(4)",
        responsible="handler",
        title_nb="Første samtale med den det gjelder",
        title_en="First conversation with the person concerned",
    ),
    _policy(
        id="psychosocial.assessment",
        kinds=("psychosocial", "conflict"),
        trigger="known_at",
        offset=10,
        unit=WORKING_DAYS,
        bounds=(5, 20),
        duty_basis="aml § 4-3 (1)–(4); forskrift om organisering, ledelse og medvirkning § 7-1",
        responsible="handler",
        title_nb="Dokumentert vurdering",
        title_en="Documented assessment",
    ),
    _policy(
        id="psychosocial.measure_follow_up",
        kinds=("psychosocial", "conflict"),
        trigger="measure_due",
        offset=20,
        unit=WORKING_DAYS,
        bounds=(5, 40),
        duty_basis="aml § 4-3 (1)–(4)",
        responsible="handler",
        title_nb="Oppfølging av tiltaket",
        title_en="Follow-up of the measure",
    ),
    _policy(
        id="psychosocial.review",
        kinds=("psychosocial", "conflict"),
        trigger="review",
        offset=30,
        unit=CALENDAR_DAYS,
        bounds=(7, 90),
        duty_basis="aml § 4-3 (1)–(4)",
        responsible="handler",
        repeat=True,
        title_nb="Gjennomgang av saken",
        title_en="Case review",
        note_nb="Gjentas så lenge saken er åpen.",
        note_en="Repeats while the case is open.",
    ),
    # Harassment, also used for claims of retaliation: the seed says "at once" and with HR.
    _policy(
        id="harassment.hr_involved",
        kinds=("harassment",),
        trigger="known_at",
        offset=1,
        unit=WORKING_DAYS,
        bounds=(0, 2),
        duty_basis=_HARASSMENT_DUTY,
        responsible="handler",
        title_nb="HR involvert",
        title_en="HR involved",
        note_nb="Involver HR med en gang; dette er siste frist.",
        note_en="Involve HR at once; this is the latest date.",
    ),
    _policy(
        id="harassment.protective_measures",
        kinds=("harassment",),
        trigger="known_at",
        offset=2,
        unit=WORKING_DAYS,
        bounds=(0, 5),
        duty_basis=_HARASSMENT_DUTY,
        responsible="hr",
        title_nb="Beskyttelsestiltak vurdert",
        title_en="Protective measures assessed",
    ),
    _policy(
        id="harassment.both_sides_heard",
        kinds=("harassment",),
        trigger="known_at",
        offset=10,
        unit=WORKING_DAYS,
        bounds=(5, 20),
        duty_basis=_HARASSMENT_DUTY,
        responsible="hr",
        title_nb="Begge parter hørt hver for seg",
        title_en="Both sides heard separately",
    ),
    _policy(
        id="harassment.conclusion",
        kinds=("harassment",),
        trigger="known_at",
        offset=30,
        unit=WORKING_DAYS,
        bounds=(10, 60),
        duty_basis=_HARASSMENT_DUTY,
        responsible="hr",
        title_nb="Dokumentert konklusjon",
        title_en="Documented conclusion",
    ),
    # When HR is pulled into a case (seed: "Når du bør snakke med HR"), HR gets a deadline of
    # its own, so "HR is involved" means someone acts, not that a name was added.
    _policy(
        id="hr.first_response",
        kinds=("psychosocial", "conflict", "harassment", "violence", "sick_leave"),
        trigger="hr_involved",
        offset=2,
        unit=WORKING_DAYS,
        bounds=(1, 5),
        duty_basis="aml § 3-1 (2) f; aml § 4-3",
        responsible="hr",
        title_nb="HR har fulgt opp saken",
        title_en="HR has followed up the case",
        note_nb="Teller fra dagen HR ble involvert. Oppfylles av en dokumentert oppføring fra HR.",
        note_en="Counted from the day HR was involved. Met by an entry documented by HR.",
    ),
    # Violence and threats.
    _policy(
        id="violence.follow_up_affected",
        kinds=("violence",),
        trigger="known_at",
        offset=1,
        unit=WORKING_DAYS,
        bounds=(0, 3),
        duty_basis="aml § 4-3 (6)",
        responsible="handler",
        title_nb="Oppfølging av den som ble rammet",
        title_en="Follow-up of the affected employee",
    ),
    # Sick leave (DOMAIN §5). Day 1 is the first day of absence.
    _law(
        id="sick_leave.employer_period_ends",
        kinds=("sick_leave",),
        trigger="absence_start",
        offset=16,
        unit=DAY_NUMBER,
        basis="ftrl. § 8-19",
        responsible="employer",
        expected_event=True,
        title_nb="Arbeidsgiverperioden slutter",
        title_en="Employer period ends",
    ),
    _law(
        id="sick_leave.follow_up_plan",
        kinds=("sick_leave",),
        trigger="absence_start",
        offset=weeks_to_day_number(4),
        unit=DAY_NUMBER,
        basis="aml § 4-6 (3)",
        responsible="employer",
        title_nb="Oppfølgingsplan utarbeidet",
        title_en="Follow-up plan ready",
        note_nb="Med mindre det er åpenbart unødvendig.",
        note_en="Unless obviously unnecessary.",
    ),
    _law(
        id="sick_leave.plan_to_doctor",
        kinds=("sick_leave",),
        trigger="absence_start",
        offset=weeks_to_day_number(4),
        unit=DAY_NUMBER,
        basis="aml § 4-6 (3)",
        responsible="employer",
        title_nb="Oppfølgingsplan sendt til sykmelder",
        title_en="Follow-up plan sent to the certifying doctor",
        note_nb="Så snart planen er laget.",
        note_en="As soon as the plan is made.",
    ),
    _policy(
        # The law (aml § 4-3 (1), DOMAIN §4.9) requires a change in the job, not a date; we tie it
        # to the follow-up plan, which must contain the employer's measures. An organisation may
        # only be stricter.
        id="sick_leave.job_side_measure",
        kinds=("sick_leave",),
        trigger="absence_start",
        offset=weeks_to_day_number(4),
        unit=DAY_NUMBER,
        bounds=(1, weeks_to_day_number(4)),
        duty_basis="aml § 4-3 (1); aml § 4-6 (3)",
        responsible="employer",
        condition="work_related",
        title_nb="Tiltak i jobben ved arbeidsrelatert fravær",
        title_en="Job-side measure for work-related absence",
    ),
    _law(
        id="sick_leave.dialogue_meeting_1",
        kinds=("sick_leave",),
        trigger="absence_start",
        offset=weeks_to_day_number(7),
        unit=DAY_NUMBER,
        basis="aml § 4-6 (4)",
        responsible="employer",
        condition="full_leave",
        title_nb="Dialogmøte 1",
        title_en="Dialogue meeting 1",
        note_nb="Obligatorisk ved 100 % sykmelding; ved gradert sykmelding bare hvis en part ønsker det.",
        note_en="Mandatory for 100 % leave; for graded leave only if a party asks for it.",
    ),
    _law(
        id="sick_leave.activity_requirement",
        kinds=("sick_leave",),
        trigger="absence_start",
        offset=weeks_to_day_number(8),
        unit=DAY_NUMBER,
        basis="ftrl. § 8-8",
        responsible="nav",
        expected_event=True,
        title_nb="NAV vurderer aktivitetskravet",
        title_en="NAV assesses the activity requirement",
        note_nb="Dokumenter det hvis tilrettelegging ikke er mulig.",
        note_en="Document it if adaptation is not possible.",
    ),
    _law(
        id="sick_leave.nav_dialogue_meeting_2_question",
        kinds=("sick_leave",),
        trigger="absence_start",
        offset=weeks_to_day_number(16),
        unit=DAY_NUMBER,
        basis="NAV practice, not law",
        responsible="nav",
        expected_event=True,
        title_nb="NAV spør om behov for dialogmøte 2",
        title_en="NAV asks whether dialogue meeting 2 is needed",
    ),
    _law(
        id="sick_leave.dialogue_meeting_2",
        kinds=("sick_leave",),
        trigger="absence_start",
        offset=weeks_to_day_number(26),
        unit=DAY_NUMBER,
        basis="ftrl. § 8-7 a",
        responsible="nav",
        expected_event=True,
        title_nb="Dialogmøte 2 (NAV)",
        title_en="Dialogue meeting 2 (NAV)",
    ),
    _law(
        id="sick_leave.plan_to_nav",
        kinds=("sick_leave",),
        trigger="nav_meeting",
        offset=-7,
        unit=CALENDAR_DAYS,
        basis="aml § 4-6 (3); ftrl. § 25-2",
        responsible="employer",
        title_nb="Oppdatert oppfølgingsplan til NAV",
        title_en="Updated follow-up plan to NAV",
        note_nb="Minst én uke før møtet.",
        note_en="At least one week before the meeting.",
    ),
    _law(
        id="sick_leave.dismissal_protection_ends",
        kinds=("sick_leave",),
        trigger="absence_start",
        offset=12,
        unit=MONTHS,
        basis="aml § 15-8",
        # Nobody has to act; the employer is the one who must know.
        responsible="employer",
        expected_event=True,
        title_nb="Oppsigelsesvernet ved sykdom opphører",
        title_en="Protection against dismissal for illness ends",
        note_nb="Første dag etter de tolv månedene: fra denne datoen gjelder ikke vernet lenger.",
        note_en="First day after the twelve months: from this date the protection no longer applies.",
    ),
    _law(
        id="sick_leave.max_sick_pay",
        kinds=("sick_leave",),
        trigger="absence_start",
        offset=248,
        unit=SICK_PAY_DAYS,
        basis="ftrl. § 8-12",
        responsible="nav",
        expected_event=True,
        title_nb="Anslått maksdato for sykepenger",
        title_en="Estimated maximum sick-pay date",
        note_nb=(
            "Anslag: 248 sykepengedager regnet mandag–fredag fra første fraværsdag, ved sammenhengende "
            "fravær og uten sykepengedager de siste tre årene. NAV fastsetter maksdatoen."
        ),
        note_en=(
            "Estimate: 248 sick-pay days counted Monday–Friday from the first day of absence, for one "
            "continuous absence and no sick-pay days in the previous three years. NAV sets the date."
        ),
    ),
    # Whistleblowing: aml § 2 A-3 says "within reasonable time"; the numbers are internal targets.
    _policy(
        id="whistleblowing.acknowledge",
        kinds=("whistleblowing",),
        trigger="received",
        offset=7,
        unit=CALENDAR_DAYS,
        bounds=(1, 14),
        duty_basis="aml § 2 A-3",
        responsible="handler",
        title_nb="Mottak av varselet bekreftet",
        title_en="Receipt of the report acknowledged",
        note_nb=_WHISTLEBLOWING_NOTE_NB,
        note_en=_WHISTLEBLOWING_NOTE_EN,
    ),
    _policy(
        id="whistleblowing.feedback",
        kinds=("whistleblowing",),
        trigger="received",
        offset=3,
        unit=MONTHS,
        bounds=(1, 6),
        duty_basis="aml § 2 A-3",
        responsible="handler",
        title_nb="Tilbakemelding til varsleren",
        title_en="Feedback to the reporter",
        note_nb=_WHISTLEBLOWING_NOTE_NB,
        note_en=_WHISTLEBLOWING_NOTE_EN,
    ),
    _policy(
        # Shared burden of proof (§ 2 A-4): the employer's defence is a record of the objective
        # grounds for every adverse change after a report, made while memories are fresh.
        id="whistleblowing.retaliation_check",
        # The check goes on the case where the protected person reported or raised
        # her concern, whatever its kind.
        kinds=KINDS,
        trigger="retaliation_change",
        offset=5,
        unit=WORKING_DAYS,
        bounds=(1, 10),
        duty_basis="aml §§ 2 A-3, 2 A-4",
        responsible="handler",
        title_nb="Vurdering av gjengjeldelse dokumentert",
        title_en="Retaliation check documented",
        note_nb="Dokumenter de saklige grunnene for endringen.",
        note_en="Document the objective grounds for the change.",
    ),
)


# --- choosing rules ----------------------------------------------------------------------------


class OverrideError(ValueError):
    """An organisation tried to change a rule it may not change, or beyond its bounds."""

    def __init__(self, message, rule_id: str, offset: int, bounds: tuple[int, int] | None):
        super().__init__(message)
        self.rule_id = rule_id
        self.offset = offset
        self.bounds = bounds


def validate_override(rule: Rule, offset: int) -> None:
    """Raise OverrideError unless the organisation may set `rule` to `offset`."""
    if not rule.policy or rule.bounds is None:
        raise OverrideError(
            format_lazy(
                _("The deadline “{rule}” is set by law ({basis}) and cannot be changed."),
                rule=rule.title_en,
                basis=rule.basis,
            ),
            rule.id,
            offset,
            None,
        )
    low, high = rule.bounds
    if isinstance(offset, bool) or not isinstance(offset, int) or not low <= offset <= high:
        raise OverrideError(
            format_lazy(
                _("The deadline “{rule}” must be between {low} and {high}."),
                rule=rule.title_en,
                low=low,
                high=high,
            ),
            rule.id,
            offset,
            rule.bounds,
        )


def find_rule(rule_id: str, on: date) -> Rule | None:
    """The version of `rule_id` in force on `on`, without overrides."""
    for rule in CATALOGUE:
        if rule.id == rule_id and rule.in_force_on(on):
            return rule
    return None


def apply_override(rule: Rule, on: date, overrides: Overrides | None) -> Rule:
    """`rule` with the organisation's offset for a case starting on `on`, if it has one.

    Only overrides effective on or before the case's start apply, so a policy change never
    rewrites the deadlines of cases already known.
    """
    applicable = [(eff, off) for eff, off in (overrides or {}).get(rule.id, ()) if eff <= on]
    if not applicable:
        return rule
    effective_from, offset = max(applicable, key=lambda item: item[0])
    validate_override(rule, offset)
    return replace(rule, offset=offset, basis=ORGANISATION_POLICY, overridden_from=effective_from)


def rules_for(kind: str, on: date, overrides: Overrides | None = None) -> list[Rule]:
    """The rules for a case of `kind` that started (the manager first knew) on `on`."""
    if kind not in KINDS:
        raise ValueError(f"unknown case kind {kind!r}")
    return [
        apply_override(rule, on, overrides)
        for rule in CATALOGUE
        if kind in rule.kinds and rule.in_force_on(on)
    ]


# --- date arithmetic ---------------------------------------------------------------------------


def day_number_date(start: date, n: int) -> date:
    """Day n of a period whose day 1 is `start`."""
    if n < 1:
        raise ValueError("day numbers start at 1")
    return start + timedelta(days=n - 1)


def add_months(start: date, n: int) -> date:
    """Same day of the month n months later, clamped to the last day of a shorter month."""
    years, month_index = divmod(start.month - 1 + n, 12)
    year, month = start.year + years, month_index + 1
    return date(year, month, min(start.day, stdlib_calendar.monthrange(year, month)[1]))


def nth_sick_pay_day(start: date, n: int) -> date:
    """The n-th Monday-to-Friday day counting from `start` itself (holidays count, ftrl. § 8-11)."""
    if n < 1:
        raise ValueError("sick-pay days start at 1")
    d = start
    while d.weekday() >= 5:
        d += timedelta(days=1)
    full_weeks, remaining = divmod(n - 1, 5)
    d += timedelta(weeks=full_weeks)
    while remaining:
        d += timedelta(days=1)
        if d.weekday() < 5:
            remaining -= 1
    return d


def _skipped_working_days(calendar: WorkingCalendar, start: date, due: date, n: int):
    # The non-working days the count stepped over; the start day only counts as skipped when
    # n == 0 moved the due date past it.
    if n > 0:
        first, last = start + timedelta(days=1), due - timedelta(days=1)
    elif n < 0:
        first, last = due + timedelta(days=1), start - timedelta(days=1)
    else:
        first, last = start, due - timedelta(days=1)
    return calendar.non_working_days(first, last, "nb")


# --- due dates and their explanation -----------------------------------------------------------


@dataclass(frozen=True)
class Due:
    rule_id: str
    start: date
    due: date
    # JSON-ready (ISO dates, lists) so the cases app can store it and render it later with
    # explain_text() exactly as it was computed.
    explanation: dict = field(hash=False)

    def text(self, lang: str | None = None) -> str:
        return explain_text(self.explanation, lang)


def compute_due(rule: Rule, start: date, calendar: WorkingCalendar) -> Due:
    """The due date of `rule` for a trigger on `start`, with the reasons for it."""
    skipped: list[tuple[date, str]] = []
    if rule.unit == WORKING_DAYS:
        due = calendar.add_working_days(start, rule.offset)
        skipped = _skipped_working_days(calendar, start, due, rule.offset)
    elif rule.unit == CALENDAR_DAYS:
        due = start + timedelta(days=rule.offset)
    elif rule.unit == DAY_NUMBER:
        due = day_number_date(start, rule.offset)
    elif rule.unit == MONTHS:
        due = add_months(start, rule.offset)
    elif rule.unit == SICK_PAY_DAYS:
        due = nth_sick_pay_day(start, rule.offset)
    else:
        raise ValueError(f"unknown unit {rule.unit!r} in rule {rule.id}")

    explanation = {
        "rule": rule.id,
        "version": rule.version,
        "title_nb": rule.title_nb,
        "title_en": rule.title_en,
        "basis": rule.basis,
        "duty_basis": rule.duty_basis,
        "trigger": rule.trigger,
        "start": start.isoformat(),
        "due": due.isoformat(),
        "unit": rule.unit,
        "offset": rule.offset,
        "skipped": [[d.isoformat(), reason] for d, reason in skipped],
        # Units that do not skip non-working days may land on one; say so rather than move it.
        "due_non_working": calendar.non_working_reason(due, "nb") or "",
        "overridden_from": rule.overridden_from.isoformat() if rule.overridden_from else None,
    }
    return Due(rule_id=rule.id, start=start, due=due, explanation=explanation)


_WORDS = {
    "nb": {
        "start": "Start",
        WORKING_DAYS: ("arbeidsdag", "arbeidsdager"),
        CALENDAR_DAYS: ("kalenderdag", "kalenderdager"),
        MONTHS: ("måned", "måneder"),
        "day": "dag",
        "day_one": "dag 1 = startdato",
        "sick_pay_day": "sykepengedag",
        "estimate": "anslag: mandag–fredag telles, helligdager medregnet",
        "skipped": "hoppet over",
        "falls_on": "faller på fridag",
        "override": "virksomhetens regel fra",
        WEEKEND: "helg",
        CLOSED: "stengt",
    },
    "en": {
        "start": "Start",
        WORKING_DAYS: ("working day", "working days"),
        CALENDAR_DAYS: ("calendar day", "calendar days"),
        MONTHS: ("month", "months"),
        "day": "day",
        "day_one": "day 1 = start date",
        "sick_pay_day": "sick-pay day",
        "estimate": "estimate: Monday–Friday counted, public holidays included",
        "skipped": "skipped",
        "falls_on": "falls on a non-working day",
        "override": "organisation policy from",
        WEEKEND: "weekend",
        CLOSED: "closed",
    },
}


def _dmy(d: date) -> str:
    return d.strftime("%d.%m.%Y")


def _dm(d: date) -> str:
    return d.strftime("%d.%m")


def _reason_text(d: date, reason: str, lang: str) -> str:
    # Stored reasons are "weekend", "closed" or the holiday's Norwegian name; English names are
    # looked up again by date, since holidays are fixed data.
    if reason in (WEEKEND, CLOSED):
        return _WORDS[lang][reason]
    if lang == "nb":
        return reason
    return holiday_name(d, "en") or reason


def _skipped_text(skipped, lang: str) -> str:
    # Consecutive days with the same reason read as one range: "27.03–28.03 helg".
    groups: list[list] = []
    for iso, reason in skipped:
        d = date.fromisoformat(iso)
        text = _reason_text(d, reason, lang)
        if groups and groups[-1][2] == text and groups[-1][1] + timedelta(days=1) == d:
            groups[-1][1] = d
        else:
            groups.append([d, d, text])
    parts = []
    for first, last, text in groups:
        span = _dm(first) if first == last else f"{_dm(first)}–{_dm(last)}"
        parts.append(f"{span} {text}")
    return ", ".join(parts)


def explain_text(explanation: Mapping, lang: str | None = None) -> str:
    """One sentence answering "why this date?", in bokmål or English.

    Example: "Start 24.03.2027 + 1 arbeidsdag = 30.03.2027 (hoppet over: 25.03 Skjærtorsdag, ...)".
    """
    lang = normalise_lang(lang)
    words = _WORDS[lang]
    start = date.fromisoformat(explanation["start"])
    due = date.fromisoformat(explanation["due"])
    unit, offset = explanation["unit"], explanation["offset"]

    if unit in (WORKING_DAYS, CALENDAR_DAYS, MONTHS):
        singular, plural = words[unit]
        sign = "+" if offset >= 0 else "−"
        amount = abs(offset)
        sentence = f"{words['start']} {_dmy(start)} {sign} {amount} {singular if amount == 1 else plural} = {_dmy(due)}"
    elif unit == DAY_NUMBER:
        sentence = f"{words['start']} {_dmy(start)}, {words['day']} {offset} ({words['day_one']}) = {_dmy(due)}"
    elif unit == SICK_PAY_DAYS:
        sentence = f"{words['start']} {_dmy(start)}, {words['sick_pay_day']} {offset} = {_dmy(due)} ({words['estimate']})"
    else:
        raise ValueError(f"unknown unit {unit!r}")

    if explanation.get("skipped"):
        sentence += f" ({words['skipped']}: {_skipped_text(explanation['skipped'], lang)})"
    if explanation.get("due_non_working"):
        sentence += f" ({words['falls_on']}: {_reason_text(due, explanation['due_non_working'], lang)})"
    if explanation.get("overridden_from"):
        sentence += f" – {words['override']} {_dmy(date.fromisoformat(explanation['overridden_from']))}"
    return sentence
