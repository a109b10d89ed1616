"""Reading and checking the organisation CSV files.

Pure functions: bytes and a snapshot of the existing organisation in, rows and
errors out. Nothing here touches the database, so the service in
`importing.py` can check everything first and write only when nothing is wrong.

Two files, either alone or both:
- units:  code, name, parent (code of the unit above, blank at the top), manager
          (employee number, optional column)
- people: employee_number, name, email, unit (unit code), position, start_date,
          and optionally position_percent and end_date

Headers may be in English or Norwegian; cells are separated by commas or
semicolons (Norwegian Excel writes semicolons), detected from the header line.
Every problem is reported with its file, line and column, so an administrator
can fix a file in one go instead of one error per upload.
"""

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _

UNITS = "units"
PEOPLE = "people"


def file_label(file: str) -> str:
    return {UNITS: _("Units file"), PEOPLE: _("People file"), "absence": _("Absence file")}.get(file, file)


@dataclass(frozen=True)
class RowError:
    """One problem: which file, which line (None for the whole file), which
    column (as the file spells it, or our name when the column is missing)."""

    file: str
    line: int | None
    column: str
    reason: str

    @property
    def file_label(self) -> str:
        return file_label(self.file)

    def sort_key(self):
        return (self.file != UNITS, self.line or 0, self.column)


@dataclass(frozen=True)
class Column:
    name: str  # our name: the key in a parsed row
    norwegian: str  # the Norwegian header, shown in help and errors
    aliases: tuple[str, ...]  # other accepted spellings, normalised (see _normalise)
    in_header: bool  # the header must have this column
    value_required: bool  # every row must have a value


UNIT_COLUMNS = (
    Column("code", "kode", ("enhetskode", "unit_code"), True, True),
    Column("name", "navn", ("enhetsnavn", "unit_name"), True, True),
    Column("parent", "overordnet", ("overordnet_enhet", "parent_code"), True, False),
    Column("manager", "leder", ("manager_employee_number", "leders_ansattnummer"), False, False),
)

PEOPLE_COLUMNS = (
    Column("employee_number", "ansattnummer", ("ansattnr", "employee_no"), True, True),
    Column("name", "navn", (), True, True),
    Column("email", "epost", ("e_post", "e_mail", "mail"), True, False),
    Column("unit", "enhet", ("unit_code", "enhetskode"), True, True),
    Column("position", "stilling", ("stillingstittel", "title"), True, False),
    Column("start_date", "startdato", (), True, True),
    Column("position_percent", "stillingsprosent", ("percent", "prosent"), False, False),
    Column("end_date", "sluttdato", (), False, False),
)

COLUMNS = {UNITS: UNIT_COLUMNS, PEOPLE: PEOPLE_COLUMNS}

# The model's limits, checked here so a long value is a row error and not a
# database error halfway through an import.
MAX_LENGTHS = {
    (UNITS, "code"): 50, (UNITS, "name"): 200,
    (PEOPLE, "employee_number"): 50, (PEOPLE, "name"): 200, (PEOPLE, "email"): 254, (PEOPLE, "position"): 200,
}


@dataclass
class UnitRow:
    line: int
    code: str
    name: str
    parent: str  # "" means a top-level unit
    manager: str  # employee number; "" leaves the unit's manager as it is


@dataclass
class PersonRow:
    line: int
    employee_number: str
    unit: str
    # Keyword arguments for org.services.save_person, only for the columns the
    # file has: a missing optional column leaves that field of an existing person alone.
    values: dict = field(default_factory=dict)


@dataclass
class ParsedFile:
    """The rows of one file. `readable` is False when the file itself (encoding,
    header) is broken: then there are no rows, and other files' references into
    it are not checked, so one broken file does not drown the report in echoes."""

    rows: list
    errors: list[RowError]
    readable: bool
    columns: dict[str, str] = field(default_factory=dict)  # our name -> the header as written


@dataclass(frozen=True)
class Existing:
    """What the organisation holds before the import: enough to check references and cycles."""

    unit_parents: dict[str, str | None]  # unit code -> parent's code
    employee_numbers: frozenset[str]


# Keys per query when an import looks up what its rows name (employee numbers, payroll ids):
# well under the limit on bound variables of any SQLite build (32,766 on many), whatever the
# size of the file.
KEYS_PER_QUERY = 2000


def chunks(keys: list) -> list[list]:
    """The keys in slices of KEYS_PER_QUERY, one query each."""
    return [keys[start:start + KEYS_PER_QUERY] for start in range(0, len(keys), KEYS_PER_QUERY)]


