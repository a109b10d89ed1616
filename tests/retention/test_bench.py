"""`tidsnok bench retention` on the personas' organisation: it reaches what the policy would,
reports it per class, and leaves the database as it was. A smoke test, not a measurement."""

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from tests.retention.test_policy import closed_case
from tidsnok.audit.models import AuditEvent
from tidsnok.cases.models import Case
from tidsnok.retention.models import RetentionRule


def test_the_bench_deletes_what_the_policy_reaches_and_rolls_it_all_back(world):
    old, recent = closed_case(world), closed_case(world, days=30)
    events = AuditEvent.objects.count()
    out = io.StringIO()
    call_command("bench", "retention", stdout=out)
    report = out.getvalue()
    assert "every class delete after 12 months" in report
    assert [line.split()[:2] for line in report.splitlines() if line.startswith("psychosocial")] == [["psychosocial", "1"]]
    # A year ahead the recent one is reached too.
    out = io.StringIO()
    call_command("bench", "retention", "--on", (timezone.localdate() + timedelta(days=365)).isoformat(), stdout=out)
    assert [line.split()[:2] for line in out.getvalue().splitlines() if line.startswith("psychosocial")] == [
        ["psychosocial", "2"]]
    assert set(Case.objects.values_list("pk", flat=True)) >= {old.pk, recent.pk}
    assert not RetentionRule.objects.exists() and AuditEvent.objects.count() == events


def test_a_rule_under_the_minimum_is_refused(world):
    with pytest.raises(CommandError, match="under the minimum"):
        call_command("bench", "retention", "--months", "6", stdout=io.StringIO())
