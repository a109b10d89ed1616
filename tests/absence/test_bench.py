"""`tidsnok bench absence`: what it generates and imports (figures come from the command, never from tests)."""

import random
from datetime import date, timedelta
from io import StringIO

from django.core.management import call_command

from tidsnok.absence import bench
from tidsnok.absence.importing import import_episodes, parse
from tidsnok.absence.models import Episode

TODAY = date(2026, 11, 26)
FIRST = TODAY - timedelta(days=365)


def _staff(n):
    return [bench.Staff(f"A{i:06d}", date(2010, 1, 1)) for i in range(1, n + 1)]


def test_the_same_seed_gives_the_same_year_of_absence():
    one = bench.generate_absence(_staff(200), FIRST, TODAY, random.Random(7))
    two = bench.generate_absence(_staff(200), FIRST, TODAY, random.Random(7))
    other = bench.generate_absence(_staff(200), FIRST, TODAY, random.Random(8))
    assert one == two and one != other


def test_the_year_looks_like_sick_leave_and_no_episodes_overlap():
    rows = bench.generate_absence(_staff(2000), FIRST, TODAY, random.Random(5))
    self_certified = [r for r in rows if r.certified == "egenmelding"]
    doctor = [r for r in rows if r.certified == "sykmelding"]
    assert len(self_certified) > len(doctor) > 0
    assert all(1 <= ((r.end or TODAY) - r.start).days + 1 <= 3 for r in self_certified)
    assert any(((r.end or TODAY) - r.start).days > 60 for r in doctor)  # a long tail
    assert any(r.grade == 50 for r in doctor) and any(r.work_related != "nei" for r in doctor)
    assert any(r.end is None for r in rows)  # some still going on
    assert all(FIRST <= r.start < TODAY for r in rows)
    by_person = {}
    for r in rows:
        by_person.setdefault(r.number, []).append(r)
    for episodes in by_person.values():
        for earlier, later in zip(episodes, episodes[1:]):
            assert earlier.end is not None and earlier.end < later.start


def test_the_csv_passes_the_importers_checks():
    rows = bench.generate_absence(_staff(50), FIRST, TODAY, random.Random(5))
    parsed, errors = parse(bench.as_csv(rows))
    assert errors == [] and len(parsed) == len(rows)


def test_the_organisation_is_imported_through_the_services_and_summed_by_the_floor(db):
    rng = random.Random(3)
    org, hr_user, staff, units, sectors = bench.build_organisation(60, rng)
    assert sum(1 for _ in staff) == 60 and units >= 2 and sectors == 1
    today = date.today()
    rows = bench.generate_absence(staff, today - timedelta(days=365), today, rng)
    result = import_episodes(hr_user, org, bench.as_csv(rows))
    assert result.ok, result.errors[:3]
    assert Episode.objects.filter(organisation=org).count() == len(rows)
    count, days = bench.bare_aggregate(org.pk, today - timedelta(days=365), today - timedelta(days=1))
    assert count == len(rows) and days > 0


def test_the_command_runs_in_a_throwaway_database(db):
    out = StringIO()
    call_command("bench", "absence", "--people", "20", "--no-reimport", stdout=out)
    text = out.getvalue()
    assert "episodes/s" in text and "statistics / bare aggregate" in text
    assert not Episode.objects.exists()  # nothing written to the test database
