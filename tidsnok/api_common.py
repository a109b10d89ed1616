"""Shared pieces of the JSON API: pagination and error shapes."""

import re
from decimal import Decimal
from typing import Annotated, Any

from django.conf import settings
from ninja import Field, Schema
from ninja.pagination import PaginationBase
from pydantic import BeforeValidator


_INTEGRAL = re.compile(r"\d{1,30}(?:\.0*)?(?:[eE]\+?\d{1,2})?")  # bounded: no million-digit numbers


def _integral(value):
    """A query string may write a large whole number in exponent form ("1e+16", as a JSON
    client's float prints it): read it exactly, as the whole number it is."""
    if isinstance(value, str) and _INTEGRAL.fullmatch(value.strip()):
        return int(Decimal(value.strip()))
    return value


PageNumber = Annotated[int, BeforeValidator(_integral)]


class Page(PaginationBase):
    """Page-number pagination: `?page=2&page_size=50` -> {"items": [...], "count": N}.

    The paginator instance is shared by all requests of an operation, so the
    page size is read from each request's input, never stored on `self`."""

    class Input(Schema):
        page: PageNumber = Field(1, ge=1, description="Page number, from 1.")
        page_size: int = Field(settings.API_PAGE_SIZE, ge=1, le=200, description="Items per page (at most 200).")

    def paginate_queryset(self, queryset, pagination: Input, **params) -> dict[str, Any]:
        count = self._items_count(queryset)
        offset = (pagination.page - 1) * pagination.page_size
        # A page past the end is simply empty. Not slicing it also keeps an
        # absurd page number from overflowing the database's 64-bit OFFSET.
        items = list(queryset[offset : offset + pagination.page_size]) if offset < count else []
        return {"items": items, "count": count}


class ErrorOut(Schema):
    message: str
    errors: dict[str, list[str]] | None = None
