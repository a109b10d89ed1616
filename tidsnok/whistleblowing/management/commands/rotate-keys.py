"""`tidsnok rotate-keys`: re-encrypt everything encrypted at rest under the first key
of ENCRYPTION_KEYS; `--check` only counts what is not yet under it.

Rotating keys (docs/security.md):
1. ENCRYPTION_KEYS="NEW,OLD" on every app server (restart them);
2. tidsnok rotate-keys   (in batches; may be stopped and run again);
3. tidsnok rotate-keys --check   (exits 1 while anything is still under OLD);
4. ENCRYPTION_KEYS="NEW" (restart again), and destroy OLD.
"""

from django.core.management.base import BaseCommand, CommandError

from tidsnok.audit.services import record
from tidsnok.whistleblowing import keys


class Command(BaseCommand):
    help = "Re-encrypt every encrypted value under the first key of ENCRYPTION_KEYS (--check: only count)."

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true",
                            help="Change nothing; exit with status 1 if any value is not under the first key.")
        parser.add_argument("--batch-size", type=int, default=keys.BATCH, help="Rows per transaction (default 500).")

    def handle(self, *args, check=False, batch_size=keys.BATCH, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        result = keys.rotate(check_only=check, batch=batch_size)
        for what in sorted(set(result.rotated) | set(result.current) | set(result.unreadable)):
            self.stdout.write(
                f"{what}: {result.current.get(what, 0)} under the first key, "
                f"{result.rotated.get(what, 0)} {'under an older key' if check else 're-encrypted'}, "
                f"{result.unreadable.get(what, 0)} unreadable"
            )
        if not check and result.total_rotated:
            record(None, "crypto.keys_rotated", None, {"values": result.total_rotated},
                   object_type="crypto", object_id="", role="system")
        if result.total_unreadable:
            raise CommandError(
                f"{result.total_unreadable} values cannot be read with any key in ENCRYPTION_KEYS: "
                "an old key was removed too early. Put it back (after the first key) and run again."
            )
        if check and result.total_rotated:
            raise CommandError(f"{result.total_rotated} values are still under an older key: run tidsnok rotate-keys.")
        self.stdout.write(self.style.SUCCESS(
            "Everything is under the first key." if check or not result.total_rotated
            else f"Re-encrypted {result.total_rotated} values under the first key."
        ))
