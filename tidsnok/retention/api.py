"""The retention policy through the JSON API: GET /retention/rules, PUT /retention/rules/{class}.

The same services and access rule as the page /oppbevaring/: administrators set the rules, HR
for the whole organisation reads them, and for anyone else the policy does not exist (404).
"""

from typing import Annotated, Literal

from django.utils import timezone
from ninja import Field, Path, Router, Schema
from pydantic import StrictInt

from tidsnok.access.api import AUTH_ERRORS, MAX_ID
from tidsnok.access.policy import AccessDenied
from tidsnok.api_common import ErrorOut
from tidsnok.org import scope
from tidsnok.retention import services
from tidsnok.retention.models import DataClass, Mode

router = Router(tags=["retention"])

DataClassValue = Literal[tuple(DataClass.values)]
ModeValue = Literal[tuple(Mode.values)]


class RetentionRuleOut(Schema):
    data_class: DataClassValue
    label: str = Field(description="What the class holds, in the request language.")
    months: int | None = Field(description="How many months it is kept; empty: kept indefinitely.")
    mode: ModeValue = Field(description="What happens then: delete, or restrict access to HR.")
    version: int = Field(description="Send it back with PUT (0 while the class has no rule): a stale version is "
                                     "refused with 409.")
    minimum_months: int = Field(description="The least number of months the rule may keep it.")
    next_run_count: int | None = Field(description="How many items the next run would delete or restrict; empty "
                                                   "while the class is kept indefinitely.")


class RetentionRuleIn(Schema):
    # Strict: "24" or true is not a number of months. The bounds are the service's (400 with the
    # reason in the request language): the minimum depends on the organisation's rules.
    months: StrictInt | None = Field(description="How many months to keep it (at least `minimum_months`, at "
                                                 "most 1200); null: keep it indefinitely.")
    mode: ModeValue
    version: Annotated[StrictInt, Field(ge=0, le=MAX_ID)] = Field(
        description="The version you saw, 0 when the class had no rule.")


def _row(row: services.ClassPolicy) -> dict:
    rule = row.rule
    return {
        "data_class": row.data_class, "label": str(row.label),
        "months": rule.months if rule else None, "mode": rule.mode if rule else Mode.DELETE.value,
        "version": rule.version if rule else 0, "minimum_months": row.minimum,
        "next_run_count": row.outcome.count if row.outcome else None,
    }


def _organisation(user):
    return scope.person_of(user).organisation


@router.get(
    "/retention/rules",
    response={200: list[RetentionRuleOut], 404: ErrorOut, **AUTH_ERRORS},
    summary="The retention rule of every class of data, with what the next run would do "
            "(administrators and HR for the whole organisation; 404 otherwise)",
)
def rules(request):
    user = request.auth
    if not services.may_view(user):
        raise AccessDenied("retention.view")
    return [_row(row) for row in services.policy_of(_organisation(user), timezone.localdate())]


@router.put(
    "/retention/rules/{data_class}",
    response={200: RetentionRuleOut, 400: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut, **AUTH_ERRORS},
    summary="Set or clear the retention rule of one class of data (administrators; 404 otherwise)",
    description=(
        "Send the `version` you saw (0 when the class had no rule). If someone changed the rule since, nothing "
        "is saved: 409. A number of months under the minimum is refused with 400 and the reason. Audited as "
        "`retention.rule_changed`."
    ),
)
def set_rule(request, payload: RetentionRuleIn, data_class: DataClassValue = Path(...)):
    user = request.auth
    if not services.may_edit(user):
        raise AccessDenied("retention.rule")
    organisation = _organisation(user)
    services.set_rule(user, organisation, data_class, months=payload.months, mode=payload.mode,
                      version=payload.version)
    return _row(services.policy_of(organisation, timezone.localdate(), only=data_class)[0])
