"""Shared pieces of the JSON API: pagination and error shapes."""

from django.conf import settings
from ninja import Field, Schema
from ninja.pagination import PageNumberPagination


class Page(PageNumberPagination):
    class Input(Schema):
        page: int = Field(1, ge=1)
        page_size: int = Field(settings.API_PAGE_SIZE, ge=1, le=200)

    def paginate_queryset(self, queryset, pagination: Input, **params):
        self.page_size = pagination.page_size
        return super().paginate_queryset(queryset, PageNumberPagination.Input(page=pagination.page), **params)


class ErrorOut(Schema):
    message: str
    errors: dict[str, list[str]] | None = None
