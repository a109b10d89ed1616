"""Typesetting in a child process (tidsnok.reports.typeset).

typst keeps caches for the life of a process, so the PDFs are typeset by a
fresh child that exits after each one. The PDF must be the one typst made in
process before, typst's own errors must reach the callers as before (the PDF/A
fallback depends on it), and a child that fails in any other way must give a
clear error: never a hang, never half a PDF, never an audit event.
"""

import json
import os
import subprocess
import sys
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
import time_machine
from django.test import Client

from tidsnok.access.services import create_token
from tidsnok.audit.models import AuditEvent
from tidsnok.cases import services
from tidsnok.cases.models import Kind, Source
from tidsnok.reports import case_pdf, typeset
from tidsnok.reports.typeset import TypesetError, TypstError, compile_pdf

ROOT = Path(__file__).resolve().parents[2]
WHEN = datetime(2026, 3, 4, 9, 15, tzinfo=timezone.utc)  # typst takes fixed offsets only
SMALL = '#set text(font: "Libertinus Serif")\n= Saksdokumentasjon\n#sys.inputs.data\n'.encode()


@pytest.fixture
def case(world):
    with time_machine.travel(WHEN, tick=False):
        yield services.open_case(
            world.user("marte"), kind=Kind.PSYCHOSOCIAL, concerns=[world.emil], source=Source.OBSERVED,
            description='Emil sier han er sliten. #panic("nei") *fet*', known_at=date(2026, 3, 3),
        )


@pytest.fixture
def document(world, case, monkeypatch):
    """The data of a real case export, as render() received it."""
    seen = {}
    real_render = case_pdf.render

    def keep(document, timestamp=None):
        seen["document"] = json.loads(json.dumps(document))
        return real_render(document, timestamp)

    monkeypatch.setattr(case_pdf, "render", keep)
    with time_machine.travel(WHEN, tick=False):
        case_pdf.export_case_pdf(world.user("marte"), case, "nb")
    monkeypatch.setattr(case_pdf, "render", real_render)
    AuditEvent.objects.filter(action=case_pdf.EXPORT_ACTION).delete()
    return seen["document"]


def fake_child(monkeypatch, code: str):
    """Replace the typesetting child with a Python one-liner."""
    monkeypatch.setattr(typeset, "COMMAND", [sys.executable, "-c", code])


def exports(case) -> int:
    return AuditEvent.objects.filter(action=case_pdf.EXPORT_ACTION, object_id=str(case.pk)).count()


# --- the PDF ---------------------------------------------------------------------------------------


def test_the_pdf_from_the_child_is_the_pdf_typst_makes_in_process(document):
    import typst  # in this test process only: the comparison needs it

    options = dict(sys_inputs={"data": json.dumps(document, ensure_ascii=False)}, ignore_system_fonts=True,
                   timestamp=WHEN, format="pdf")
    content = case_pdf.render(document, timestamp=WHEN)
    assert content.startswith(b"%PDF-") and content.rstrip().endswith(b"%%EOF")
    assert b"pdfaid:part" in content  # PDF/A-2u, as before
    assert content == typst.compile(case_pdf._template(), pdf_standards=typeset.PDF_STANDARD, **options)


