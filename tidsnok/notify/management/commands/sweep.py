"""`tidsnok sweep`: send what is due now and exit; `--loop` keeps going.

Any number of sweep processes may run against the same database (see
tidsnok/notify/sweep.py for how they share the work without doing it twice).
SIGTERM or SIGINT (Ctrl-C) lets the round in progress finish, then stops.
"""

import logging
import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections

from tidsnok.notify.sweep import default_worker, run_round

log = logging.getLogger("tidsnok.notify")


class Command(BaseCommand):
    help = "Send due reminders, escalations, digests and queued e-mails; --loop keeps going until stopped."

    def add_arguments(self, parser):
        parser.add_argument("--loop", action="store_true", help="Keep going: a round, a pause, a round, ...")
        parser.add_argument(
            "--interval", type=float, default=None,
            help="Seconds between rounds with --loop (default TIDSNOK_SWEEP_INTERVAL, 60).",
        )
        parser.add_argument("--worker", default=None, help="Name of this worker in claims and logs (default host:pid).")

    def handle(self, *args, loop=False, interval=None, worker=None, **options):
        interval = settings.TIDSNOK_SWEEP_INTERVAL if interval is None else interval
        if interval <= 0:
            raise CommandError("--interval must be more than 0")
        worker = worker or default_worker()
        stop = threading.Event()
        if loop:
            def _stop(signum, frame):
                log.info("sweep %s: stopping after this round (signal %s)", worker, signum)
                stop.set()

            signal.signal(signal.SIGTERM, _stop)
            signal.signal(signal.SIGINT, _stop)
            log.info("sweep %s: running every %s s", worker, interval)
        while True:
            try:
                stats = run_round(worker)
            except Exception:
                if not loop:
                    raise
                log.exception("sweep %s: round failed; trying again in %s s", worker, interval)
            else:
                if stats or not loop:
                    self.stdout.write(f"sweep {worker}: {stats.line()}")
            finally:
                close_old_connections()
            if not loop or stop.wait(interval):
                break
