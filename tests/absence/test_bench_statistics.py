"""`tidsnok bench absence` measures the statistics computed, from an empty cache and from the cache,
and can measure them again on a database an earlier run left (--statistics-only)."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError


def test_the_statistics_are_measured_again_on_the_database_a_run_left(tmp_path):
    url = f"sqlite:///{tmp_path / 'bench.sqlite3'}"
    out = StringIO()
    call_command("bench", "absence", "--people", "20", "--no-reimport", "--database-url", url, stdout=out)
    assert "request served from the cache" in out.getvalue()
    again = StringIO()
    call_command("bench", "absence", "--statistics-only", "--database-url", url, stdout=again)
    text = again.getvalue()
    assert "episodes/s" not in text  # nothing imported
    assert "computed (no cache)" in text and "page from the cache" in text and "statistics / bare aggregate" in text


def test_statistics_only_needs_a_database():
    with pytest.raises(CommandError):
        call_command("bench", "absence", "--statistics-only", stdout=StringIO())