# ---------------------------------------------------------------- reading

def _normalise(header: str) -> str:
    return header.strip().lower().replace("-", "_").replace(" ", "_")


def _aliases(columns) -> dict[str, Column]:
    lookup = {}
    for column in columns:
        for spelling in (column.name, column.norwegian, *column.aliases):
            lookup[_normalise(spelling)] = column
    return lookup


def decode(data: bytes, file: str) -> tuple[str | None, list[RowError]]:
    """UTF-8 text (a byte-order mark, as Excel writes it, is allowed), or one file-level error."""
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return None, [RowError(file, None, "", _(
            "The file is not UTF-8 encoded (first unreadable character on line %(line)d). "
            "Save it as “CSV UTF-8” and try again."
        ) % {"line": line})]


def detect_delimiter(header_line: str) -> str:
    """Semicolon when the header has more semicolons than commas, else comma."""
    return ";" if header_line.count(";") > header_line.count(",") else ","


def read_table(data: bytes, file: str, columns_spec=None) -> tuple[dict[str, str], list[tuple[int, dict[str, str]]], list[RowError]]:
    """Decode, split and map the header. Returns the columns found (our name ->
    header as written), the data rows as (line number, {our name: stripped value}),
    and the errors. Header errors stop the reading: rows would be misread."""
    text, errors = decode(data, file)
    if errors:
        return {}, [], errors
    if not text.strip():
        return {}, [], [RowError(file, None, "", _("The file is empty: a header row is required."))]
    delimiter = detect_delimiter(text.lstrip("\r\n").split("\n", 1)[0])
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header, header_line = _first_record(reader)
        columns, header_errors = _map_header(header, header_line, file, columns_spec or COLUMNS[file])
        if header_errors:
            return {}, [], header_errors
        rows, row_errors = _records(reader, header, columns, header_line, file)
    except csv.Error as exc:
        return {}, [], [RowError(file, reader.line_num or None, "", _(
            "The file could not be read as CSV: %(problem)s") % {"problem": exc})]
    return {name: header[index].strip() for name, index in columns.items()}, rows, row_errors


def _first_record(reader) -> tuple[list[str], int]:
    for record in reader:
        if any(cell.strip() for cell in record):
            return record, reader.line_num
    return [], 1  # not reached: the text is not blank


def _map_header(header: list[str], line: int, file: str, spec) -> tuple[dict[str, int], list[RowError]]:
    """Our column name -> its index in the header."""
    lookup = _aliases(spec)
    found: dict[str, int] = {}
    errors = []
    for index, cell in enumerate(header):
        if not cell.strip():
            continue  # Excel's trailing separators make nameless columns; they carry nothing
        column = lookup.get(_normalise(cell))
        if column is None:
            # Refused rather than ignored: a misspelt optional column would
            # otherwise be dropped without a word, and columns we do not know may
            # hold personal data tidsnok must not take in.
            expected = ", ".join(f"{c.name}/{c.norwegian}" for c in spec)
            errors.append(RowError(file, line, cell.strip(), _(
                "Unknown column “%(column)s”. The columns are: %(expected)s.") % {
                "column": cell.strip(), "expected": expected}))
        elif column.name in found:
            errors.append(RowError(file, line, cell.strip(), _(
                "The column “%(column)s” appears twice in the header.") % {"column": column.name}))
        else:
            found[column.name] = index
    for column in spec:
        if column.in_header and column.name not in found:
            errors.append(RowError(file, line, column.name, _(
                "The header lacks the required column “%(name)s” (in Norwegian “%(norwegian)s”).") % {
                "name": column.name, "norwegian": column.norwegian}))
    return found, errors


def _records(reader, header, columns, header_line, file):
    rows, errors = [], []
    previous_end = header_line
    for record in reader:
        # A quoted value may span lines: the row starts after the previous one ended.
        line = previous_end + 1
        previous_end = reader.line_num
        if not any(cell.strip() for cell in record):
            continue
        if len(record) > len(header) and any(cell.strip() for cell in record[len(header):]):
            errors.append(RowError(file, line, "", _(
                "This line has %(values)d values but the header has %(columns)d columns.") % {
                "values": len(record), "columns": len(header)}))
            continue
        values = {name: (record[index].strip() if index < len(record) else "") for name, index in columns.items()}
        rows.append((line, values))
    return rows, errors


# ---------------------------------------------------------------- values

