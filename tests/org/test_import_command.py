"""`tidsnok import`: the same import from the command line, exit code 1 on errors."""

import pytest
from django.core.management import ManagementUtility, call_command
from django.core.management.base import CommandError
from django.db import connections

from tests.org.helpers import PEOPLE_CSV, UNITS_CSV, counts
from tidsnok.org.models import Person


@pytest.fixture
def files(tmp_path):
    units, people = tmp_path / "units.csv", tmp_path / "people.csv"
    units.write_bytes(UNITS_CSV)
    people.write_bytes(PEOPLE_CSV)
    return units, people


def tidsnok(monkeypatch, *argv) -> int:
    """Run the command as `tidsnok ...` would, returning the exit code."""
    # The real entry point closes all connections when done; the test's
    # transaction must survive it.
    monkeypatch.setattr(connections, "close_all", lambda: None)
    try:
        ManagementUtility(["tidsnok", *argv]).execute()
    except SystemExit as exit_:
        return exit_.code
    return 0


def test_it_imports_from_the_command_line(world, files, monkeypatch, capsys):
    units, people = files
    code = tidsnok(monkeypatch, "import", "--units", str(units), "--people", str(people), "--as", "ada@test.no",
                   "--language", "en")
    assert code == 0
    assert "People created: 3" in capsys.readouterr().out
    assert Person.objects.filter(employee_number="P102").exists()


def test_errors_are_printed_with_line_and_column_and_exit_code_1(world, files, monkeypatch, capsys):
    units, people = files
    people.write_bytes(PEOPLE_CSV.replace(b"berit@test.no", b"berit@@test.no").replace(b"BHG1,Assistent", b"XX,Assistent"))
    before = counts()

    code = tidsnok(monkeypatch, "import", "--units", str(units), "--people", str(people), "--as", "ADA@test.no",
                   "--language", "en")

    assert code == 1
    err = capsys.readouterr().err
    assert f"{people}, line 2, column email: “berit@@test.no” is not a valid e-mail address." in err
    assert f"{people}, line 4, column unit: Unknown unit “XX”" in err
    assert "Nothing was imported. Errors: 2." in err
    assert counts() == before


def test_messages_follow_the_language(world, files):
    units, people = files
    people.write_bytes(PEOPLE_CSV.replace(b"2021-08-15", b"15.15.2021"))
    with pytest.raises(CommandError) as raised:
        call_command("import", people=str(people), units=str(units), actor="ada@test.no", language="nb")
    assert raised.value.returncode == 1
    assert "Ingenting ble importert" in str(raised.value)


def test_a_non_administrator_is_refused(world, files, monkeypatch, capsys):
    units, _ = files
    before = counts()
    assert tidsnok(monkeypatch, "import", "--units", str(units), "--as", "marte@test.no", "--language", "en") == 1
    assert "Only an administrator" in capsys.readouterr().err
    assert counts() == before


def test_it_needs_a_file_and_a_known_login(world, files):
    with pytest.raises(CommandError):
        call_command("import", actor="ada@test.no")
    with pytest.raises(CommandError):
        call_command("import", units=str(files[0]), actor="nobody@test.no")
    with pytest.raises(CommandError):
        call_command("import", units="/nonexistent/units.csv", actor="ada@test.no")
