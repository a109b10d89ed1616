"""Keeping the database's query planner informed, as part of the sweep's upkeep.

SQLite chooses among indexes from the statistics that ANALYZE stores in
sqlite_stat1, and never gathers them on its own. Without them it guesses, and at
50,000 employees it guessed badly: the calendar feed walked all 23,000 open
deadlines instead of the 300 cases its owner handles (100 ms instead of 10), the
compliance overview of a unit took 110 ms instead of 18. With `analysis_limit`
ANALYZE samples each index instead of reading it whole: about 40 ms for a 580 MB
database, so doing it every hour costs nothing worth measuring.

PostgreSQL's autovacuum keeps its own statistics up to date: nothing to do there.
"""

import logging
import time

from django.db import connection

log = logging.getLogger("tidsnok.notify")

EVERY_SECONDS = 3600
# Rows SQLite samples per index (its documented recommendation for periodic use is 100-1000).
ANALYSIS_LIMIT = 1000

_last_run: float | None = None  # per process: each sweep worker refreshes at most hourly


def analyze() -> None:
    """Refresh the planner statistics now: after `tidsnok generate` has written a whole
    organisation, and before `tidsnok bench load` measures (autovacuum may not have caught up)."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"PRAGMA analysis_limit={ANALYSIS_LIMIT}")
        cursor.execute("ANALYZE")


def refresh_statistics(worker: str = "") -> int:
    """Sweep upkeep: 1 when the statistics were refreshed in this round, else 0."""
    global _last_run
    if connection.vendor != "sqlite":
        return 0
    now = time.monotonic()
    if _last_run is not None and now - _last_run < EVERY_SECONDS:
        return 0
    analyze()
    _last_run = now
    log.debug("planner statistics refreshed")
    return 1
