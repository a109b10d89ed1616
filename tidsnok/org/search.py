"""Finding people by what a user types: names or employee numbers, several separated by commas
(a case may concern one person and name another as a party)."""

from django.db.models import Q
from django.db.models.functions import Lower
from django.db.models.lookups import Contains

MAX_LENGTH = 200
MAX_TERMS = 10


def asked(params) -> str:
    """The search as typed in the form's `sok` field (GET or POST)."""
    return params.get("sok", "").strip()[:MAX_LENGTH]


def terms(text: str) -> list[str]:
    return [term.strip() for term in (text or "").split(",") if term.strip()][:MAX_TERMS]


def more_than(people, limit: int) -> bool:
    """Whether the query has more than `limit` rows, counted before anything is sorted or built:
    HR's 50,000 names would otherwise be sorted only to learn that they are too many."""
    return len(people.order_by().values_list("pk", flat=True)[: limit + 1]) > limit


def people_matching(text: str) -> Q:
    """Q for Person rows whose name contains one of the terms, or whose employee number is one.
    Empty text matches everyone."""
    condition = Q()
    for term in terms(text):
        condition |= name_contains(term) | Q(employee_number=term)
    return condition


# SQLite's LIKE and LOWER() fold ASCII letters only: "åse" would never find "Åse Ødegård". The
# function is registered on every SQLite connection (org.apps); PostgreSQL's LOWER() folds
# every letter of a UTF-8 database.
SQLITE_LOWER = "tidsnok_lower"


def sqlite_lower(value):
    return value.lower() if isinstance(value, str) else value


class UnicodeLower(Lower):
    def as_sqlite(self, compiler, connection, **extra_context):
        return super().as_sql(compiler, connection, function=SQLITE_LOWER, **extra_context)


def name_contains(term: str) -> Q:
    """Q for Person rows whose name contains the term, in any letter case."""
    if term.isascii():
        # An ASCII term cannot match a letter outside ASCII, and LIKE folds ASCII on every
        # database; here SQLite still walks the rows in C, not through a Python function.
        return Q(name__icontains=term)
    return Q(Contains(UnicodeLower("name"), term.lower()))


def chosen_unit(units, wanted):
    """The unit asked for (its id as typed in the form's `enhet` field) if it is among `units`,
    else the first of them; None when there are none. One query: HR's list of 2,687 units is
    built only when a page shows it, not for a form that is saved."""
    if str(wanted or "").isdigit():
        found = units.filter(pk=int(wanted)).first()
        if found is not None:
            return found
    return units.first()
