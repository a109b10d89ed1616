"""An organisation's own deadline policy: changed offsets of policy rules, and extra closed days.

The catalogue itself is code (rules.py); only what an organisation may choose lives here.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .rules import OverrideError, find_rule, validate_override


class RuleOverride(models.Model):
    """A policy rule's offset as this organisation sets it, for cases starting on or after
    `effective_from`. Rows are never edited: a new policy is a new row, so old cases keep the
    rule they were computed with and the history of the policy stays visible."""

    organisation = models.ForeignKey(
        "org.Organisation", on_delete=models.PROTECT, related_name="rule_overrides"
    )
    rule_id = models.CharField(_("rule"), max_length=100)
    offset = models.IntegerField(_("offset"))
    effective_from = models.DateField(_("effective from"))
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("rule override")
        verbose_name_plural = _("rule overrides")
        constraints = [
            # Also the index for overrides_map(): organisation, then rule, then date.
            models.UniqueConstraint(
                fields=["organisation", "rule_id", "effective_from"],
                name="deadlines_override_unique_per_day",
            ),
        ]

    def __str__(self):
        return f"{self.rule_id} = {self.offset} from {self.effective_from:%d.%m.%Y}"

    def clean(self):
        rule = find_rule(self.rule_id, self.effective_from) if self.effective_from else None
        if rule is None:
            raise ValidationError({"rule_id": _("No such rule in force on that date.")})
        try:
            validate_override(rule, self.offset)
        except OverrideError as exc:
            raise ValidationError({"offset": exc.args[0]}) from exc


class ClosedDay(models.Model):
    """A day the organisation is closed (Christmas Eve, say): not a working day for its deadlines."""

    organisation = models.ForeignKey(
        "org.Organisation", on_delete=models.PROTECT, related_name="closed_days"
    )
    date = models.DateField(_("date"))
    reason = models.CharField(_("reason"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("closed day")
        verbose_name_plural = _("closed days")
        ordering = ["date"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "date"], name="deadlines_closed_day_unique"),
        ]

    def __str__(self):
        return f"{self.date:%d.%m.%Y} {self.reason}".strip()
