"""`tidsnok retention apply [--dry-run [--on YYYY-MM-DD]]`: apply every organisation's retention
policy now and say per class what it did (or, with --dry-run, would do, today or on a later day).
The sweep applies it once a day anyway; this is for an operator who wants to see or force a run.
Safe to repeat: what is deleted is gone, and what is restricted is not restricted again."""

from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from tidsnok.org.models import Organisation
from tidsnok.retention import services
from tidsnok.retention.models import RetentionRule


class Command(BaseCommand):
    help = "Retention policy tools. `retention apply [--dry-run]` applies every organisation's rules now."

    def add_arguments(self, parser):
        subcommands = parser.add_subparsers(dest="subcommand", required=True, metavar="subcommand")
        apply = subcommands.add_parser(
            "apply", help="Delete or restrict what the organisations' retention rules reach today.",
            description="Apply each organisation's retention rules as of today, and print per class what was "
            "deleted or restricted. With --dry-run nothing changes: it prints what would be.",
        )
        apply.add_argument("--dry-run", action="store_true", help="Only count; change nothing.")
        apply.add_argument("--on", type=date.fromisoformat, default=None, metavar="YYYY-MM-DD",
                           help="With --dry-run: count what the rules would reach on this day (today or later), "
                           "to see what a new rule or the coming months will do.")

    def handle(self, *args, subcommand, dry_run=False, on=None, **options):
        today = timezone.localdate()
        if on is not None:
            # Applied for real, a later day would delete or restrict before the rules say so; an
            # earlier one would count what the sweep has already done.
            if not dry_run:
                raise CommandError("--on needs --dry-run: the rules are only ever applied as of today.")
            if on < today:
                raise CommandError(f"--on must be today or later, not {on:%d.%m.%Y}.")
            today = on
        org_ids = RetentionRule.objects.filter(months__isnull=False).values_list("organisation_id", flat=True)
        organisations = Organisation.objects.filter(pk__in=set(org_ids)).order_by("pk")
        if not organisations:
            self.stdout.write("No organisation has a retention rule: nothing to do.")
        for organisation in organisations:
            as_of = f", as of {today:%d.%m.%Y}" if on is not None else ""
            self.stdout.write(f"{organisation.name} ({organisation.org_number}){as_of}:")
            for outcome in services.apply(organisation, today, dry_run=dry_run):
                verb = {("delete", True): "would delete", ("delete", False): "deleted",
                        ("restrict", True): "would restrict", ("restrict", False): "restricted"}[
                    (outcome.mode, dry_run)]
                what = services.unit_of(outcome.data_class)
                self.stdout.write(
                    f"  {outcome.data_class}: {verb} {outcome.count} {what} "
                    f"(rule {outcome.months} months, before {outcome.cutoff:%d.%m.%Y})"
                )
