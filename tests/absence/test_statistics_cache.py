"""The sick-leave statistics are cached per scope and period, and never stale: every change,
through the services, of what they are computed from (episodes, grades, people, units, closed
days) is seen by the next request. Who may see what is decided before the cache is looked at."""

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tidsnok.absence import services, statistics
from tidsnok.access.policy import AccessDenied
from tidsnok.cases import services as case_services
from tidsnok.cases.models import Kind, Source
from tidsnok.deadlines.services import add_closed_day
from tidsnok.org import services as org_services
from tidsnok.org.models import User

FIRST, LAST = date(2026, 11, 1), date(2026, 11, 30)

pytestmark = pytest.mark.usefixtures("statistics_day")


@pytest.fixture(autouse=True)
def every_scope_cached(monkeypatch):
    """The personas' scopes are a handful of people, below the size worth caching: cache them all here."""
    monkeypatch.setattr(statistics, "SMALL_SCOPE_PEOPLE", -1)


def _figures(stats):
    return statistics.as_csv(stats)


def _hj(stats):
    """The cells of Hjemmetjenesten (5 people: shown on its own)."""
    return [row.cell for row in stats.rows if row.unit_name == "Hjemmetjenesten"]


def _register(world, **kwargs):
    defaults = {"person": world.emil, "start": date(2026, 11, 2), "end": date(2026, 11, 6), "certified": "self"}
    return services.register_episode(world.user("marte"), **{**defaults, **kwargs})


def test_a_second_request_is_served_from_the_cache(world, computed):
    _register(world)
    hanne = world.user("hanne")
    with CaptureQueriesContext(connection) as cold:
        first = statistics.compute(hanne, world.org, FIRST, LAST)
    with CaptureQueriesContext(connection) as warm:
        second = statistics.compute(hanne, world.org, FIRST, LAST)
    assert len(computed) == 1
    assert len(warm.captured_queries) < len(cold.captured_queries)
    assert not any("absence_gradeperiod\".\"grade\"" in q["sql"] for q in warm.captured_queries)
    assert _figures(second) == _figures(first) == _figures(statistics.compute(hanne, world.org, FIRST, LAST,
                                                                              use_cache=False))
    assert second.total.lost_days == first.total.lost_days == 5
    assert second.trend() == first.trend()


def test_a_new_episode_changes_the_figures_of_the_next_request(world, computed):
    hanne = world.user("hanne")
    before = statistics.compute(hanne, world.org, FIRST, LAST)
    _register(world)
    after = statistics.compute(hanne, world.org, FIRST, LAST)
    assert len(computed) == 2
    assert before.total.lost_days == 0 and after.total.lost_days == 5


def test_a_changed_episode_changes_the_figures_of_the_next_request(world):
    episode = _register(world)
    hanne = world.user("hanne")
    assert statistics.compute(hanne, world.org, FIRST, LAST).total.lost_days == 5
    episode = services.update_episode(world.user("marte"), episode, episode.version, end=date(2026, 11, 3))
    assert statistics.compute(hanne, world.org, FIRST, LAST).total.lost_days == 2
    services.update_episode(world.user("marte"), episode, episode.version, certified="doctor")
    stats = statistics.compute(hanne, world.org, FIRST, LAST)
    assert stats.total.self_days == 0 and stats.total.doctor_days == 2


def test_a_changed_grade_changes_the_figures_of_the_next_request(world):
    episode = _register(world, start=date(2026, 11, 2), end=date(2026, 11, 13), certified="doctor")
    hanne = world.user("hanne")
    assert statistics.compute(hanne, world.org, FIRST, LAST).total.lost_days == 10
    services.set_grade(world.user("marte"), episode, episode.version, from_date=date(2026, 11, 9), grade=50)
    assert statistics.compute(hanne, world.org, FIRST, LAST).total.lost_days == 7.5
    episode.refresh_from_db()
    services.set_grade(world.user("marte"), episode, episode.version, from_date=date(2026, 11, 9), grade=20)
    assert statistics.compute(hanne, world.org, FIRST, LAST).total.lost_days == pytest.approx(6)


def test_an_absence_marked_work_related_changes_the_figures_of_the_next_request(world):
    episode = _register(world)
    hanne = world.user("hanne")
    assert statistics.compute(hanne, world.org, FIRST, LAST).total.work_related_days == 0
    services.mark_work_related(world.user("marte"), episode, episode.version, level="fully")
    assert statistics.compute(hanne, world.org, FIRST, LAST).total.work_related_days == 5


def test_a_change_that_is_not_an_absence_keeps_the_cached_figures(world, computed):
    # The episodes' part of the fingerprint is the newest audit event of an episode change:
    # an entry on a case is audited too, and must not cost HR a recomputation.
    _register(world)
    hanne = world.user("hanne")
    statistics.compute(hanne, world.org, FIRST, LAST)
    case_services.open_case(world.user("marte"), kind=Kind.PSYCHOSOCIAL, concerns=[world.ella], factors=["workload"],
                            description="Bekymring.", source=Source.OBSERVED, known_at=date(2026, 11, 20))
    statistics.compute(hanne, world.org, FIRST, LAST)
    assert len(computed) == 1


