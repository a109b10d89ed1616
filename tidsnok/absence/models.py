"""Sick-leave follow-up beside the spine: absence episodes with their grade
history, the follow-up plan in NAV's structure with its versions, dialogue
meetings, and frequent-absence flags.

Never a diagnosis: no model here has a place for one. Dates, grade and
work-relatedness are what follow-up needs (GDPR art. 9 (2) b, minimum).
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tidsnok.cases.models import Case, Factor
from tidsnok.org.models import Organisation, Person


class Certification(models.TextChoices):
    SELF = "self", _("Self-certified (egenmelding)")
    DOCTOR = "doctor", _("Doctor-certified (sykmelding)")


class WorkRelated(models.TextChoices):
    NO = "no", _("Not work-related")
    PARTLY = "partly", _("Partly work-related")
    FULLY = "fully", _("Work-related")


class Episode(models.Model):
    """One absence episode (fraværsperiode). Day 1 is `start`.

    `period_start` is day 1 of the employer period the episode belongs to: an
    episode that starts within 16 days of the previous one continues it
    (ftrl. § 8-19), and so does its follow-up timeline."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="absence_episodes")
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="absence_episodes")
    external_id = models.CharField(_("id in the payroll system"), max_length=64, blank=True)
    start = models.DateField(_("first day"))
    end = models.DateField(_("last day"), null=True, blank=True)
    certified = models.CharField(_("certified by"), max_length=10, choices=Certification.choices)
    work_related = models.CharField(_("work-related"), max_length=10, choices=WorkRelated.choices, default=WorkRelated.NO)
    work_related_factors = models.ManyToManyField(Factor, blank=True, related_name="+")
    period_start = models.DateField(editable=False)
    case = models.ForeignKey(Case, null=True, blank=True, on_delete=models.SET_NULL, related_name="absence_episodes")
    created_at = models.DateTimeField(default=timezone.now)
    # Set when the organisation's retention policy restricted the episode instead of deleting it
    # (DOMAIN §8): managers no longer see it, HR and the employee herself still do (policy.py).
    restricted_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "external_id"], name="episode_external_id_unique",
                condition=~models.Q(external_id=""),
            )
        ]
        indexes = [
            models.Index(fields=["person", "start"]),
            models.Index(fields=["organisation", "start"]),
            models.Index(fields=["case"]),
        ]
        ordering = ["start", "id"]


class GradePeriod(models.Model):
    """The sick-leave grade (percent) from a date on. The grade can change over time."""

    episode = models.ForeignKey(Episode, on_delete=models.CASCADE, related_name="grades")
    from_date = models.DateField()
    grade = models.PositiveSmallIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["episode", "from_date"], name="grade_from_unique")]
        ordering = ["from_date"]


class FollowUpPlan(models.Model):
    """The follow-up plan of a sick-leave case (aml § 4-6 (3)); content lives in versions."""

    case = models.OneToOneField(Case, on_delete=models.CASCADE, related_name="follow_up_plan")
    obviously_unnecessary_reason = models.TextField(blank=True)
    version = models.PositiveIntegerField(default=1)


class PlanVersion(models.Model):
    """One version of the plan in NAV's structure. A new save is a new version; nothing is overwritten."""

    plan = models.ForeignKey(FollowUpPlan, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    work_tasks_and_capacity = models.TextField(_("work tasks and work capacity"))
    employer_measures = models.TextField(_("adaptation and measures by the employer"))
    assisted_measures = models.TextField(_("measures with help from NAV or others"), blank=True)
    further_follow_up = models.TextField(_("plan for further follow-up"))
    made_on = models.DateField()
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(Person, null=True, on_delete=models.SET_NULL, related_name="+")
    employee_response = models.CharField(max_length=12, blank=True)  # approved | disagreed | ""
    employee_comment = models.TextField(blank=True)
    employee_responded_at = models.DateTimeField(null=True, blank=True)
    employee_absent_reason = models.TextField(_("why the employee did not take part"), blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["plan", "number"], name="plan_version_unique")]
        ordering = ["number"]


