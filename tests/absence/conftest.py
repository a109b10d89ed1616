import pytest

from tidsnok.absence import statistics


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
