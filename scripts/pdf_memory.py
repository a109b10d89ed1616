"""Memory and time of case PDF exports in one process, typst in a child or in-process.

Usage (from the repository root):
    .venv/bin/python scripts/pdf_memory.py [--in-process] [--count 30] [--entries 200]

Builds the test organisation (tests/conftest.py) in a fresh SQLite database in a
temporary directory, one case with --entries notes, and exports it --count
times with `export_case_pdf` (the whole export: reading the case, verifying the
audit chain, typesetting, the audit event). Prints this process's resident memory
(VmRSS, Linux) before the first PDF and after the 1st, 10th, 20th, ... and last, the
median time per export and per typesetting, the CPU time per export (this
process and its children), and the largest resident memory of
a typesetting child.

--in-process typesets with `typst.compile` in this process, as before
tidsnok.reports.typeset existed (the same options, the same PDF/A fallback), for
comparison. Linux only (reads /proc/self/status).
"""

import argparse
import atexit
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def rss_mb(field: str = "VmRSS") -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def in_process_compile(source, **options):
    """The old path: typst in this process."""
    import typst

    from tidsnok.reports.typeset import TypstError

    try:
        return typst.compile(source, **options)
    except typst.TypstError as err:
        raise TypstError(str(err)) from err


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--in-process", action="store_true", help="typeset with typst in this process (the old way)")
    parser.add_argument("--count", type=int, default=30, help="PDFs to export (default 30)")
    parser.add_argument("--entries", type=int, default=200, help="entries in the case (default 200)")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    data_dir = tempfile.mkdtemp(prefix="tidsnok-pdf-memory-")
    atexit.register(shutil.rmtree, data_dir, ignore_errors=True)
    os.environ["TIDSNOK_DATA_DIR"] = data_dir
    os.environ.pop("DATABASE_URL", None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    import django

    django.setup()
    from django.core.management import call_command

    from tests.conftest import build_world
    from tidsnok.cases import services
    from tidsnok.cases.models import Entry, EntryKind, Kind, Source, Visibility
    from tidsnok.reports import case_pdf

    call_command("migrate", verbosity=0)
    world = build_world()
    marte = world.user("marte")
    from django.utils import timezone

    known = timezone.localdate() - timedelta(days=3)
    case = services.open_case(
        marte, kind=Kind.CONFLICT, concerns=[world.ella], description="Langvarig konflikt i teamet.",
        source=Source.OBSERVED, known_at=known,
    )
    Entry.objects.bulk_create([
        Entry(case=case, kind=EntryKind.NOTE, occurred_on=known + timedelta(days=n % 3), author=world.marte,
              visibility=Visibility.INTERNAL, text=f"Notat nummer {n}: oppfølging av teamet, æøå.")
        for n in range(args.entries)
    ])

    if args.in_process:
        case_pdf.compile_pdf = in_process_compile
    renders = []
    real_render = case_pdf.render

    def timed_render(document, timestamp=None):
        start = time.perf_counter()
        try:
            return real_render(document, timestamp)
        finally:
            renders.append(time.perf_counter() - start)

    case_pdf.render = timed_render

    mode = "in-process typst" if args.in_process else "typst in a child process"
    before = rss_mb()
    cpu_before = cpu_seconds()
    exports, sizes, resident = [], [], []
    for n in range(args.count):
        start = time.perf_counter()
        exported = case_pdf.export_case_pdf(marte, case, "nb")
        exports.append(time.perf_counter() - start)
        sizes.append(len(exported.content))
        resident.append(rss_mb())
    cpu = (cpu_seconds() - cpu_before) / args.count
    child_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"{mode}: {args.count} case PDFs of {args.entries} entries ({min(sizes) // 1024}-{max(sizes) // 1024} KB)")
    marks = sorted({1, *range(10, args.count + 1, 10), args.count})
    print(f"  this process, resident: {before:.0f} MB before the first PDF; after PDF "
          + ", ".join(f"{m}: {resident[m - 1]:.0f}" for m in marks) + f" MB (peak {rss_mb('VmHWM'):.0f} MB)")
    print(f"  typst imported in this process: {'typst' in sys.modules}")
    if not args.in_process:
        print(f"  largest typesetting child, resident: {child_peak:.0f} MB")
    print(f"  export (end to end): median {statistics.median(exports) * 1000:.0f} ms, "
          f"first {exports[0] * 1000:.0f} ms, max {max(exports) * 1000:.0f} ms")
    print(f"  CPU per export (this process and its children, user + system): {cpu * 1000:.0f} ms")
    print(f"  typesetting (render): median {statistics.median(renders) * 1000:.0f} ms, "
          f"first {renders[0] * 1000:.0f} ms, max {max(renders) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
