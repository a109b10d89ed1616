"""Typesetting in a child process: typst never runs inside the app worker.

Why: the typst library (Rust, behind the `typst` package) keeps its memoisation
caches and the fonts it has parsed for the life of the process and has no way to
evict them: a process that had typeset 30 case PDFs of 200 entries held 270 MB
more than before the first (scripts/pdf_memory.py), for good. So every PDF is
typeset by a fresh Python process that exits after it.

How:
- `compile_pdf()` (the parent side, used by case_pdf.py and plan_pdf.py instead of
  `typst.compile`) starts `python -I -S <this file> <typst's directory>` with
  `subprocess`: fork and exec at once, so the child inherits no thread, lock or
  memory of the worker and imports nothing of it (no Django: only json and typst).
  `-I` keeps the child from reading PYTHON* variables or importing from the working
  directory. `-S` skips site-packages' start-up (.pth files: an editable install's
  import hook alone cost every PDF 17-25 ms of CPU); the child puts the one
  directory typst is installed in on its path instead.
- The request is one JSON document on the child's stdin: the template source,
  `sys_inputs` (the only way user data reaches typst), the timestamp, the PDF
  standard and the font option. The PDF comes back on stdout.
- The child's environment is minimal (PATH, LANG): no secret, no database URL.
  typst needs nothing from it (its fonts are embedded, system fonts are ignored).
- Failures:
  - typst refuses the document (a `typst.TypstError` in the child, e.g. PDF/A and
    a glyph the fonts lack): the child writes the error as one JSON line to
    stderr and exits with EXIT_TYPST; `TypstError` is raised here, with the same
    message, so the callers' fallback to plain PDF works as before.
  - the child crashes, is killed, exits otherwise than 0, gives something that is
    not a whole PDF, or runs longer than TIMEOUT (it is then killed):
    `TypesetError` (which `TypstError` is a kind of; both are RuntimeErrors, as
    `typst.TypstError` is). Nothing is retried and no partial PDF is returned;
    the export writes no audit event and the request fails as a typst error did.
    A child that outlives its worker stops itself after CPU_LIMIT CPU seconds.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime

# The longest a PDF may take to typeset (a case of 200 entries takes well under a
# second); the child is killed after that, well before gunicorn's --timeout of 120 s
# (deployment.md) would kill the worker.
TIMEOUT = 60
# The child's own limit on CPU seconds, should it outlive a worker that was killed.
CPU_LIMIT = 2 * TIMEOUT
EXIT_TYPST = 3  # the child's exit status when typst refused the document


@functools.cache
def _command() -> list[str]:
    # find_spec locates typst without importing it: the worker never loads typst.
    spec = importlib.util.find_spec("typst")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("typst is not installed (see pyproject.toml)")
    site_dir = os.path.dirname(list(spec.submodule_search_locations)[0])
    return [sys.executable, "-I", "-S", os.path.abspath(__file__), site_dir]


# Replaced by tests with a child of their own; None is _command().
COMMAND: list[str] | None = None
# The child's whole environment. Nothing of the worker's (secrets, DATABASE_URL).
ENVIRONMENT = {"PATH": os.defpath, "LANG": "C.UTF-8"}
STDERR_SHOWN = 2000  # characters of the child's stderr kept in an error message


class TypesetError(RuntimeError):
    """The PDF could not be typeset: the child failed, was killed or timed out."""


class TypstError(TypesetError):
    """typst refused the document (`typst.TypstError` in the child)."""

    def __init__(self, message: str, diagnostic: str = "", hints: list[str] | None = None,
                 trace: list[str] | None = None):
        super().__init__(message)
        self.message = message
        self.diagnostic = diagnostic
        self.hints = hints or []
        self.trace = trace or []


# --- the parent side ------------------------------------------------------------------------------

# The archival profile of every PDF the reports room makes.
PDF_STANDARD = "a-2u"


def typeset_document(source: bytes, document: dict, timestamp: datetime | None = None) -> bytes:
    """One of the reports room's templates (`source`) typeset with `document` as its data (the
    only way user data reaches typst), stamped `timestamp`: PDF/A, or plain PDF when PDF/A
    refuses a glyph the embedded fonts lack (an emoji in a note): the record matters more than
    the archival profile."""
    options = dict(
        sys_inputs={"data": json.dumps(document, ensure_ascii=False)},
        ignore_system_fonts=True,
        timestamp=(timestamp or datetime.now(UTC)).replace(microsecond=0),  # typst refuses microseconds
        format="pdf",
    )
    try:
        return compile_pdf(source, pdf_standards=PDF_STANDARD, **options)
    except TypstError:
        return compile_pdf(source, **options)




def compile_pdf(
    source: bytes,
    *,
    sys_inputs: dict[str, str],
    timestamp: datetime | None = None,
    pdf_standards: str | list[str] | None = None,
    ignore_system_fonts: bool = True,
    format: str = "pdf",
    timeout: float | None = None,
) -> bytes:
    """Typeset `source` (a typst template) in a child process; returns the PDF bytes.

    The keyword arguments are those of `typst.compile`. Raises TypstError when
    typst refuses the document, TypesetError when the child fails otherwise."""
    if format != "pdf":
        raise ValueError("compile_pdf makes PDFs only")
    request = {
        "source": source.decode("utf-8"),
        "sys_inputs": sys_inputs,
        "timestamp": timestamp.isoformat() if timestamp else None,
        "pdf_standards": pdf_standards or None,
        "ignore_system_fonts": ignore_system_fonts,
    }
    timeout = TIMEOUT if timeout is None else timeout
    try:
        child = subprocess.run(
            COMMAND or _command(),
            input=json.dumps(request, ensure_ascii=False).encode("utf-8"),
            capture_output=True,
            env=ENVIRONMENT,
            timeout=timeout,  # subprocess.run kills the child and reaps it
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise TypesetError(f"typesetting took longer than {timeout} s; the typesetting process was killed") from None
    except OSError as err:
        raise TypesetError(f"the typesetting process could not be started: {err}") from err
    if child.returncode == EXIT_TYPST:
        raise _typst_error(child.stderr)
    if child.returncode < 0:
        try:
            name = signal.Signals(-child.returncode).name
        except ValueError:
            name = str(-child.returncode)
        raise TypesetError(f"the typesetting process was killed by signal {name}{_tail(child.stderr)}")
    if child.returncode != 0:
        raise TypesetError(f"the typesetting process exited with status {child.returncode}{_tail(child.stderr)}")
    content = child.stdout
    if not (content.startswith(b"%PDF-") and content.rstrip().endswith(b"%%EOF")):
        raise TypesetError(f"the typesetting process gave no complete PDF ({len(content)} bytes){_tail(child.stderr)}")
    return content


def _tail(stderr: bytes) -> str:
    text = stderr.decode("utf-8", "replace").strip()
    return f": {text[-STDERR_SHOWN:]}" if text else ""


def _typst_error(stderr: bytes) -> TypstError:
    lines = stderr.decode("utf-8", "replace").strip().splitlines()
    try:
        error = json.loads(lines[-1])
        return TypstError(error["message"], error.get("diagnostic", ""), error.get("hints"), error.get("trace"))
    except (IndexError, ValueError, KeyError, TypeError):
        return TypstError("typst refused the document" + _tail(stderr))


# --- the child side -------------------------------------------------------------------------------


def typeset(request: dict) -> bytes:
    """Compile one request with typst, in this process (the child's work)."""
    import typst

    options = {
        "sys_inputs": request["sys_inputs"],
        "ignore_system_fonts": request["ignore_system_fonts"],
        "format": "pdf",
    }
    if request.get("timestamp"):
        options["timestamp"] = datetime.fromisoformat(request["timestamp"])
    if request.get("pdf_standards"):
        options["pdf_standards"] = request["pdf_standards"]
    return typst.compile(request["source"].encode("utf-8"), **options)


def main() -> int:
    import resource

    if len(sys.argv) > 1:  # started with -S: typst's directory is the argument (see _command)
        sys.path.append(sys.argv[1])
    import typst

    resource.setrlimit(resource.RLIMIT_CPU, (CPU_LIMIT, CPU_LIMIT))
    request = json.loads(sys.stdin.buffer.read())
    try:
        content = typeset(request)
    except typst.TypstError as err:
        error = {
            "message": getattr(err, "message", None) or str(err),
            "diagnostic": getattr(err, "diagnostic", ""),
            "hints": list(getattr(err, "hints", None) or []),
            "trace": list(getattr(err, "trace", None) or []),
        }
        sys.stderr.write("\n" + json.dumps(error) + "\n")
        sys.stderr.flush()
        return EXIT_TYPST
    sys.stdout.buffer.write(content)
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
