"""The case spine: one case model for every kind of case.

What a manager must be able to show is "what did we know, what did we do, and
when". A Case holds what was known and when; Entries hold what was done (each
with when it happened and when it was recorded); Measures hold what was decided
and who owns it; Deadlines hold what the rules required and whether it came in
time. Kind-specific data (absence episodes, reports) lives in the higher rooms
and points here.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tidsnok.cases import hooks
from tidsnok.labels import choice_label
from tidsnok.org.models import Organisation, Person, Unit


class Kind(models.TextChoices):
    PSYCHOSOCIAL = "psychosocial", _("Psychosocial concern")
    CONFLICT = "conflict", _("Conflict")
    HARASSMENT = "harassment", _("Harassment or retaliation")
    VIOLENCE = "violence", _("Violence or threat incident")
    SICK_LEAVE = "sick_leave", _("Sick-leave follow-up")
    WHISTLEBLOWING = "whistleblowing", _("Whistleblowing report")


# Kinds a manager registers through the case form; the others arrive through
# their own rooms (absence import, reporting channel).
MANAGER_KINDS = (Kind.PSYCHOSOCIAL, Kind.CONFLICT, Kind.HARASSMENT, Kind.VIOLENCE)
# Restricted kinds are visible to their handlers only, never through scope.
RESTRICTED_KINDS = (Kind.HARASSMENT, Kind.WHISTLEBLOWING)
# Every read of these is an ACCESS audit event: their content is health data or
# concerns harassment and whistleblowing.
ACCESS_LOGGED_KINDS = (Kind.HARASSMENT, Kind.WHISTLEBLOWING, Kind.SICK_LEAVE)


class Source(models.TextChoices):
    EMPLOYEE_TOLD = "employee_told", _("The employee told me")
    OBSERVED = "observed", _("I observed it")
    COLLEAGUE = "colleague", _("A colleague told me")
    SAFETY_REP = "safety_rep", _("The safety representative")
    SURVEY = "survey", _("A survey or mapping")
    SICK_LEAVE = "sick_leave", _("Sick leave")
    REPORT = "report", _("A whistleblowing report")
    OTHER = "other", _("Other")


class Status(models.TextChoices):
    OPEN = "open", _("Open")
    CLOSED = "closed", _("Closed")


class Factor(models.Model):
    """A psychosocial factor in the organisation's catalogue (DOMAIN §2)."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="factors")
    code = models.SlugField(max_length=40)
    name_nb = models.CharField(max_length=200)
    name_en = models.CharField(max_length=200)
    legal_basis = models.CharField(max_length=200, blank=True)
    guidance_nb = models.TextField(blank=True)
    guidance_en = models.TextField(blank=True)
    active = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organisation", "code"], name="factor_code_unique")]
        ordering = ["position", "code"]

    def name(self, lang: str = "nb") -> str:
        return self.name_en if lang == "en" else self.name_nb

    def __str__(self):
        return self.name_nb