def parse_date(value: str) -> date | None:
    """dd.mm.yyyy (as Norwegians write it) or yyyy-mm-dd (ISO); None if neither."""
    for pattern in ("%d.%m.%Y", "%Y-%m-%d"):
        try:
            parsed = datetime.strptime(value, pattern).date()
        except ValueError:
            continue
        # A year like 0202 is a typing error, not a date anyone was employed.
        return parsed if 1900 <= parsed.year <= 2199 else None
    return None


def parse_percent(value: str) -> int | None:
    text = value.strip().removesuffix("%").strip()
    if not (text.isascii() and text.isdigit()):
        return None
    number = int(text)
    return number if 1 <= number <= 100 else None


class _RowChecker:
    """Collects the errors of one row, naming columns as the file spells them."""

    def __init__(self, file: str, line: int, headers: dict[str, str], errors: list[RowError]):
        self.file, self.line, self.headers, self.errors = file, line, headers, errors

    def error(self, column: str, reason: str) -> None:
        self.errors.append(RowError(self.file, self.line, self.headers.get(column, column), reason))

    def text(self, values: dict, column: str, required: bool) -> str:
        value = values.get(column, "")
        if required and not value:
            self.error(column, _("A value is required."))
        limit = MAX_LENGTHS.get((self.file, column))
        if limit and len(value) > limit:
            self.error(column, _("The value is too long (at most %(limit)d characters).") % {"limit": limit})
        return value

    def date(self, values: dict, column: str, required: bool) -> date | None:
        value = values.get(column, "")
        if not value:
            if required:
                self.error(column, _("A value is required."))
            return None
        parsed = parse_date(value)
        if parsed is None:
            self.error(column, _("“%(value)s” is not a date. Write dd.mm.yyyy or yyyy-mm-dd.") % {"value": value})
        return parsed


def parse_units(data: bytes) -> ParsedFile:
    headers, table, errors = read_table(data, UNITS)
    if not headers and errors:
        return ParsedFile([], errors, readable=False)
    rows = []
    for line, values in table:
        check = _RowChecker(UNITS, line, headers, errors)
        rows.append(UnitRow(
            line=line,
            code=check.text(values, "code", True),
            name=check.text(values, "name", True),
            parent=values.get("parent", ""),
            manager=values.get("manager", ""),
        ))
    return ParsedFile(rows, errors, readable=True, columns=headers)


def parse_people(data: bytes) -> ParsedFile:
    headers, table, errors = read_table(data, PEOPLE)
    if not headers and errors:
        return ParsedFile([], errors, readable=False)
    rows = []
    for line, values in table:
        check = _RowChecker(PEOPLE, line, headers, errors)
        number = check.text(values, "employee_number", True)
        fields = {
            "name": check.text(values, "name", True),
            "email": check.text(values, "email", False),
            "position": check.text(values, "position", False),
            "start_date": check.date(values, "start_date", True),
        }
        unit = check.text(values, "unit", True)
        if fields["email"]:
            try:
                validate_email(fields["email"])
            except ValidationError:
                check.error("email", _("“%(value)s” is not a valid e-mail address.") % {"value": fields["email"]})
        if "position_percent" in headers:
            # A blank cell means the usual full position.
            raw = values["position_percent"]
            fields["position_percent"] = parse_percent(raw) if raw else 100
            if fields["position_percent"] is None:
                check.error("position_percent", _(
                    "The position percentage must be a whole number from 1 to 100, not “%(value)s”.") % {"value": raw})
        if "end_date" in headers:
            # A blank cell means no end date (and clears one set earlier: re-hired).
            fields["end_date"] = check.date(values, "end_date", False)
            if fields["end_date"] and fields["start_date"] and fields["end_date"] < fields["start_date"]:
                check.error("end_date", _("The end date is before the start date."))
        rows.append(PersonRow(line=line, employee_number=number, unit=unit, values=fields))
    return ParsedFile(rows, errors, readable=True, columns=headers)


# ---------------------------------------------------------------- across rows

