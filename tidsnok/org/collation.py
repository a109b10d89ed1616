"""People's names in Norwegian alphabetical order, the same on SQLite and PostgreSQL.

Both databases compare names here by code point (SQLite always; PostgreSQL in the C locale a
cluster may be made with): "Åse" came before "Ærlig" and "Øystein", where Norwegian puts Å last,
and "de Vries" after "Zahl". A collation would not do on SQLite: an index that names one makes the
table unwritable for any program that does not define it (the sqlite3 shell, a backup tool).
So each person has a sort key the database computes from the name (a generated column,
indexed like the name was): the letters Norwegian orders after z put where they belong, accents
that do not make another letter dropped, the case folded. Lists stop after a page by that index
instead of sorting 50,000 names.
"""

from django.db import models
from django.db.models import F, Value
from django.db.models.functions import Lower, Replace

# What a letter sorts as. '{', '|' and '}' are the three characters after 'z': æ, ø, å, in that
# order (with ä and ö, as Norwegian dictionaries and phone books file them). Accents that do not
# make a letter of their own sort with the base letter: é and è (André, Hélène), á (the Sami
# Máret), ü (filed as y). Each letter is one more REPLACE() around the name, in both cases, and
# SQLite's parser refuses a column definition nested about 30 deep: the list stops at the letters
# of names a Norwegian employer meets often; others sort after å.
SORTS_AS = {
    "æ": "{", "ä": "{", "ø": "|", "ö": "|", "å": "}",
    "é": "e", "è": "e", "á": "a", "ü": "y",
}
# Both cases of each: SQLite's lower() folds ASCII letters only.
_CHARACTERS = {c: key for letter, key in SORTS_AS.items() for c in (letter, letter.upper())}


class CodePointText(models.CharField):
    """Text compared by code point on either database. SQLite always does; a PostgreSQL database
    made in a locale such as nb_NO.UTF-8 or en_US.UTF-8 would skip '{', '|' and '}' as
    punctuation when it compares, and file "Ærlig" ("{rlig") under R."""

    def db_parameters(self, connection):
        parameters = super().db_parameters(connection)
        if connection.vendor == "postgresql":
            parameters["collation"] = "C"
        return parameters


def sort_key(name: str) -> str:
    """The sort key of a name, as the database computes it (for lists sorted in Python)."""
    return "".join(_CHARACTERS.get(c, c.lower() if c.isascii() else c) for c in name)


def sort_key_expression(field: str):
    """The database expression of sort_key() over a text field."""
    expression = F(field)
    for character, key in _CHARACTERS.items():
        expression = Replace(expression, Value(character), Value(key))
    return Lower(expression)
