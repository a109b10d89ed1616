"""The retention class of risk assessments: an assessment a newer one of the same unit replaced
long enough ago is deleted with everything hanging on it, or restricted to HR in scope. The
unit's latest completed assessment and drafts are never reached."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from tests.conftest import enrol_totp
from tests.risk.test_services import ready_to_complete
from tidsnok.access.policy import visible
from tidsnok.audit.models import AuditEvent
from tidsnok.audit.services import verify_chain
from tidsnok.notify.models import Mail, Notification
from tidsnok.retention import services
from tidsnok.retention.models import RetentionRule
from tidsnok.risk import services as risk_services
from tidsnok.risk import survey as surveys
from tidsnok.risk.models import Action, Assessment, Comment, Invitation, Participant, Risk, Survey


def today():
    return timezone.localdate()


def completed(world, *, months_ago: int, title: str, with_survey=False):
    """A completed assessment of Hjemmetjenesten, with a register, a measure Ella owns (she is
    told of it), participants and a comment, moved `months_ago` months back."""
    marte = world.user("marte")
    assessment = risk_services.start_assessment(marte, world.units["HJ"], title=title, method="workshop",
                                                started_on=today())
    if with_survey:
        surveys.open_survey(marte, assessment, closes_on=today() + timedelta(days=7), threshold=3)
    assessment = ready_to_complete(world, assessment)
    risk_services.add_comment(world.user("emil"), assessment, "Vi må snakke om kveldene.")
    if with_survey:
        Survey.objects.filter(assessment=assessment).update(closes_on=today() - timedelta(days=1))
    assessment.refresh_from_db()
    risk_services.complete(marte, assessment, assessment.version, summary="Tiltak avtalt.")
    back = timedelta(days=months_ago * 31)
    Assessment.objects.filter(pk=assessment.pk).update(
        started_on=today() - back, completed_on=today() - back, review_due=today() - back + timedelta(days=365))
    return Assessment.objects.get(pk=assessment.pk)


@pytest.fixture
def rounds(world):
    """Three rounds of Hjemmetjenesten: completed 30, 20 and 2 months ago, and a draft."""
    oldest = completed(world, months_ago=30, title="Kartlegging 2024", with_survey=True)
    middle = completed(world, months_ago=20, title="Kartlegging 2025")
    latest = completed(world, months_ago=2, title="Kartlegging 2026")
    draft = risk_services.start_assessment(world.user("marte"), world.units["HJ"], title="Utkast", method="survey",
                                           started_on=today())
    return oldest, middle, latest, draft


def set_rule(world, months=12, mode="delete"):
    rule = RetentionRule.objects.filter(organisation=world.org, data_class="risk").first()
    return services.set_rule(world.user("ada"), world.org, "risk", months=months, mode=mode,
                             version=rule.version if rule else 0)


def test_only_an_assessment_replaced_before_the_cutoff_is_reached(world, rounds):
    oldest, middle, latest, draft = rounds
    cutoff = services.cutoff_of(today(), 12)
    # The oldest was replaced 20 months ago, the middle one 2 months ago; the latest and the
    # draft have no successor.
    assert services.select(world.org, "risk", "delete", cutoff, today()) == [oldest.pk]
    assert services.select(world.org, "risk", "delete", services.cutoff_of(today(), 1), today()) == [
        oldest.pk, middle.pk]
    assert latest.pk not in services.select(world.org, "risk", "delete", today() + timedelta(days=1), today())
    assert draft.pk not in services.select(world.org, "risk", "delete", today() + timedelta(days=1), today())


def test_delete_removes_the_assessment_with_everything_and_the_chain_still_verifies(world, rounds):
    oldest, middle, *_ = rounds
    assert Notification.objects.filter(kind="risk_action", data__assessment_id=oldest.pk).exists()
    assert Mail.objects.filter(kind="risk_survey", data__assessment_id=oldest.pk).exists()
    set_rule(world)
    [outcome] = services.apply(world.org, today())
    assert (outcome.data_class, outcome.count) == ("risk", 1)
    assert not Assessment.objects.filter(pk=oldest.pk).exists()
    for model in (Risk, Action, Participant, Comment, Survey):
        assert not model.objects.filter(assessment_id=oldest.pk).exists(), model
    assert not Invitation.objects.filter(survey__assessment_id=oldest.pk).exists()
    assert not Notification.objects.filter(data__assessment_id=oldest.pk).exists()
    assert not Mail.objects.filter(data__assessment_id=oldest.pk).exists()
    # The next round keeps all of its own.
    assert Action.objects.filter(assessment=middle).count() == 1
    assert Notification.objects.filter(kind="risk_action", data__assessment_id=middle.pk).exists()
    event = AuditEvent.objects.filter(action="retention.applied").get()
    assert event.data == {"class": "risk", "mode": "delete", "months": 12,
                          "cutoff": services.cutoff_of(today(), 12).isoformat(), "count": 1, "ids": [oldest.pk]}
    assert verify_chain().ok
    # Applied again: nothing more.
    assert services.apply(world.org, today())[0].count == 0


def test_restrict_leaves_it_to_hr_in_scope_and_nobody_changes_it(world, rounds, client):
    oldest, middle, *_ = rounds
    set_rule(world, mode="restrict")
    assert services.apply(world.org, today())[0].count == 1
    oldest.refresh_from_db()
    assert oldest.restricted_at is not None
    readers = {name for name in ("marte", "dina", "helga", "emil", "ella", "siri", "ask", "hanne", "hugo", "kim")
               if visible(world.user(name), Assessment).filter(pk=oldest.pk).exists()}
    assert readers == {"hanne", "hugo"}
    # The next round is still read as before.
    assert visible(world.user("emil"), Assessment).filter(pk=middle.pk).exists()
    assert not visible(world.user("hanne"), Assessment, "edit").filter(pk=oldest.pk).exists()
    with pytest.raises(ValidationError):
        risk_services.add_comment(world.user("hanne"), oldest, "Et spørsmål.")
    # Ella's measure of it is no longer hers to follow up, nor reminded.
    assert not risk_services.open_actions_of(world.ella).filter(assessment=oldest).exists()
    assert risk_services.open_actions_of(world.ella).filter(assessment=middle).exists()

    client.force_login(world.user("marte"))
    assert client.get(f"/risiko/{oldest.pk}/").status_code == 404
    enrol_totp(world.user("hanne"))
    client.force_login(world.user("hanne"))
    page = client.get(f"/risiko/{oldest.pk}/", HTTP_ACCEPT_LANGUAGE="nb").content.decode()
    assert "Begrenset av oppbevaringsreglene" in page
    assert 'id="kommentar"' not in page
    # Restricted once: not selected again.
    assert services.apply(world.org, today())[0].count == 0


def test_the_policy_page_explains_the_class_and_previews_it(world, rounds, client):
    set_rule(world)
    enrol_totp(world.user("ada"))
    client.force_login(world.user("ada"))
    page = client.get("/oppbevaring/", HTTP_ACCEPT_LANGUAGE="nb").content.decode()
    assert "Risikovurderinger som er erstattet av en nyere" in page
    assert "Neste kjøring ville slettet 1 risikovurdering." in page
