"""Helpers for the case API tests: a JSON client per persona, and a fixed today.

Today is Wednesday 24 March 2027, the day before Maundy Thursday, so the
expected due dates below skip the Easter holidays."""

from datetime import date

import pytest
import time_machine


TODAY = date(2027, 3, 24)


@pytest.fixture(autouse=True)
def wednesday_before_easter():
    with time_machine.travel(TODAY, tick=False):
        yield




def workload_case(world, **changes) -> dict:
    """The seed's typical case: Emil told Marte he cannot keep up, on Monday 22 March."""
    body = {
        "kind": "psychosocial", "concerns": [world.emil.pk], "factors": ["workload"],
        "description": "Emil sier han ikke rekker arbeidsoppgavene.", "known_at": "2027-03-22",
        "source": "employee_told",
    }
    body.update(changes)
    return body


@pytest.fixture
def open_case(api, world):
    """Open a case through the API and return its JSON (asserting it was created)."""

    def _open(key="marte", **changes):
        response = api(key, "post", "/cases", workload_case(world, **changes))
        assert response.status_code == 201, response.content
        return response.json()

    return _open
