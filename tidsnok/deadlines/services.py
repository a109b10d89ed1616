"""An organisation changes its deadline policy: offsets of policy rules within
their bounds, and extra closed days. Audited; old cases keep the rules they
were computed with (an override applies to cases that start on or after it)."""

from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from tidsnok.audit.services import record
from tidsnok.org import scope

from .models import ClosedDay, RuleOverride
from .rules import OverrideError, find_rule, validate_override


class NotAllowed(Exception):
    pass


def _require_policy_owner(actor, organisation):
    # The policy is the whole organisation's: HR for all of it, or an administrator.
    if scope.organisation_id_of(actor) != organisation.pk or not (
        scope.hr_scope(actor) == scope.ALL or scope.is_admin(actor)
    ):
        raise NotAllowed("deadline_policy")


@transaction.atomic
def set_rule_offset(actor, organisation, rule_id: str, offset: int, effective_from: date | None = None) -> RuleOverride:
    _require_policy_owner(actor, organisation)
    effective_from = effective_from or timezone.localdate()
    rule = find_rule(rule_id, effective_from)
    if rule is None:
        raise ValidationError({"rule": [_("Unknown rule.")]})
    if effective_from < timezone.localdate():
        raise ValidationError({"effective_from": [_("A policy change cannot take effect in the past.")]})
    try:
        validate_override(rule, offset)
    except OverrideError as error:
        raise ValidationError({"offset": [str(error)]})
    row, _created = RuleOverride.objects.update_or_create(
        organisation=organisation, rule_id=rule_id, effective_from=effective_from,
        defaults={"offset": offset, "created_by": actor},
    )
    record(actor, "deadlines.policy_changed", organisation, {
        "rule": rule_id, "offset": offset, "default": rule.offset, "effective_from": effective_from,
    })
    return row


@transaction.atomic
def add_closed_day(actor, organisation, day: date, reason: str) -> ClosedDay:
    """A day the organisation is closed (for example between Christmas and New Year): not a working day."""
    _require_policy_owner(actor, organisation)
    if not (reason or "").strip():
        raise ValidationError({"reason": [_("Say why the organisation is closed that day.")]})
    row, _created = ClosedDay.objects.get_or_create(organisation=organisation, date=day, defaults={"reason": reason})
    record(actor, "deadlines.closed_day_added", organisation, {"date": day, "reason": reason})
    return row