def test_a_changed_position_percentage_changes_the_figures_of_the_next_request(world):
    _register(world)
    hanne = world.user("hanne")
    before = statistics.compute(hanne, world.org, FIRST, LAST)
    org_services.save_person(world.user("ada"), world.org, world.emil.employee_number, position_percent=50)
    after = statistics.compute(hanne, world.org, FIRST, LAST)
    # Emil's 5 days now weigh half, and so do his 21 possible working days in November.
    assert after.total.lost_days == pytest.approx(2.5)
    assert after.total.possible_days == pytest.approx(before.total.possible_days - 21 * 0.5)


def test_a_person_moved_to_another_unit_changes_the_figures_of_the_next_request(world):
    _register(world)
    hanne = world.user("hanne")
    assert sum(cell.lost_days for cell in _hj(statistics.compute(hanne, world.org, FIRST, LAST))) == 5
    org_services.save_person(world.user("ada"), world.org, world.emil.employee_number, unit_id=world.units["SK"].pk)
    stats = statistics.compute(hanne, world.org, FIRST, LAST)
    assert sum(cell.lost_days for cell in _hj(stats)) == 0
    assert stats.total.lost_days == 5  # still in the organisation: now counted in Skole's branch


def test_a_person_hired_changes_the_figures_of_the_next_request(world):
    _register(world)
    hanne = world.user("hanne")
    before = statistics.compute(hanne, world.org, FIRST, LAST)
    org_services.save_person(world.user("ada"), world.org, "N900", name="Nora Ny", email="nora@tidsnok.test",
                             unit_id=world.units["HJ"].pk, position="Helsefagarbeider", position_percent=100,
                             start_date=date(2026, 11, 1))
    after = statistics.compute(hanne, world.org, FIRST, LAST)
    assert after.total.possible_days == pytest.approx(before.total.possible_days + 21)  # her November
    assert after.total.lost_days == before.total.lost_days == 5


def test_a_unit_moved_in_the_tree_changes_the_figures_of_the_next_request(world):
    _register(world)

    def helga():  # manager of Helse og omsorg, as each request reads her: her scope is per request
        return User.objects.get(pk=world.user("helga").pk)

    assert statistics.compute(helga(), world.org, FIRST, LAST).total.lost_days == 5
    org_services.save_unit(world.user("ada"), world.org, "HJ", "Hjemmetjenesten", world.units["SK"])
    assert statistics.compute(helga(), world.org, FIRST, LAST).total.lost_days == 0
    assert statistics.compute(world.user("hanne"), world.org, FIRST, LAST).total.lost_days == 5


def test_a_closed_day_changes_the_figures_of_the_next_request(world):
    _register(world)
    hanne = world.user("hanne")
    before = statistics.compute(hanne, world.org, FIRST, LAST)
    add_closed_day(hanne, world.org, date(2026, 11, 4), "Stengt")
    after = statistics.compute(hanne, world.org, FIRST, LAST)
    assert after.total.lost_days == 4
    assert after.total.possible_days < before.total.possible_days


def test_a_renamed_unit_is_seen_by_the_next_request(world):
    hanne = world.user("hanne")
    assert "Hjemmetjenesten" in {row.unit_name for row in statistics.compute(hanne, world.org, FIRST, LAST).rows}
    org_services.save_unit(world.user("ada"), world.org, "HJ", "Hjemmebaserte tjenester", world.units["HEL"])
    names = {row.unit_name for row in statistics.compute(hanne, world.org, FIRST, LAST).rows}
    assert "Hjemmebaserte tjenester" in names and "Hjemmetjenesten" not in names


def test_the_cache_key_holds_the_scope_and_one_scope_never_serves_another(world, computed):
    _register(world)
    hanne, helga, marte = world.user("hanne"), world.user("helga"), world.user("marte")
    keys = {statistics.cache_key(user, world.org, FIRST, LAST) for user in (hanne, helga, marte)}
    assert len(keys) == 3
    everything = statistics.compute(hanne, world.org, FIRST, LAST)
    helse = statistics.compute(helga, world.org, FIRST, LAST)
    hjemme = statistics.compute(marte, world.org, FIRST, LAST)
    assert len(computed) == 3  # each scope computed its own
    assert {row.unit_name for row in hjemme.rows} == {"Hjemmetjenesten"}
    assert "Skole" not in {row.unit_name for row in helse.rows}
    assert _figures(everything) != _figures(hjemme)
    # The same scope and period again: from the cache, and the same figures as computed.
    for user, stats in ((hanne, everything), (helga, helse), (marte, hjemme)):
        assert _figures(statistics.compute(user, world.org, FIRST, LAST)) == _figures(stats)
        assert _figures(statistics.compute(user, world.org, FIRST, LAST, use_cache=False)) == _figures(stats)
    assert len(computed) == 3 + 3  # the three uncached ones only
    # A chosen unit is its own entry too.
    assert statistics.cache_key(hanne, world.org, FIRST, LAST, world.units["HJ"]) not in keys


