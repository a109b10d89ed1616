"""`tidsnok bench audit`: how fast the audit chain is written and verified.

Appends N events through `services.record`, each in its own transaction as real
use does, then verifies the whole chain, and compares the verify time with the
floor: a bare loop of HMAC-SHA256 over the same bytes, which no verifier can beat.
The full verify writes a checkpoint (as `tidsnok audit verify` does); then a
few more events are appended (--since-checkpoint, default 100) and the
incremental verification the case PDF uses is timed: its cost is those events,
not the whole log.

By default it runs in a new temporary SQLite database, so a benchmark never
writes 100,000 events into a real audit log (they could never be removed).
Settings, the database among them, are read from the environment when a
process starts, so another database means another process: the command starts
`tidsnok bench audit --configured-db` with DATABASE_URL pointing at it.
"""

import hashlib
import hmac
import os
import shutil
import subprocess
import sys
import tempfile
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from tidsnok.audit import chain, services

HELP = (
    "Append N audit events and verify the chain; prints events/s, the verify time against the HMAC floor, "
    "and the time of an incremental verification after a checkpoint."
)


def add_arguments(parser) -> None:
    parser.add_argument("--events", type=int, default=100_000, help="How many events to append (default 100000).")
    parser.add_argument(
        "--database-url",
        help="Run against this database (migrated first) instead of a new temporary SQLite file. "
        "Use a throwaway database: the events stay in its audit log.",
    )
    parser.add_argument(
        "--configured-db",
        action="store_true",
        help="Run against the database tidsnok is configured with (DATABASE_URL) in this process.",
    )
    parser.add_argument(
        "--since-checkpoint", type=int, default=100,
        help="How many events to append after the checkpoint before timing the incremental verification "
        "(default 100).",
    )
    parser.add_argument(
        "--append-only",
        action="store_true",
        help="Only append, without migrating or verifying: for running several writers at once "
        "(with --configured-db or --database-url).",
    )


def run(command, options: dict) -> None:
    events = options["events"]
    since = options["since_checkpoint"]
    if events < 0 or since < 0:
        raise CommandError("--events and --since-checkpoint must be 0 or more")
    if options["configured_db"]:
        bench_here(command, events, append_only=options["append_only"], since_checkpoint=since)
        return
    if options["database_url"]:
        run_in_child(command, options["database_url"], events, options["append_only"], since)
        return
    if options["append_only"]:
        raise CommandError(
            "--append-only needs --configured-db or --database-url: a temporary database would be thrown away unverified"
        )
    workdir = tempfile.mkdtemp(prefix="tidsnok-bench-")
    try:
        run_in_child(command, f"sqlite:///{os.path.join(workdir, 'bench.sqlite3')}", events, False, since)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def run_in_child(command, database_url: str, events: int, append_only: bool, since_checkpoint: int = 100) -> None:
    """Run the benchmark in a fresh `tidsnok` process configured for `database_url`,
    passing its output through as it comes."""
    args = [
        sys.executable, "-m", "tidsnok", "bench", "audit", "--events", str(events),
        "--since-checkpoint", str(since_checkpoint), "--configured-db",
    ]
    if append_only:
        args.append("--append-only")
    env = {**os.environ, "DATABASE_URL": database_url}
    with subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as child:
        for line in child.stdout:
            command.stdout.write(line, ending="")
    if child.returncode != 0:
        raise CommandError(f"the benchmark process failed with exit status {child.returncode}")


def _append(i: int) -> None:
    # Shaped like a real org change, including a free-text field that
    # services.mask replaces with a keyed fingerprint.
    services.record(
        None,
        "bench.person.changed",
        data={
            "employee_number": f"B{i:06d}",
            "unit": i % 40,
            "changed": ["position", "unit"],
            "comment": "Flyttet til ny enhet etter omorganiseringen",
        },
        object_type="bench.person",
        object_id=str(i),
    )


def _rate(count: int, seconds: float) -> str:
    return f"{count / seconds:,.0f} events/s" if seconds > 0 else "-"


def bench_here(command, events: int, append_only: bool, since_checkpoint: int = 100) -> None:
    out = command.stdout
    engine = f"{connection.vendor} ({connection.settings_dict['NAME']})"
    if not append_only:
        call_command("migrate", verbosity=0, interactive=False)
    out.write(f"audit bench on {engine}: appending {events} events, each in its own transaction")

    started = time.perf_counter()
    for i in range(events):
        _append(i)
    append_seconds = time.perf_counter() - started
    out.write(f"append: {events} events in {append_seconds:.2f} s = {_rate(events, append_seconds)}")
    if append_only:
        return

    started = time.perf_counter()
    result = services.verify_chain(checkpoint=True)
    verify_seconds = time.perf_counter() - started
    if not result.ok:
        raise CommandError(f"the chain does not verify: event {result.first_bad_seq}: {result.reason}")
    out.write(
        f"verify: {result.checked} events in {verify_seconds:.2f} s = {_rate(result.checked, verify_seconds)}"
        f" (OK, head {result.head_hash[:16]})"
    )

    # The floor: the same HMAC over the same bytes, with the reading, decoding
    # and canonical JSON that verify needs already done.
    key = settings.AUDIT_KEY.encode()
    messages = [prev_hash.encode() + chain.canonical(body) for _seq, body, prev_hash, _hash in services.chain_rows()]
    started = time.perf_counter()
    for message in messages:
        hmac.new(key, message, hashlib.sha256).hexdigest()
    floor_seconds = time.perf_counter() - started
    out.write(
        f"floor:  bare HMAC-SHA256 over the same {len(messages)} canonical events in {floor_seconds:.3f} s"
        f" = {_rate(len(messages), floor_seconds)}"
    )
    if floor_seconds > 0:
        out.write(f"verify / floor: {verify_seconds / floor_seconds:.1f}x")

    # What a case PDF pays: the events since the last checkpoint, not the log.
    checkpoint_seq = result.head_seq
    for i in range(events, events + since_checkpoint):
        _append(i)
    started = time.perf_counter()
    incremental = services.verify_since_checkpoint()
    incremental_seconds = time.perf_counter() - started
    if not incremental.ok:
        raise CommandError(
            f"the chain does not verify from the checkpoint: event {incremental.first_bad_seq}: {incremental.reason}"
        )
    out.write(
        f"incremental: {incremental.checked} events after the checkpoint at event {checkpoint_seq}"
        f" in {incremental_seconds * 1000:.1f} ms (OK, head {incremental.head_seq};"
        f" full verify of {result.checked} events: {verify_seconds:.2f} s)"
    )
