"""Whistleblowing (aml chapter 2 A) beside the spine: the report with its
encrypted content and anonymous receipt, two-way messages, attachments, the
written routines (§ 2 A-6), and the retaliation watch (§ 2 A-4).

Report content, messages and attachments are stored encrypted (tidsnok.crypto,
keys kept apart from the database): the database alone reveals nothing of them.
For anonymous reports nothing identifying is stored: no IP address, no user
agent, and only dates, never times.
"""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tidsnok.cases.models import Case
from tidsnok.org.models import Organisation, Person


class Category(models.TextChoices):
    WORK_ENVIRONMENT = "work_environment", _("Unsound work environment")
    HARASSMENT = "harassment", _("Harassment or discrimination")
    HEALTH_SAFETY = "health_safety", _("Danger to life or health")
    FINANCIAL_CRIME = "financial_crime", _("Corruption or financial crime")
    ABUSE_OF_AUTHORITY = "abuse_of_authority", _("Abuse of authority")
    DATA_SECURITY = "data_security", _("Breach of privacy or information security")
    OTHER = "other", _("Other censurable conditions")


class Anonymity(models.TextChoices):
    NAMED = "named", _("Named")
    CONFIDENTIAL = "confidential", _("Confidential: my identity is known to the handlers only")
    ANONYMOUS = "anonymous", _("Anonymous")


class Assessment(models.TextChoices):
    PENDING = "pending", _("Not yet assessed")
    WHISTLEBLOWING = "whistleblowing", _("Whistleblowing under aml § 2 A-1")
    PERSONAL_GRIEVANCE = "personal_grievance", _("Personal grievance about one's own employment")


class Report(models.Model):
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="reports")
    case = models.OneToOneField(Case, on_delete=models.PROTECT, related_name="report")
    category = models.CharField(max_length=30, choices=Category.choices)
    anonymity = models.CharField(max_length=20, choices=Anonymity.choices)
    # Empty for anonymous reports.
    reporter = models.ForeignKey(Person, null=True, blank=True, on_delete=models.PROTECT, related_name="reports")
    description_enc = models.TextField()
    when_enc = models.TextField(blank=True)
    involved_enc = models.TextField(blank=True)
    # Anonymous receipts: a public locator to find the row, and a slow (Argon2)
    # hash of the secret part; the receipt itself is shown once and never stored.
    receipt_locator = models.CharField(max_length=16, blank=True, db_index=True)
    receipt_hash = models.CharField(max_length=200, blank=True)
    received_on = models.DateField()
    assessment = models.CharField(max_length=30, choices=Assessment.choices, default=Assessment.PENDING)
    redirect_consent = models.BooleanField(null=True)
    feedback_given_on = models.DateField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)


class Direction(models.TextChoices):
    TO_REPORTER = "to_reporter", _("To the reporter")
    FROM_REPORTER = "from_reporter", _("From the reporter")


class Message(models.Model):
    """The two-way dialogue with the reporter. Internal notes are case entries instead."""

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="messages")
    direction = models.CharField(max_length=20, choices=Direction.choices)
    body_enc = models.TextField()
    # Date only: a time of day could tell who wrote an anonymous message.
    sent_on = models.DateField()
    author = models.ForeignKey(Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    is_feedback = models.BooleanField(default=False)
    read_by_reporter_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["sent_on", "id"]


class Attachment(models.Model):
    """An attachment, encrypted in the database (no local files: app servers share nothing else)."""

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="attachments")
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.CASCADE, related_name="attachments")
    filename_enc = models.TextField()
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    data_enc = models.BinaryField()
    added_on = models.DateField()


class DesignatedHandler(models.Model):
    """Who receives reports: HR or a whistleblowing committee."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="whistleblowing_handlers")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+")
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organisation", "person"], name="designated_handler_unique")]


class WhistleblowingSettings(models.Model):
    organisation = models.OneToOneField(Organisation, on_delete=models.CASCADE, related_name="whistleblowing_settings")
    protection_months = models.PositiveSmallIntegerField(default=12)


class Routine(models.Model):
    """The written whistleblowing routines (§ 2 A-6), one row per version."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="routines")
    number = models.PositiveIntegerField()
    encouragement = models.TextField(_("encouragement to report"))
    how_to_report = models.TextField(_("how to report, internally and externally"))
    handling = models.TextField(_("how reports are received, handled and followed up"))
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(Person, null=True, on_delete=models.SET_NULL, related_name="+")
    published_on = models.DateField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organisation", "number"], name="routine_number_unique")]
        ordering = ["-number"]


class Participation(models.Model):
    """Who took part in making a routine version (employees and their representatives), when, and what they said."""

    routine = models.ForeignKey(Routine, on_delete=models.CASCADE, related_name="participation")
    who = models.CharField(max_length=200)
    capacity = models.CharField(max_length=30)  # employee | union_rep | safety_rep | amu | other
    on = models.DateField()
    comment = models.TextField(blank=True)


class ProtectionReason(models.TextChoices):
    REPORTED = "reported", _("Reported censurable conditions")
    RAISED_CONCERN = "raised_concern", _("Raised a concern in a case")
    ABOUT_TO_REPORT = "about_to_report", _("Known to be about to report")


class Protection(models.Model):
    """The retaliation watch: a person protected for a period after reporting."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="protections")
    reason = models.CharField(max_length=20, choices=ProtectionReason.choices)
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="protections")
    starts_on = models.DateField()
    ends_on = models.DateField()

    class Meta:
        indexes = [models.Index(fields=["person", "ends_on"])]


class ChangeType(models.TextChoices):
    NEW_CASE_PARTY = "new_case_party", _("Made a party to a new case")
    TASKS = "tasks", _("Changed tasks")
    HOURS = "hours", _("Changed working hours")
    PLACE = "place", _("Relocation")
    ROLE = "role", _("Changed role or position")
    WARNING = "warning", _("Warning")
    MANAGER = "manager", _("Change of manager")
    DEMOTION = "demotion", _("Demotion")
    DISMISSAL = "dismissal", _("Dismissal")
    OTHER = "other", _("Other adverse change")


class RetaliationCheck(models.Model):
    """An adverse change for a protected person: HR documents the objective,
    independent grounds, with who decided, within 5 working days."""

    protection = models.ForeignKey(Protection, on_delete=models.PROTECT, related_name="checks")
    change_type = models.CharField(max_length=20, choices=ChangeType.choices)
    change_on = models.DateField()
    source = models.CharField(max_length=40)  # case event | org change | api
    reported_justification_enc = models.TextField(blank=True)
    decided_by = models.ForeignKey(Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    grounds_enc = models.TextField(blank=True)
    outcome = models.CharField(max_length=30, blank=True)  # objective_grounds | retaliation_suspected
    documented_on = models.DateField(null=True, blank=True)
    documented_by = models.ForeignKey(Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    version = models.PositiveIntegerField(default=1)
