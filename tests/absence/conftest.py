from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from tidsnok.absence import statistics

# The statistics tests' today: 3 December 2026, 10:00 in Oslo, with November a whole month behind.
STATISTICS_DAY = datetime(2026, 12, 3, 10, 0, tzinfo=ZoneInfo("Europe/Oslo"))


@pytest.fixture
def statistics_day():
    """The clock stands at STATISTICS_DAY."""
    with time_machine.travel(STATISTICS_DAY, tick=False):
        yield


@pytest.fixture
def computed(monkeypatch):
    """Counts the computations (as opposed to answers from the cache)."""
    calls = []
    real = statistics._compute

    def counting(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(statistics, "_compute", counting)
    return calls
