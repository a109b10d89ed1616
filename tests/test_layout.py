"""The rooms keep their order: no room imports from a room above it (docs/development.md)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "tidsnok"
# Lowest first; rooms on the same level may not import each other either.
LEVELS = [
    {"audit"}, {"org"}, {"access"}, {"deadlines"}, {"cases"},
    {"absence", "whistleblowing", "notify"}, {"risk"}, {"reports", "retention"}, {"web"},
]
LEVEL = {room: index for index, rooms in enumerate(LEVELS) for room in rooms}


def imported_rooms(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    rooms = set()
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "tidsnok" and len(parts) > 1 and parts[1] in LEVEL:
                rooms.add(parts[1])
    return rooms


@pytest.mark.parametrize("room", sorted(LEVEL))
def test_a_room_imports_only_from_rooms_below_it(room):
    offenders = []
    for path in (ROOT / room).rglob("*.py"):
        if "migrations" in path.parts:
            continue
        for other in imported_rooms(path):
            if other != room and LEVEL[other] >= LEVEL[room]:
                offenders.append(f"{path.relative_to(ROOT)} imports tidsnok.{other}")
    assert not offenders, "\n".join(offenders)


def test_the_files_the_suite_runs_first_still_exist():
    """A renamed slow file would lose its place at the head of the queue without a word."""
    from tests.conftest import SLOWEST_FIRST

    here = Path(__file__).parent
    missing = [name for name in SLOWEST_FIRST if not (here / name).exists()]
    assert not missing, missing
