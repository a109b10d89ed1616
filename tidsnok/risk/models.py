"""Systematic HMS for a unit (DOMAIN §1, §7): map the psychosocial factors, assess the risks, plan
measures, follow them up and repeat, with the employees and their representatives.

forskrift om organisering, ledelse og medvirkning § 7-1 asks for exactly this cycle, documented
and repeated regularly; internkontrollforskriften § 5 asks that mapping, risk assessment, plans
and measures be in writing. A risk assessment belongs to one unit; its risk register and its
action plan are rows beside it. It holds no personal data beyond who took part and who owns a
measure: risks describe the work, never a person.
"""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tidsnok.cases.models import Factor, MeasureStatus
from tidsnok.labels import choice_label
from tidsnok.org.models import Organisation, Person, Unit


class Method(models.TextChoices):
    WORKSHOP = "workshop", _("Workshop with the employees")
    SURVEY = "survey", _("Survey")
    BOTH = "both", _("Survey and workshop")
    OTHER = "other", _("Other")


class Status(models.TextChoices):
    DRAFT = "draft", _("In progress")
    COMPLETED = "completed", _("Completed")


class Assessment(models.Model):
    """One round of mapping and risk assessment (kartlegging og risikovurdering) for a unit."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="risk_assessments")
    title = models.CharField(_("title"), max_length=200)
    method = models.CharField(_("method"), max_length=20, choices=Method.choices)
    started_on = models.DateField(_("started on"))
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.DRAFT)
    # The conclusion, written when the assessment is completed.
    summary = models.TextField(_("conclusion"), blank=True)
    completed_on = models.DateField(_("completed on"), null=True, blank=True)
    # When the unit must assess again (§ 7-1: "regularly"); set when completed.
    review_due = models.DateField(_("next review"), null=True, blank=True)
    # Which reminder of the review the sweep has sent ("", "before", "overdue"): each once.
    review_reminded = models.CharField(max_length=10, blank=True, default="")
    created_by = models.ForeignKey(Person, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    version = models.PositiveIntegerField(default=1)
    # Set by the retention policy (restrict mode) once a newer assessment of the unit has replaced
    # it for long enough: from then on only HR in scope reads it, and nobody changes it.
    restricted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["unit", "started_on"], name="risk_assessment_unit"),
            models.Index(fields=["organisation", "status", "review_due"], name="risk_assessment_review"),
        ]
        ordering = ["-started_on", "-id"]

    def __str__(self):
        return self.title

    @property
    def is_completed(self) -> bool:
        return self.status == Status.COMPLETED

    @property
    def status_label(self) -> str:
        """For the list of assessments: see tidsnok.labels for why not get_status_display()."""
        return choice_label(Status, self.status)


class Likelihood(models.IntegerChoices):
    UNLIKELY = 1, _("Unlikely")
    POSSIBLE = 2, _("Possible")
    LIKELY = 3, _("Likely")
    VERY_LIKELY = 4, _("Very likely")


class Consequence(models.IntegerChoices):
    MINOR = 1, _("Minor")
    MODERATE = 2, _("Moderate")
    SERIOUS = 3, _("Serious")
    CRITICAL = 4, _("Critical")


class Risk(models.Model):
    """One line of the risk register: a factor, what may happen, how likely and how bad."""

    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="risks")
    # Empty: a risk outside the organisation's factor catalogue.
    factor = models.ForeignKey(Factor, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    description = models.TextField(_("what may happen"))
    likelihood = models.PositiveSmallIntegerField(_("likelihood"), choices=Likelihood.choices)
    consequence = models.PositiveSmallIntegerField(_("consequence"), choices=Consequence.choices)
    current_measures = models.TextField(_("what is already done"), blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["id"]


class Action(models.Model):
    """One measure of the action plan (handlingsplan), with an owner and a due date."""

    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="actions")
    risk = models.ForeignKey(Risk, null=True, blank=True, on_delete=models.SET_NULL, related_name="actions")
    what = models.TextField(_("what"))
    owner = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    due = models.DateField(_("due"))
    status = models.CharField(_("status"), max_length=20, choices=MeasureStatus.choices, default=MeasureStatus.PLANNED)
    cancel_reason = models.TextField(_("reason for cancelling"), blank=True)
    done_on = models.DateField(null=True, blank=True)
    # Which reminder the sweep has sent its owner ("", "before", "overdue"): each once.
    reminded = models.CharField(max_length=10, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        indexes = [
            models.Index(fields=["status", "due"], name="risk_action_due"),
            models.Index(fields=["owner", "status"], name="risk_action_owner"),
        ]
        ordering = ["due", "id"]

    @property
    def is_open(self) -> bool:
        return self.status in (MeasureStatus.PLANNED, MeasureStatus.IN_PROGRESS)


class ParticipantRole(models.TextChoices):
    EMPLOYEE = "employee", _("Employee")
    SAFETY_REP = "safety_rep", _("Safety representative")
    UNION_REP = "union_rep", _("Union representative")
    MANAGER = "manager", _("Manager")
    HR = "hr", _("HR")
    AMU = "amu", _("AMU member")
    OTHER = "other", _("Other")


class Participant(models.Model):
    """The participation ledger: who took part in the assessment, in which capacity, when."""

    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="participants")
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    role = models.CharField(_("took part as"), max_length=20, choices=ParticipantRole.choices)
    took_part_on = models.DateField(_("took part on"))
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["assessment", "person", "role"], name="risk_participant_once"),
        ]
        ordering = ["took_part_on", "id"]


class Comment(models.Model):
    """What an employee, a safety representative or the AMU says about the assessment."""

    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    # The capacity she wrote in ("safety_rep", "employee", ...), as it was then.
    role = models.CharField(max_length=20, choices=ParticipantRole.choices)
    text = models.TextField(_("comment"))
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]


class Survey(models.Model):
    """An anonymous survey of the unit's employees, one question per factor of the catalogue.

    Answers are kept only as counts per factor and score (Tally): no row holds one person's
    answers, so nothing links an answer to who gave it, not even the order of the rows. Results
    are shown only after the survey has closed, and only when enough people answered (the
    threshold): read while it ran, each new answer could be told apart by the change it made.
    """

    assessment = models.OneToOneField(Assessment, on_delete=models.CASCADE, related_name="survey")
    opens_on = models.DateField(_("opens on"))
    closes_on = models.DateField(_("closes on"))
    # Fewer answers than this and no figure is shown (see rules.SURVEY_MIN_THRESHOLD).
    threshold = models.PositiveSmallIntegerField(_("fewest answers shown"), default=5)
    factors = models.ManyToManyField(Factor, related_name="+")
    invited = models.PositiveIntegerField(default=0)
    responses = models.PositiveIntegerField(default=0)
    closed_early_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)


class Invitation(models.Model):
    """Who was asked, and whether she has answered (so she answers once). No time is kept: the
    moment someone answered could be matched with the moment a count changed."""

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="invitations")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+")
    answered = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["survey", "person"], name="risk_invitation_once")]


class Tally(models.Model):
    """How many answered `score` for one factor."""

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="tallies")
    factor = models.ForeignKey(Factor, on_delete=models.PROTECT, related_name="+")
    score = models.PositiveSmallIntegerField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["survey", "factor", "score"], name="risk_tally_once")]
