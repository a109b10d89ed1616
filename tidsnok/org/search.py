"""Finding people by what a user types: names or employee numbers, several separated by commas
(a case may concern one person and name another as a party)."""

import re

from django.db.models import CharField, Q, QuerySet
from django.db.models.lookups import IContains, Lookup

from tidsnok.org.models import Unit

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


def listed(people, limit: int, order: tuple, search: str) -> list | None:
    """The people in `order`, or None when there are more than `limit`. Found by a search (the text
    as typed), they are few as a rule: read once, sorted (each read of HR's search is a scan of
    50,000 names). Without one, they are counted first, unsorted (more_than)."""
    if not terms(search):
        return None if more_than(people, limit) else list(people.order_by(*order))
    rows = list(people.order_by(*order)[: limit + 1])
    return None if len(rows) > limit else rows


def people_matching(text: str) -> Q:
    """Q for Person rows whose name contains one of the terms, or whose employee number is one.
    Empty text matches everyone."""
    condition = Q()
    for term in terms(text):
        condition |= name_contains(term) | Q(employee_number=term)
    return condition


# SQLite's LIKE and LOWER() fold ASCII letters only: "åse" would never find "Åse Ødegård". The
# function is registered on every SQLite connection (org.apps).
SQLITE_LOWER = "tidsnok_lower"


def sqlite_lower(value):
    return value.lower() if isinstance(value, str) else value


@CharField.register_lookup
class FoldedContains(IContains):
    """`name__foldcontains=term`: contains the term in any letter case, æ, ø and å too.

    PostgreSQL's UPPER() folds every letter of a UTF-8 database, so there it is `icontains`, which
    the trigram index on UPPER(name) answers (org migration 0005). On SQLite a term with a letter
    outside ASCII is compared through the Python function; the term's ASCII stretches, which any
    name containing it contains too, are tested before it, in C, so that the function sees a few
    rows of the 50,000 instead of all of them."""

    lookup_name = "foldcontains"

    # The backends know the SQL of `icontains` (UPPER(...::text) and LIKE on PostgreSQL) by name.
    def process_lhs(self, compiler, connection, lhs=None):
        lhs_sql, params = Lookup.process_lhs(self, compiler, connection, lhs)
        internal_type = self.lhs.output_field.get_internal_type()
        return connection.ops.lookup_cast("icontains", internal_type) % lhs_sql, tuple(params)

    def get_rhs_op(self, connection, rhs):
        return connection.operators["icontains"] % rhs

    def as_sqlite(self, compiler, connection):
        term = self.rhs
        if not isinstance(term, str) or term.isascii():
            return super().as_sql(compiler, connection)
        lhs_sql, lhs_params = self.process_lhs(compiler, connection)
        like = connection.operators["icontains"]
        parts, params = [], []
        for stretch in re.split(r"[^\x00-\x7f]+", term):
            if stretch.strip():
                parts.append(f"{lhs_sql} {like}")
                params += [*lhs_params, f"%{connection.ops.prep_for_like_query(stretch)}%"]
        parts.append(f"{SQLITE_LOWER}({lhs_sql}) {like}")
        params += [*lhs_params, f"%{connection.ops.prep_for_like_query(term.lower())}%"]
        return "(" + " AND ".join(parts) + ")", params


def name_contains(term: str) -> Q:
    """Q for Person rows whose name contains the term, in any letter case."""
    return Q(name__foldcontains=term)


def unit_choices(units) -> list:
    """The units of a finder's list as rows with `pk` and `name`, in the queryset's order: HR in a
    municipality chooses among thousands, and a model instance each cost more than the rest of the
    page."""
    if isinstance(units, QuerySet):
        return list(units.values_list("pk", "name", named=True))
    return list(units)


def in_unit(people, unit):
    """The people of a Person query who are in the unit or below it. The organisation's only root
    holds everyone: its condition is left out, for on SQLite it walked all 50,000 people unit by
    unit, slower than reading them in the table's order (HR searching everyone by name)."""
    if unit.parent_id is None and not (
        Unit.objects.filter(organisation_id=unit.organisation_id, parent__isnull=True).exclude(pk=unit.pk).exists()
    ):
        return people.filter(organisation_id=unit.organisation_id)
    return people.filter(unit__path__startswith=unit.path)


def chosen_unit(units, wanted):
    """The unit asked for (its id as typed in the form's `enhet` field) if it is among `units`,
    else the first of them; None when there are none. One query: HR's list of 2,687 units is
    built only when a page shows it, not for a form that is saved."""
    if str(wanted or "").isdigit():
        found = units.filter(pk=int(wanted)).first()
        if found is not None:
            return found
    return units.first()
