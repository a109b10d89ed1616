"""The organisation's retention policy (DOMAIN §8): how long each class of closed records is
kept, and whether it is then deleted (a private employer's own deletion routine) or restricted
(a public employer, who may not discard records under the archive act).

No rule for a class means it is kept indefinitely: nothing is deleted unless an administrator
says so.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tidsnok.org.models import Organisation


class DataClass(models.TextChoices):
    PSYCHOSOCIAL = "psychosocial", _("Closed psychosocial cases")
    HARASSMENT = "harassment", _("Closed harassment cases")
    SICK_LEAVE = "sick_leave", _("Closed sick-leave follow-up cases")
    EPISODES = "episodes", _("Absence episodes outside any case")
    PROMPTS = "prompts", _("Handled frequent-absence prompts")
    WHISTLEBLOWING = "whistleblowing", _("Closed whistleblowing reports")
    RISK = "risk", _("Risk assessments replaced by a newer one")


class Mode(models.TextChoices):
    DELETE = "delete", _("Delete")
    RESTRICT = "restrict", _("Restrict access")


class RetentionRule(models.Model):
    """One class's rule. `months` empty: kept indefinitely (the rule was cleared)."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="retention_rules")
    data_class = models.CharField(_("data"), max_length=20, choices=DataClass.choices)
    months = models.PositiveSmallIntegerField(_("months"), null=True, blank=True)
    mode = models.CharField(_("then"), max_length=10, choices=Mode.choices, default=Mode.DELETE)
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organisation", "data_class"], name="retention_rule_once"),
        ]


class RetentionRun(models.Model):
    """The sweep's daily application of one organisation's policy: inserted before the policy is
    applied, so that of several sweep workers only one applies it on a given day."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    date = models.DateField()
    started_at = models.DateTimeField(default=timezone.now)
    worker = models.CharField(max_length=100, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # How many cases and episodes it deleted or restricted.
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organisation", "date"], name="retention_run_once")]