class CaseNumber(models.Model):
    """The last case number used per organisation and year. Incremented with a
    conditional UPDATE inside the opening transaction, so numbers never repeat."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE)
    year = models.PositiveSmallIntegerField()
    last = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organisation", "year"], name="case_number_year_unique")]


class Case(models.Model):
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="cases")
    number = models.CharField(_("case number"), max_length=20)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    # The unit of the (first) concerned person when the case was opened: the
    # scope that managers and HR see cases through.
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="cases")
    restricted = models.BooleanField(default=False)
    description = models.TextField(_("what happened"), blank=True)
    source = models.CharField(_("how I learnt of it"), max_length=20, choices=Source.choices, default=Source.OTHER)
    known_at = models.DateField(_("when I first knew"))
    known_at_reason = models.TextField(_("why it is registered only now"), blank=True)
    factors = models.ManyToManyField(Factor, blank=True, related_name="cases")
    owner = models.ForeignKey(Person, null=True, on_delete=models.SET_NULL, related_name="owned_cases")
    hr_involved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    closed_at = models.DateTimeField(null=True, blank=True)
    # Set when the organisation's retention policy restricted the closed case instead of deleting
    # it (a public employer may not discard records, DOMAIN §8): from then on only its HR handlers
    # of record see it. Also what keeps the policy from restricting it a second time.
    restricted_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organisation", "number"], name="case_number_unique")]
        indexes = [
            models.Index(fields=["unit", "status", "-created_at"]),
            models.Index(fields=["organisation", "status", "-created_at"]),
            models.Index(fields=["owner", "status"]),
            models.Index(fields=["organisation", "-created_at", "-id"], name="case_org_created_idx"),
            # A manager's list, newest first, from her units (cases.policy._index_bound).
            models.Index(fields=["unit", "-created_at", "-id"], name="case_unit_created_idx"),
        ]

    def __str__(self):
        return self.number

    @property
    def is_open(self) -> bool:
        return self.status == Status.OPEN

    # For lists, which show many cases: see tidsnok.labels for why not get_kind_display().
    @property
    def kind_label(self) -> str:
        return choice_label(Kind, self.kind)

    @property
    def status_label(self) -> str:
        return choice_label(Status, self.status)


class PartyRole(models.TextChoices):
    CONCERNED = "concerned", _("Concerned employee")
    ACCUSED = "accused", _("Accused")
    WITNESS = "witness", _("Witness")
    REPORTER = "reporter", _("Raised the concern")
    OTHER = "other", _("Other party")


class Party(models.Model):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="parties")
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="case_parties")
    role = models.CharField(max_length=20, choices=PartyRole.choices)
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["case", "person", "role"], name="party_unique")]
        indexes = [models.Index(fields=["person", "role"])]


class HandlerRole(models.TextChoices):
    MANAGER = "manager", _("Manager")
    NEXT_MANAGER = "next_manager", _("Next manager up")
    HR = "hr", _("HR")
    ADDED = "added", _("Added handler")


class Handler(models.Model):
    """Someone who handles the case. Active while `removed_at` is empty."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="handlers")
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="handled_cases")
    role = models.CharField(max_length=20, choices=HandlerRole.choices)
    reason = models.TextField(blank=True)
    added_at = models.DateTimeField(default=timezone.now)
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["person", "removed_at"]), models.Index(fields=["case", "removed_at"])]


