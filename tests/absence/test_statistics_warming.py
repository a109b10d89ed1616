"""The sweep keeps HR's whole-organisation statistics warm, so that HR in a large organisation
does not wait for a computation after every change of an episode."""

from datetime import date

import pytest

from tidsnok.absence import services, statistics
from tidsnok.cases import hooks
from tidsnok.notify.sweep import run_round

pytestmark = pytest.mark.usefixtures("statistics_day")


@pytest.fixture(autouse=True)
def only_the_statistics_upkeep(monkeypatch):
    # Other rooms' upkeep (the planner statistics) counts in `upkept` too; here only ours does.
    monkeypatch.setattr(hooks, "sweep_upkeep", [statistics.warm])


def test_after_marte_registers_an_absence_a_sweep_round_computes_what_hanne_will_ask_for(world, computed):
    services.register_episode(world.user("marte"), person=world.emil, start=date(2026, 11, 2),
                              end=date(2026, 11, 6), certified="self")
    stats = run_round("test-worker")
    assert stats.upkept == 1
    assert len(computed) == 1

    hanne = world.user("hanne")
    page = statistics.compute(hanne, world.org, *statistics.default_period())
    assert len(computed) == 1  # served from what the sweep computed
    fresh = statistics.compute(hanne, world.org, *statistics.default_period(), use_cache=False)
    assert statistics.as_csv(page) == statistics.as_csv(fresh)
    assert page.total.lost_days == 5


def test_a_round_without_changes_computes_nothing(world, computed):
    run_round("test-worker")
    assert run_round("test-worker").upkept == 0
    assert len(computed) == 1


def test_a_failing_upkeep_task_does_not_stop_the_round(world, monkeypatch):
    def broken(worker):
        raise RuntimeError("disk full")

    monkeypatch.setattr(hooks, "sweep_upkeep", [broken, *hooks.sweep_upkeep])
    stats = run_round("test-worker")
    assert stats.upkept == 1  # the statistics were still warmed