def test_a_case_pdf_is_typeset_without_typst_in_the_exporting_process(document):
    """A fresh Python with Django set up renders the case PDF: typst is never
    imported there (the worker), only in the child."""
    code = (
        "import json, sys, django\n"
        "django.setup()\n"
        "from tidsnok.reports import api, case_pdf, plan_pdf, views\n"
        "content = case_pdf.render(json.load(sys.stdin))\n"
        "assert content.startswith(b'%PDF-'), content[:20]\n"
        "assert 'typst' not in sys.modules, 'typst was imported'\n"
        "print('ok', len(content))\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    result = subprocess.run([sys.executable, "-c", code], input=json.dumps(document).encode(), cwd=ROOT, env=env,
                            capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    assert result.stdout.startswith(b"ok ")


def test_the_child_starts_without_site_packages_and_takes_typst_from_the_directory_it_is_given(tmp_path, monkeypatch):
    """-S: no .pth file runs in the child (an editable install's import hook cost
    every PDF 17-25 ms of CPU); typst comes from the one directory on its command line."""
    (tmp_path / "typst").mkdir()
    (tmp_path / "typst" / "__init__.py").write_text(
        "import sys\n"
        "class TypstError(Exception):\n    pass\n"
        "def compile(source, **options):\n"
        "    return b'%PDF-1.7 site=' + str('site' in sys.modules).encode() + b'\\n%%EOF'\n"
    )
    command = typeset._command()
    assert command[1:3] == ["-I", "-S"]
    monkeypatch.setattr(typeset, "COMMAND", [*command[:-1], str(tmp_path)])
    content = compile_pdf(SMALL, sys_inputs={"data": "x"}, timestamp=WHEN)
    assert content == b"%PDF-1.7 site=False\n%%EOF"


# --- typst's own errors: as before ------------------------------------------------------------------


def test_a_typst_error_in_the_child_is_raised_as_a_typst_error():
    with pytest.raises(TypstError, match="panicked with: nei") as raised:
        compile_pdf(b'#panic("nei")', sys_inputs={}, timestamp=WHEN)
    assert isinstance(raised.value, RuntimeError)  # as typst.TypstError is
    assert "panic" in raised.value.diagnostic


def test_pdf_a_refusing_a_glyph_is_a_typst_error_so_the_export_falls_back_to_plain_pdf(world, case):
    data = "Stemningen er god \U0001F600"
    with pytest.raises(TypstError, match="PDF/A-2u"):
        compile_pdf(SMALL, sys_inputs={"data": data}, timestamp=WHEN, pdf_standards="a-2u")
    plain = compile_pdf(SMALL, sys_inputs={"data": data}, timestamp=WHEN)
    assert plain.startswith(b"%PDF-") and b"pdfaid:part" not in plain


def test_a_template_typst_refuses_fails_the_export_as_before_with_no_audit_event(world, case, monkeypatch):
    monkeypatch.setattr(case_pdf, "_template", lambda: b'#panic("nei")')
    with pytest.raises(TypstError):
        case_pdf.export_case_pdf(world.user("marte"), case, "nb")
    assert exports(case) == 0


# --- the child failing ----------------------------------------------------------------------------


def test_a_child_killed_by_a_signal_gives_a_clear_error(monkeypatch):
    fake_child(monkeypatch, "import os, signal; os.kill(os.getpid(), signal.SIGKILL)")
    with pytest.raises(TypesetError, match="killed by signal SIGKILL") as raised:
        compile_pdf(SMALL, sys_inputs={"data": "x"}, timestamp=WHEN)
    assert not isinstance(raised.value, TypstError)  # not typst's refusal: no fallback


def test_a_child_that_exits_non_zero_after_half_a_pdf_gives_an_error_not_the_half(monkeypatch):
    fake_child(monkeypatch, "import sys; sys.stdout.buffer.write(b'%PDF-1.7 half'); sys.stdout.flush(); "
                            "print('out of memory', file=sys.stderr); sys.exit(1)")
    with pytest.raises(TypesetError, match="exited with status 1: out of memory"):
        compile_pdf(SMALL, sys_inputs={"data": "x"}, timestamp=WHEN)


def test_a_child_that_exits_0_with_half_a_pdf_gives_an_error(monkeypatch):
    fake_child(monkeypatch, "import sys; sys.stdout.buffer.write(b'%PDF-1.7\\n1 0 obj')")
    with pytest.raises(TypesetError, match="no complete PDF"):
        compile_pdf(SMALL, sys_inputs={"data": "x"}, timestamp=WHEN)


def test_a_child_that_hangs_is_killed_after_the_timeout(monkeypatch, tmp_path):
    pid_file = tmp_path / "pid"
    fake_child(monkeypatch, f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(600)")
    monkeypatch.setattr(typeset, "TIMEOUT", 1)
    with pytest.raises(TypesetError, match="longer than 1 s"):
        compile_pdf(SMALL, sys_inputs={"data": "x"}, timestamp=WHEN)
    with pytest.raises(ProcessLookupError):  # killed and reaped
        os.kill(int(pid_file.read_text()), 0)


def test_a_child_that_cannot_start_gives_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(typeset, "COMMAND", [str(tmp_path / "no-such-python")])
    with pytest.raises(TypesetError, match="could not be started"):
        compile_pdf(SMALL, sys_inputs={"data": "x"}, timestamp=WHEN)


def test_a_crashed_child_fails_the_export_once_with_no_audit_event(world, case, monkeypatch, tmp_path):
    runs = tmp_path / "runs"
    fake_child(monkeypatch, f"import sys; open({str(runs)!r}, 'a').write('run\\n'); sys.exit(70)")
    with pytest.raises(TypesetError, match="status 70"):
        case_pdf.export_case_pdf(world.user("marte"), case, "nb")
    assert runs.read_text().count("run") == 1  # a crash is not typst's refusal: no plain-PDF retry
    assert exports(case) == 0


def test_a_crashed_child_answers_500_on_the_download_and_the_api(world, case, monkeypatch):
    fake_child(monkeypatch, "import sys; sys.exit(70)")
    client = Client(raise_request_exception=False)
    client.force_login(world.user("marte"))
    assert client.get(f"/rapporter/saker/{case.pk}/pdf").status_code == 500
    _, token = create_token(None, world.user("marte"))
    api = Client(raise_request_exception=False)
    assert api.get(f"/api/v1/cases/{case.pk}/pdf", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 500
    assert exports(case) == 0


def test_the_child_gets_none_of_the_workers_environment(monkeypatch, tmp_path):
    seen = tmp_path / "env.json"
    monkeypatch.setenv("DATABASE_URL", "postgres://tidsnok:hemmelig@db/tidsnok")
    monkeypatch.setenv("SECRET_KEY", "hemmelig")
    fake_child(monkeypatch, f"import json, os, sys; json.dump(dict(os.environ), open({str(seen)!r}, 'w')); sys.exit(1)")
    with pytest.raises(TypesetError):
        compile_pdf(SMALL, sys_inputs={"data": "x"}, timestamp=WHEN)
    env = json.loads(seen.read_text())
    assert set(env) <= {"PATH", "LANG", "LC_CTYPE"}, env
