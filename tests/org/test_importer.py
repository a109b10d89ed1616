"""The pure reading and checking functions of the organisation import."""

from datetime import date

from django.utils import translation

from tidsnok.org import importer
from tidsnok.org.importer import PEOPLE, UNITS, Existing

NOTHING = Existing(unit_parents={}, employee_numbers=frozenset())
# ROOT > HEL > HJ, as in the test world.
TREE = Existing(unit_parents={"ROOT": None, "HEL": "ROOT", "HJ": "HEL"}, employee_numbers=frozenset({"T001"}))


def check(units=None, people=None, existing=NOTHING):
    with translation.override("en"):
        return importer.check(
            units.encode() if isinstance(units, str) else units,
            people.encode() if isinstance(people, str) else people,
            existing,
        )


def where(errors):
    return [(e.file, e.line, e.column) for e in errors]


def test_it_detects_semicolons_and_commas():
    assert importer.detect_delimiter("kode;navn;overordnet") == ";"
    assert importer.detect_delimiter("code,name,parent") == ","
    # A comma inside a Norwegian name does not fool it.
    assert importer.detect_delimiter("kode;navn;overordnet;leder") == ";"


def test_it_accepts_norwegian_and_english_headers_in_any_case():
    units, people, errors = check(
        "Kode;Navn;Overordnet;Leder\nA;Enhet A;;\n",
        "Employee_Number,Name,E-post,Unit,Position,Start date\n1,Kari,kari@x.no,A,Lærer,01.02.2020\n",
    )
    assert errors == []
    assert units.rows[0].code == "A" and units.rows[0].parent == ""
    assert people.rows[0].values["email"] == "kari@x.no"
    assert people.rows[0].values["start_date"] == date(2020, 2, 1)


def test_it_reads_a_byte_order_mark_and_quoted_values():
    data = "\ufeffcode,name,parent\r\nA,\"Helse, omsorg og velferd\",\r\n".encode()
    units, _, errors = check(data)
    assert errors == []
    assert units.rows[0].name == "Helse, omsorg og velferd"


def test_it_parses_both_date_formats_and_refuses_others():
    assert importer.parse_date("01.02.2020") == date(2020, 2, 1)
    assert importer.parse_date("1.2.2020") == date(2020, 2, 1)
    assert importer.parse_date("2020-02-01") == date(2020, 2, 1)
    for bad in ("31.02.2020", "2020/02/01", "01.02.20", "01.02.0202", "yesterday"):
        assert importer.parse_date(bad) is None, bad


def test_it_parses_position_percent_from_1_to_100():
    assert importer.parse_percent("80") == 80
    assert importer.parse_percent("100 %") == 100
    for bad in ("0", "101", "50.5", "-5", "²", "full"):
        assert importer.parse_percent(bad) is None, bad


def test_a_missing_optional_column_is_not_touched_and_a_blank_cell_means_the_default():
    _, people, errors = check(people="ansattnummer;navn;epost;enhet;stilling;startdato\n1;Kari;;A;;01.01.2020\n",
                              units="kode;navn;overordnet\nA;A;\n")
    assert errors == []
    assert "position_percent" not in people.rows[0].values and "end_date" not in people.rows[0].values
    _, people, errors = check(
        people="ansattnummer;navn;epost;enhet;stilling;startdato;stillingsprosent;sluttdato\n1;Kari;;A;;01.01.2020;;\n",
        units="kode;navn;overordnet\nA;A;\n")
    assert errors == []
    assert people.rows[0].values["position_percent"] == 100 and people.rows[0].values["end_date"] is None


def test_wrong_encoding_is_one_file_level_error():
    latin1 = "kode;navn;overordnet\nA;Bjørkelia;\nB;Ærfugl;\n".encode("latin-1")
    _, _, errors = check(latin1)
    assert len(errors) == 1
    assert (errors[0].file, errors[0].line) == (UNITS, None)
    assert "not UTF-8" in errors[0].reason and "line 2" in errors[0].reason


def test_a_header_without_a_required_column_is_reported_by_name():
    _, _, errors = check(people="ansattnummer;navn;enhet;startdato\n1;Kari;A;01.01.2020\n")
    assert where(errors) == [(PEOPLE, 1, "email"), (PEOPLE, 1, "position")]
    assert "“email”" in errors[0].reason and "“epost”" in errors[0].reason


def test_unknown_and_doubled_columns_are_refused():
    _, _, errors = check("code;name;navn;parent;fødselsdato\n")
    reasons = " ".join(e.reason for e in errors)
    assert "appears twice" in reasons and "Unknown column “fødselsdato”" in reasons


def test_an_empty_file_needs_a_header():
    _, _, errors = check(b"\n\n")
    assert [(e.file, e.line) for e in errors] == [(UNITS, None)]


def test_line_numbers_count_from_the_header_and_survive_blank_and_multiline_rows():
    data = 'code,name,parent\nA,A,\n\nB,"two\nlines",A\nC,,A\n'
    _, _, errors = check(data)
    assert where(errors) == [(UNITS, 6, "name")]


def test_a_line_with_too_many_values_is_reported():
    _, _, errors = check("code,name,parent\nA,A,,extra\n")
    assert where(errors) == [(UNITS, 2, "")]


def test_it_finds_a_cycle_in_the_file():
    _, _, errors = check("code,name,parent\nA,A,C\nB,B,A\nC,C,B\nD,D,D\nE,E,A\n")
    assert where(errors) == [(UNITS, 2, "parent"), (UNITS, 3, "parent"), (UNITS, 4, "parent"), (UNITS, 5, "parent")]
    assert "A → C → B → A" in errors[0].reason
    assert "B → A → C → B" in errors[1].reason
    assert "D → D" in errors[3].reason


def test_it_finds_a_cycle_formed_with_existing_units():
    # Moving the top unit below its own grandchild: only one line in the file.
    _, _, errors = check("code,name,parent\nROOT,Root,HJ\n", existing=TREE)
    assert where(errors) == [(UNITS, 2, "parent")]
    assert "ROOT → HJ → HEL → ROOT" in errors[0].reason


def test_moving_an_existing_unit_elsewhere_is_not_a_cycle():
    units, _, errors = check("code,name,parent\nHJ,Hjemmetjenesten,ROOT\nHEL,Helse,HJ\n", existing=TREE)
    assert errors == []
    ordered = importer.parents_first(units.rows, TREE)
    assert [row.code for row in ordered] == ["HJ", "HEL"]


def test_references_may_point_into_the_other_file_or_the_organisation():
    _, _, errors = check(
        "code,name,parent,manager\nNEW,New,HEL,P1\nNEW2,New 2,NEW,T001\n",
        "employee_number,name,email,unit,position,start_date\nP1,Per,,NEW2,,01.01.2020\nP2,Pia,,HJ,,01.01.2020\n",
        existing=TREE,
    )
    assert errors == []


def test_an_unreadable_units_file_does_not_make_every_person_an_unknown_unit():
    _, _, errors = check(
        "kode;navn;overordnet\nA;Bjørk;\n".encode("latin-1"),
        "employee_number,name,email,unit,position,start_date\nP1,Per,,A,,01.01.2020\n",
    )
    assert where(errors) == [(UNITS, None, "")]


def test_columns_are_named_as_the_file_spells_them():
    _, _, errors = check(people="ansattnummer;navn;epost;enhet;stilling;startdato\n1;Kari;kari@;A;;01.01.2020\n",
                         existing=Existing({"A": None}, frozenset()))
    assert where(errors) == [(PEOPLE, 2, "epost")]