class Exclusion(models.Model):
    """A person shut out of a case for impartiality (habilitet): a party to it.

    Exclusion beats every other route to the case, including HR scope."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="exclusions")
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="case_exclusions")
    reason = models.CharField(max_length=40)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["case", "person"], name="exclusion_unique")]
        indexes = [models.Index(fields=["person"])]


class EntryKind(models.TextChoices):
    CONVERSATION = "conversation", _("Conversation")
    ASSESSMENT = "assessment", _("Assessment")
    FOLLOW_UP = "follow_up", _("Follow-up")
    DECISION = "decision", _("Decision")
    CONCLUSION = "conclusion", _("Conclusion")
    NOTE = "note", _("Internal note")
    COMMENT = "comment", _("Comment from the employee")
    MEASURE_RESPONSE = "measure_response", _("Employee's view of a measure")
    UNCERTAIN = "uncertain", _("Unsure about process or impartiality")
    HR_INVOLVED = "hr_involved", _("HR involved")
    EXCLUSION = "exclusion", _("Impartiality")
    ESCALATION = "escalation", _("Escalation")
    MEASURE = "measure", _("Measure")
    EVALUATION = "evaluation", _("Final evaluation")
    REOPENED = "reopened", _("Reopened")
    WAIVER = "waiver", _("Deadline waived")
    NOT_REQUIRED = "not_required", _("Deadline marked as not required")
    # Written by the rooms above the spine, so one timeline shows everything.
    ABSENCE = "absence", _("Absence")
    PLAN = "plan", _("Follow-up plan")
    PLAN_SENT = "plan_sent", _("Follow-up plan sent")
    PLAN_RESPONSE = "plan_response", _("Employee's view of the plan")
    MEETING = "meeting", _("Dialogue meeting")
    RETALIATION_CHECK = "retaliation_check", _("Retaliation check")
    MESSAGE = "message", _("Message")
    SYSTEM = "system", _("Event")


class Visibility(models.TextChoices):
    SHARED = "shared", _("Shared with the concerned employee")
    INTERNAL = "internal", _("Internal to the handlers")


class Entry(models.Model):
    """One thing that happened in a case.

    Two times, always: `occurred_on` (when it happened, which may be earlier) and
    `recorded_at` (when it was written down). Deadlines are judged by the first,
    and the second shows how late the record is."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="entries")
    kind = models.CharField(max_length=20, choices=EntryKind.choices)
    occurred_on = models.DateField(_("when it happened"))
    recorded_at = models.DateTimeField(default=timezone.now)
    author = models.ForeignKey(Person, null=True, on_delete=models.SET_NULL, related_name="case_entries")
    visibility = models.CharField(max_length=10, choices=Visibility.choices, default=Visibility.INTERNAL)
    # A shared entry about one party is shown to that party only.
    about = models.ForeignKey(Person, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    text = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    measure = models.ForeignKey("Measure", null=True, blank=True, on_delete=models.PROTECT, related_name="entries")
    version = models.PositiveIntegerField(default=1)

    class Meta:
        indexes = [models.Index(fields=["case", "occurred_on", "recorded_at"])]
        ordering = ["occurred_on", "recorded_at", "id"]

    @property
    def recording_delay_days(self) -> int:
        return (timezone.localdate(self.recorded_at) - self.occurred_on).days


class MeasureKind(models.TextChoices):
    ORGANISATIONAL = "organisational", _("Organisational / job-side")
    INDIVIDUAL = "individual", _("Individual")


class JobSideArea(models.TextChoices):
    ORGANISATION = "organisation", _("Organisation of the work")
    WORKLOAD = "workload", _("Workload")
    TASKS = "tasks", _("Tasks")
    WORKING_HOURS = "working_hours", _("Working hours")
    CONFLICT_HANDLING = "conflict_handling", _("Conflict handling")
    OTHER = "other", _("Other")


class MeasureStatus(models.TextChoices):
    PLANNED = "planned", _("Planned")
    IN_PROGRESS = "in_progress", _("In progress")
    DONE = "done", _("Done")
    CANCELLED = "cancelled", _("Cancelled")


OPEN_MEASURE_STATUSES = (MeasureStatus.PLANNED, MeasureStatus.IN_PROGRESS)


class Measure(models.Model):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="measures")
    what = models.TextField(_("what"))
    kind = models.CharField(_("type"), max_length=20, choices=MeasureKind.choices)
    area = models.CharField(_("area"), max_length=20, choices=JobSideArea.choices, blank=True)
    owner = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="owned_measures")
    due = models.DateField(_("due"))
    status = models.CharField(_("status"), max_length=20, choices=MeasureStatus.choices, default=MeasureStatus.PLANNED)
    cancel_reason = models.TextField(_("reason for cancelling"), blank=True)
    done_on = models.DateField(null=True, blank=True)
    visibility = models.CharField(max_length=10, choices=Visibility.choices, default=Visibility.SHARED)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(Person, null=True, on_delete=models.SET_NULL, related_name="+")
    version = models.PositiveIntegerField(default=1)

    class Meta:
        indexes = [models.Index(fields=["case", "status"]), models.Index(fields=["owner", "status", "due"])]
        ordering = ["due", "id"]

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_MEASURE_STATUSES


class DeadlineStatus(models.TextChoices):
    OPEN = "open", _("Open")
    MET = "met", _("Met in time")
    LATE = "late", _("Met late")
    MISSED = "missed", _("Missed")
    WAIVED = "waived", _("Waived")
    NOT_REQUIRED = "not_required", _("No longer required")


PENDING_DEADLINE_STATUSES = (DeadlineStatus.OPEN,)

