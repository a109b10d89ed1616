"""`tidsnok audit verify`: recompute the audit chain and name the first bad event.
`tidsnok audit rotate-key`: move the chain to a new AUDIT_KEY (docs/deployment.md, Keys).

Exit status 0 when the chain holds, 1 when it does not, so cron or a monitoring
check can run it. When it holds, it writes a signed checkpoint at the head, from
which the case PDF's verification starts: run it daily, so that each PDF only
re-reads the events since then and the full recomputation is at most a day old.

Note the printed head hash somewhere outside the database (a ticket, a log
server): a chain can only prove that nothing before a head you wrote down has
changed, since someone who can rewrite the head row can also cut off the newest
events.
"""

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from tidsnok.audit.services import NothingToRotate, UnknownAuditKey, current_key_id, rotate_key, verify_chain

HASH_PREFIX = 16


def describe_failure(result) -> str:
    """One line naming the first bad event: seq, time, action and why."""
    event = result.bad_event
    if event is None:
        where = f"event {result.first_bad_seq} (not in the log)"
    else:
        when = timezone.localtime(event.time).strftime("%d.%m.%Y %H:%M:%S")
        where = f"event {event.seq} at {when}, action {event.action}"
    return f"FAILED after {result.checked} good events: {where}: {result.reason}"


class Command(BaseCommand):
    help = "Audit log tools. `audit verify` recomputes the hash chain and names the first event that does not match."

    def add_arguments(self, parser):
        subcommands = parser.add_subparsers(dest="subcommand", required=True, metavar="subcommand")
        subcommands.add_parser(
            "verify",
            help="Recompute the chain; exit 1 and name the first bad event if it does not match.",
            description="Recompute the hash chain over every audit event. Exit status 0 when it holds, 1 when not. "
            "When it holds, write a checkpoint that later incremental verifications (the case PDF) start from.",
        )

        subcommands.add_parser(
            "rotate-key",
            help="Move the chain to AUDIT_KEY, once every process has it and the old key in AUDIT_KEY_FALLBACKS.",
            description="Append the event that moves the audit chain to AUDIT_KEY: every later event is hashed "
            "with it, and a leak of the old key can no longer rewrite the events before. Keep the old key in "
            "AUDIT_KEY_FALLBACKS to verify those.",
        )

    def handle(self, *args, subcommand, **options):
        if subcommand == "verify":
            self.verify()
        elif subcommand == "rotate-key":
            self.rotate_key()

    def rotate_key(self):
        try:
            event = rotate_key()
        except NothingToRotate:
            raise CommandError(f"The chain is already at AUDIT_KEY (key {current_key_id()}): set the new key as "
                               "AUDIT_KEY and the old one in AUDIT_KEY_FALLBACKS first.")
        except UnknownAuditKey as error:
            raise CommandError(str(error))
        self.stdout.write(f"The chain moved from key {event.data['previous']} to key {event.data['key']} "
                          f"at event {event.seq}. Keep the old key in AUDIT_KEY_FALLBACKS to verify the "
                          "events before it.")

    def verify(self):
        result = verify_chain(checkpoint=True)
        if not result.ok:
            raise CommandError(describe_failure(result), returncode=1)
        self.stdout.write(f"OK: {result.checked} events, head {result.head_hash[:HASH_PREFIX]}")
        if result.saved_checkpoint is not None:
            self.stdout.write(f"checkpoint written at event {result.saved_checkpoint.seq}")
        current = current_key_id()
        if result.key_id and result.key_id != current:
            # Normal between setting a new AUDIT_KEY and `rotate-key`; otherwise the events
            # after a rotation may have been cut off and the chain continued with an older key.
            self.stdout.write(
                f"NOTE: the chain is at key {result.key_id}, not at AUDIT_KEY ({current}). Run "
                "`tidsnok audit rotate-key` once every process has AUDIT_KEY. If it was run before, "
                "the events after that rotation are missing."
            )