def validate(units: ParsedFile | None, people: ParsedFile | None, existing: Existing) -> list[RowError]:
    """Checks that need more than one row: duplicates, references, cycles."""
    errors: list[RowError] = []
    unit_rows = units.rows if units else []
    person_rows = people.rows if people else []
    unit_headers = units.columns if units else {}
    people_headers = people.columns if people else {}

    _duplicates(UNITS, unit_rows, "code", unit_headers, errors)
    _duplicates(PEOPLE, person_rows, "employee_number", people_headers, errors)

    # When a file given alongside could not be read at all, references into it
    # are not checked: they would all fail and hide the one real problem.
    check_units = units is None or units.readable
    check_people = people is None or people.readable
    unit_codes = set(existing.unit_parents) | {row.code for row in unit_rows if row.code}
    numbers = set(existing.employee_numbers) | {row.employee_number for row in person_rows if row.employee_number}

    for row in unit_rows:
        if row.parent and check_units and row.parent not in unit_codes:
            errors.append(RowError(UNITS, row.line, unit_headers.get("parent", "parent"), _(
                "Unknown unit “%(code)s”: it is neither in the file nor in the organisation.") % {"code": row.parent}))
        if row.manager and check_people and row.manager not in numbers:
            errors.append(RowError(UNITS, row.line, unit_headers.get("manager", "manager"), _(
                "Unknown manager: no person has employee number “%(number)s”.") % {"number": row.manager}))
    for row in person_rows:
        if row.unit and check_units and row.unit not in unit_codes:
            errors.append(RowError(PEOPLE, row.line, people_headers.get("unit", "unit"), _(
                "Unknown unit “%(code)s”: it is neither in the file nor in the organisation.") % {"code": row.unit}))

    errors.extend(_cycles(unit_rows, unit_headers, existing))
    return errors


def _duplicates(file, rows, key, headers, errors):
    first_line: dict[str, int] = {}
    for row in rows:
        value = getattr(row, key)
        if not value:
            continue
        if value in first_line:
            if key == "code":
                reason = _("Duplicate unit code “%(value)s”: also on line %(line)d.")
            else:
                reason = _("Duplicate employee number “%(value)s”: also on line %(line)d.")
            errors.append(RowError(file, row.line, headers.get(key, key), reason % {"value": value, "line": first_line[value]}))
        else:
            first_line[value] = row.line


def merged_parents(unit_rows: list[UnitRow], existing: Existing) -> dict[str, str | None]:
    """The unit tree as it would be after the import: the file's parents over the existing ones."""
    parents = dict(existing.unit_parents)
    for row in unit_rows:
        if row.code:
            parents[row.code] = row.parent or None
    return parents


def _cycles(unit_rows, headers, existing) -> list[RowError]:
    """A unit may not end up below itself, counting the existing units too:
    moving an existing top unit below one of its own descendants is a cycle
    even if the file mentions only that one unit."""
    parents = merged_parents(unit_rows, existing)
    on_cycle: dict[str, list[str]] = {}
    settled: set[str] = set()
    for start in parents:
        path: list[str] = []
        seen: set[str] = set()
        current = start
        while current is not None and current in parents and current not in settled:
            if current in seen:
                cycle = path[path.index(current):]
                for code in cycle:
                    on_cycle.setdefault(code, cycle + [current])
                break
            seen.add(current)
            path.append(current)
            current = parents[current]
        settled.update(path)
    errors = []
    reported: set[str] = set()
    for row in unit_rows:
        if row.code in on_cycle and row.code not in reported:
            reported.add(row.code)
            cycle = on_cycle[row.code]
            # Start the description at this row's unit, so each row's message reads from itself.
            start = cycle.index(row.code)
            ring = cycle[start:-1] + cycle[:start] + [row.code]
            errors.append(RowError(UNITS, row.line, headers.get("parent", "parent"), _(
                "Cycle in the unit tree: %(cycle)s. A unit cannot lie below itself.") % {"cycle": " → ".join(ring)}))
    return errors


def parents_first(unit_rows: list[UnitRow], existing: Existing) -> list[UnitRow]:
    """The rows ordered so that every unit comes after its new parent (the tree has no cycle)."""
    parents = merged_parents(unit_rows, existing)

    def depth(code: str) -> int:
        steps = 0
        while parents.get(code):
            code = parents[code]
            steps += 1
        return steps

    return sorted(unit_rows, key=lambda row: (depth(row.code), row.line))


def parse_files(units_data: bytes | None, people_data: bytes | None) -> tuple[ParsedFile | None, ParsedFile | None]:
    """Parse the files given; None for a file not given."""
    units = parse_units(units_data) if units_data is not None else None
    people = parse_people(people_data) if people_data is not None else None
    return units, people


def all_errors(units: ParsedFile | None, people: ParsedFile | None, existing: Existing) -> list[RowError]:
    """Every error of both files, units file first, by line."""
    errors = (units.errors if units else []) + (people.errors if people else [])
    errors += validate(units, people, existing)
    return sorted(errors, key=RowError.sort_key)


def check(units_data: bytes | None, people_data: bytes | None, existing: Existing):
    """Parse and check in one call: (units, people, errors)."""
    units, people = parse_files(units_data, people_data)
    return units, people, all_errors(units, people, existing)