class Recipient(models.TextChoices):
    DOCTOR = "doctor", _("The certifying doctor (sykmelder)")
    NAV = "nav", _("NAV")


class PlanSending(models.Model):
    """When and to whom a plan version was sent: what meets the deadline."""

    version = models.ForeignKey(PlanVersion, on_delete=models.PROTECT, related_name="sendings")
    recipient = models.CharField(max_length=10, choices=Recipient.choices)
    sent_on = models.DateField()
    recorded_at = models.DateTimeField(default=timezone.now)
    recorded_by = models.ForeignKey(Person, null=True, on_delete=models.SET_NULL, related_name="+")


class MeetingKind(models.TextChoices):
    DIALOGUE_1 = "dialogue_1", _("Dialogue meeting 1")
    DIALOGUE_2 = "dialogue_2", _("Dialogue meeting 2 (NAV)")
    DIALOGUE_3 = "dialogue_3", _("Dialogue meeting 3 (NAV)")


class DialogueMeeting(models.Model):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="dialogue_meetings")
    kind = models.CharField(max_length=12, choices=MeetingKind.choices)
    planned_on = models.DateField(_("date"))
    participants = models.JSONField(default=list)  # roles: employee, manager, doctor, safety_rep, occupational_health, nav
    held_on = models.DateField(null=True, blank=True)
    minutes = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["planned_on", "id"]

    @property
    def is_nav_meeting(self) -> bool:
        return self.kind in (MeetingKind.DIALOGUE_2, MeetingKind.DIALOGUE_3)


class MeetingRequest(models.Model):
    """A party asks for dialogue meeting 1 on graded leave (then it becomes required)."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="meeting_requests")
    requested_by = models.CharField(max_length=20)  # employee | manager | doctor
    requested_on = models.DateField()


class RecurrenceFlag(models.Model):
    """Frequent absence flagged to the manager: a prompt for a conversation, never a judgement."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="absence_flags")
    raised_on = models.DateField()
    episodes = models.PositiveSmallIntegerField()
    window_start = models.DateField()
    handled_on = models.DateField(null=True, blank=True)
    handled_note = models.TextField(blank=True)
    handled_by = models.ForeignKey(Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # Set when the retention policy restricted the handled prompt instead of deleting it: from then
    # on for HR in scope only (policy.py), like a restricted episode.
    restricted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["person", "raised_on"]),
            # The prompts still waiting, the longest waiting first: HR's list at 50,000 people.
            models.Index(fields=["organisation", "raised_on", "id"], condition=models.Q(handled_on__isnull=True),
                         name="absence_flag_waiting_idx"),
        ]


class AbsenceSettings(models.Model):
    """Per-organisation choices, with the defaults from the issue and DOMAIN §5."""

    organisation = models.OneToOneField(Organisation, on_delete=models.CASCADE, related_name="absence_settings")
    frequent_episodes = models.PositiveSmallIntegerField(default=3)
    frequent_window_months = models.PositiveSmallIntegerField(default=12)
    changed_at = models.DateTimeField(default=timezone.now)
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)


class ImportJob(models.Model):
    """A payroll file too large to import within one request (a 50,000-employee organisation's
    month is tens of thousands of rows): the sweep imports it, all or nothing, as the page would."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Waiting")
        RUNNING = "running", _("Importing")
        DONE = "done", _("Imported")
        FAILED = "failed", _("Nothing imported")

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    filename = models.CharField(max_length=255, blank=True)
    rows = models.PositiveIntegerField()
    # The file, encrypted (absence dates are health data); emptied as soon as the job ends.
    content = models.BinaryField(blank=True)
    sha256 = models.CharField(max_length=64)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    queued_at = models.DateTimeField(default=timezone.now)
    claimed_by = models.CharField(max_length=200, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # {"summary": {...}} or {"errors": [[line, column, reason], ...]}
    result = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "queued_at"])]
