"""Why a deadline is no longer required is worded when it is shown, in the reader's language:
whoever's change made the rules decide it, in whichever language, leaves the same row."""

from datetime import date, timedelta

import pytest
import time_machine
from django.utils import translation

from tidsnok.cases import services
from tidsnok.cases.models import Deadline, DeadlineStatus, Kind, MeasureKind, MeasureStatus, Source

TODAY = date(2027, 2, 1)


@pytest.fixture(autouse=True)
def frozen_monday():
    with time_machine.travel(TODAY, tick=False):
        yield


@pytest.fixture
def cancelled(world):
    """A case whose measure Marte cancelled while her session was in English."""
    case = services.open_case(world.user("marte"), kind=Kind.PSYCHOSOCIAL, concerns=[world.emil],
                              description="Bekymring.", source=Source.OBSERVED, known_at=TODAY)
    measure = services.add_measure(world.user("marte"), case, what="Kurs", kind=MeasureKind.INDIVIDUAL,
                                   owner=world.marte, due=TODAY + timedelta(days=7))
    with translation.override("en"):
        services.update_measure(world.user("marte"), measure, measure.version,
                                status=MeasureStatus.CANCELLED, cancel_reason="Ikke lenger aktuelt")
    return case, case.deadlines.get(rule_id="psychosocial.measure_follow_up", measure=measure)


def test_the_reason_is_in_the_language_of_whoever_reads_it(cancelled):
    _case, follow_up = cancelled
    assert follow_up.status == DeadlineStatus.NOT_REQUIRED
    with translation.override("nb"):
        assert follow_up.reason() == "Ikke lenger nødvendig etter reglene for denne saken."
    with translation.override("en"):
        assert follow_up.reason() == "No longer required by the rules for this case."


def test_a_recompute_in_another_language_leaves_the_row_alone(world, cancelled):
    case, follow_up = cancelled
    version = services.deadlines_version(case.organisation_id)
    with translation.override("nb"), time_machine.travel(TODAY + timedelta(days=1), tick=False):
        services.recompute_deadlines(case)
    again = Deadline.objects.get(pk=follow_up.pk)
    assert again.updated_at == follow_up.updated_at
    assert services.deadlines_version(case.organisation_id) == version


def test_the_case_page_and_the_api_word_it_for_their_reader(world, client, cancelled):
    case, _follow_up = cancelled
    client.force_login(world.user("marte"))
    page = client.get(f"/saker/{case.pk}/", HTTP_ACCEPT_LANGUAGE="nb").content.decode()
    assert "Ikke lenger nødvendig etter reglene for denne saken." in page
    assert "No longer required by the rules" not in page


def test_a_waiver_keeps_the_words_of_whoever_waived_it(world, cancelled):
    from tests.conftest import enrol_totp

    case, _follow_up = cancelled
    enrol_totp(world.user("hanne"))
    deadline = case.deadlines.filter(status=DeadlineStatus.OPEN, expected_event=False).first()
    waived = services.waive_deadline(world.user("hanne"), deadline, "Avtalt med verneombudet.")
    for language in ("nb", "en"):
        with translation.override(language):
            assert waived.reason() == "Avtalt med verneombudet."
