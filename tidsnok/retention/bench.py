"""`tidsnok bench retention`: how long applying a retention policy takes on the configured database.

It sets one rule (--months, --mode) for every class of the largest organisation (or
--organisation) and applies the policy as of --on, all inside one transaction that is rolled
back, so the database is left as it was (use a copy all the same: the run takes the write lock).
A day ahead of today reaches what the policy will reach then: on a generated year of history,
`--on` a year ahead reaches most of it, as the first run of a new policy at a large employer
would. Per class it prints how many items were reached, the time, the rate, and the longest
batch: on SQLite every other writer waits that long.
"""

import time
from datetime import date

from django.core.management.base import CommandError
from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone

from tidsnok.org.models import Organisation
from tidsnok.retention import services
from tidsnok.retention.models import DataClass, Mode, RetentionRule

HELP = "Time a retention run (one rule for every class) on the configured database, rolled back afterwards."


def add_arguments(parser):
    parser.add_argument("--on", type=date.fromisoformat, default=None,
                        help="Apply the policy as of this day, YYYY-MM-DD (default today).")
    parser.add_argument("--months", type=int, default=services.MINIMUM_MONTHS,
                        help=f"Each class's rule (default {services.MINIMUM_MONTHS}; not under its minimum).")
    parser.add_argument("--mode", choices=Mode.values, default=Mode.DELETE.value, help="Delete (default) or restrict.")
    parser.add_argument("--organisation", default=None, help="Name of the organisation (default: the largest).")


def _organisation(name):
    organisations = Organisation.objects.annotate(people_count=Count("people"))
    if name:
        organisation = organisations.filter(name=name).first()
        if organisation is None:
            raise CommandError(f"No organisation named {name!r}.")
        return organisation
    organisation = organisations.order_by("-people_count", "pk").first()
    if organisation is None:
        raise CommandError("The database has no organisation: run `tidsnok generate` first.")
    return organisation


def run(command, options):
    out = command.stdout
    organisation = _organisation(options["organisation"])
    on = options["on"] or timezone.localdate()
    months, mode = options["months"], options["mode"]
    for data_class in DataClass.values:
        least = services.minimum_months(organisation, data_class)
        if months < least:
            raise CommandError(f"--months {months} is under the minimum of {data_class} ({least} months).")
    out.write(f"retention bench on {connection.vendor}, «{organisation.name}» ({organisation.people_count} people): "
              f"every class {mode} after {months} months, as of {on:%d.%m.%Y} (cutoff "
              f"{services.cutoff_of(on, months):%d.%m.%Y}); one transaction, rolled back")
    batches: dict[str, list[tuple[int, float]]] = {}
    with transaction.atomic():
        for data_class in DataClass.values:
            RetentionRule.objects.update_or_create(organisation=organisation, data_class=data_class,
                                                   defaults={"months": months, "mode": mode})
        began = time.perf_counter()
        outcomes = services.apply(organisation, on, on_batch=lambda data_class, count, seconds: batches.setdefault(
            data_class, []).append((count, seconds)))
        total = time.perf_counter() - began
        transaction.set_rollback(True)
    out.write(f"\n{'class':16} {'reached':>8} {'batches':>8} {'seconds':>8} {'items/s':>8} {'longest batch ms':>17}")
    for outcome in outcomes:
        rows = batches.get(outcome.data_class, [])
        seconds = sum(s for _c, s in rows)
        rate = f"{outcome.count / seconds:8.0f}" if seconds else f"{'-':>8}"
        longest = f"{max(s for _c, s in rows) * 1000:17.0f}" if rows else f"{'-':>17}"
        out.write(f"{outcome.data_class:16} {outcome.count:8d} {len(rows):8d} {seconds:8.2f} {rate} {longest}")
    out.write(f"\nin all {total:.2f} s, including the selection of each class; nothing was kept (rolled back)")