def test_access_is_checked_before_the_cache(world):
    hanne = world.user("hanne")
    statistics.compute(hanne, world.org, FIRST, LAST)  # warm: the whole organisation
    statistics.compute(hanne, world.org, FIRST, LAST, world.units["SK"])  # warm: Skole
    with pytest.raises(AccessDenied):
        statistics.compute(world.user("emil"), world.org, FIRST, LAST)
    with pytest.raises(AccessDenied):
        statistics.compute(world.user("marte"), world.org, FIRST, LAST, world.units["SK"])


def test_the_statistics_page_is_served_from_the_cache_with_the_same_figures(world, client, computed):
    _register(world)
    client.force_login(world.user("helga"))
    url = "/sykefravaer/statistikk/?start=2026-11-01&end=2026-11-30"
    with CaptureQueriesContext(connection) as cold:
        first = client.get(url)
    with CaptureQueriesContext(connection) as warm:
        second = client.get(url)
    assert first.status_code == second.status_code == 200
    assert len(computed) == 1
    assert len(warm.captured_queries) < len(cold.captured_queries)
    assert _main(first) == _main(second)  # (the page's nonce differs, the figures do not)
    assert "Hjemmetjenesten" in _main(second)


def _main(response) -> str:
    text = response.content.decode()
    return text[text.index("<main"):text.index("</main>")]


def test_a_small_scope_is_computed_each_time_without_the_fingerprint(world, computed, monkeypatch):
    monkeypatch.setattr(statistics, "SMALL_SCOPE_PEOPLE", 100)
    fingerprints = []
    real = statistics.data_fingerprint
    monkeypatch.setattr(statistics, "data_fingerprint", lambda: fingerprints.append(True) or real())
    _register(world)
    marte = world.user("marte")
    first = statistics.compute(marte, world.org, FIRST, LAST)
    second = statistics.compute(marte, world.org, FIRST, LAST)
    assert len(computed) == 2 and fingerprints == []
    assert _figures(first) == _figures(second)
    # A unit of more people than that is: Hjemmetjenesten's 5 people against a limit of 4.
    monkeypatch.setattr(statistics, "SMALL_SCOPE_PEOPLE", 4)
    statistics.compute(marte, world.org, FIRST, LAST)
    statistics.compute(marte, world.org, FIRST, LAST)
    assert len(computed) == 3 and len(fingerprints) == 2
    # The whole organisation is worth the cache whatever its size.
    hanne = world.user("hanne")
    monkeypatch.setattr(statistics, "SMALL_SCOPE_PEOPLE", 10_000)
    statistics.compute(hanne, world.org, FIRST, LAST)
    statistics.compute(hanne, world.org, FIRST, LAST)
    assert len(computed) == 4


def test_a_worker_keeps_the_figures_it_read_and_still_sees_every_change(world, computed, monkeypatch):
    """The shared cache's entry is read once per worker while nothing changes; a change made through
    another server (here: the same database, the worker's own copy untouched) is seen at once."""
    _register(world)
    hanne = world.user("hanne")
    reads = []
    real_get = statistics.cache.get
    monkeypatch.setattr(statistics.cache, "get", lambda key, *args: reads.append(key) or real_get(key, *args))
    first = statistics.compute(hanne, world.org, FIRST, LAST)
    statistics._RECENT.clear()  # another worker: it has only the shared cache
    second = statistics.compute(hanne, world.org, FIRST, LAST)
    third = statistics.compute(hanne, world.org, FIRST, LAST)
    assert len(computed) == 1 and len(reads) == 2  # the computing request and the other worker's first
    assert _figures(first) == _figures(second) == _figures(third)

    _register(world, start=date(2026, 11, 16), end=date(2026, 11, 17))
    fourth = statistics.compute(hanne, world.org, FIRST, LAST)
    assert len(computed) == 2
    assert fourth.total.lost_days == third.total.lost_days + 2


def test_a_worker_holds_only_the_last_few_entries(world, computed):
    _register(world)
    hanne = world.user("hanne")
    periods = [(date(2026, month, 1), date(2026, month, 28)) for month in range(1, 12)]
    for first, last in periods:
        statistics.compute(hanne, world.org, first, last)
    assert len(statistics._RECENT) == statistics.RECENT_ENTRIES
    assert statistics.cache_key(hanne, world.org, *periods[-1]) in statistics._RECENT
    assert statistics.cache_key(hanne, world.org, *periods[0]) not in statistics._RECENT