# The spine's own reasons for a deadline the rules no longer require (Deadline.reason_code).
DEADLINE_REASONS = {
    "case_closed": _("The case was closed."),
    "measure_cancelled": _("The measure was cancelled."),
    "rule_gone": _("No longer required by the rules for this case."),
}


class DeadlineVersion(models.Model):
    """A number that grows with every committed change to what the compliance overview counts:
    an organisation's deadline rows, its cases' status and restriction, and who handles or is
    excluded from them (which decides who sees the deadlines). Cached counts carry the number
    they were counted at, and are used only while it stands.

    Bumped by cases.services in the transaction of the change, after taking the audit chain's
    head lock (every writer takes that lock first, so this row never adds a deadlock, and
    changes commit in the order of their numbers). A change that only adds a note to a case
    leaves it alone, so one busy manager does not empty HR's cache."""

    organisation = models.OneToOneField(Organisation, primary_key=True, on_delete=models.CASCADE, related_name="+")
    version = models.BigIntegerField(default=0)


class Deadline(models.Model):
    """A deadline computed from a rule: it knows its rule, basis, start and why."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="deadlines")
    rule_id = models.CharField(max_length=80)
    rule_version = models.PositiveSmallIntegerField(default=1)
    # For deadlines that exist once per measure or repeat (reviews): which one.
    measure = models.ForeignKey(Measure, null=True, blank=True, on_delete=models.CASCADE, related_name="deadlines")
    sequence = models.PositiveIntegerField(default=0)
    title_nb = models.CharField(max_length=200)
    title_en = models.CharField(max_length=200)
    basis = models.CharField(max_length=200)
    duty_basis = models.CharField(max_length=300, blank=True)
    responsible = models.CharField(max_length=20, default="handler")
    expected_event = models.BooleanField(default=False)
    start = models.DateField()
    due = models.DateField()
    explanation = models.JSONField(default=dict)
    status = models.CharField(max_length=20, choices=DeadlineStatus.choices, default=DeadlineStatus.OPEN)
    met_on = models.DateField(null=True, blank=True)
    met_by = models.ForeignKey(Entry, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # Why it is waived or not required, in the words of whoever decided (status_reason), or, when
    # the rules decided, a code and its values (reason_code, reason_data), worded when shown in
    # the reader's language: a text stored in the language of whoever's change recomputed the
    # case read wrong to everyone else, and made the next recompute in the other language
    # rewrite the row.
    status_reason = models.TextField(blank=True)
    reason_code = models.CharField(max_length=40, blank=True)
    reason_data = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["case", "rule_id", "measure", "sequence"], name="deadline_measure_unique",
                                    condition=Q(measure__isnull=False)),
            models.UniqueConstraint(fields=["case", "rule_id", "sequence"], name="deadline_case_unique",
                                    condition=Q(measure__isnull=True)),
        ]
        indexes = [
            models.Index(fields=["status", "due"]),
            models.Index(fields=["case", "due"]),
            # Everything the compliance overview counts, so it reads the index and never the rows
            # (whose explanations make them wide): HR's count at 50,000 employees 110 -> 75 ms.
            models.Index(fields=["case", "expected_event", "status", "due"], name="deadline_compliance_idx"),
        ]
        ordering = ["due", "id"]

    def title(self, lang: str = "nb") -> str:
        return self.title_en if lang == "en" else self.title_nb

    def reason(self) -> str:
        """Why it is waived or no longer required, in the active language."""
        if not self.reason_code:
            return self.status_reason
        # The rooms above add their own reasons to hooks.deadline_reasons.
        text = DEADLINE_REASONS.get(self.reason_code) or hooks.deadline_reasons.get(self.reason_code)
        if text is None:  # the room that gave it is not installed
            return self.reason_code
        return str(text) % self.reason_data if self.reason_data else str(text)

    @property
    def days_late(self) -> int:
        if self.met_on and self.met_on > self.due:
            return (self.met_on - self.due).days
        return 0


def active_handlers_q(prefix: str = "") -> Q:
    return Q(**{f"{prefix}removed_at__isnull": True})


CASE_NUMBER_PREFIX = "SAK"
