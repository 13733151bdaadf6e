"""Pagination for the API: cursors, so big lists stay fast at any depth."""

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import NotFound
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.request import Request

from callcenter.masking import contacts_visible_in_full


class CheckedCursorPagination(CursorPagination):
    """Cursor pagination that refuses a cursor whose position does not fit the ordering field.

    A cursor is base64 text the client sends back; DRF checks its offset but passes the
    position straight into the query, so a forged one (`p=abc` for an id, a NUL character)
    failed there as a server error. It is checked against the field first and refused like
    any other invalid cursor (404 with a message).
    """

    # Lazy, translated per request (the stubs expect a str; DRF only formats it).
    invalid_cursor_message = _(  # type: ignore[assignment]
        "Invalid cursor: follow the next or previous link of a page this list returned."
    )

    # A QuerySet only, as DRF's cursor pagination needs (it orders and filters it); the stubs
    # accept any sequence.
    def paginate_queryset(  # type: ignore[override]
        self, queryset: QuerySet, request: Request, view: Any = None
    ) -> list | None:
        self._queryset = queryset
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request: Request) -> Cursor | None:
        cursor = super().decode_cursor(request)
        if cursor is not None and cursor.position is not None:
            # Text from the query string; the stubs type Cursor.position as an int.
            self._position_check(cursor.position)  # type: ignore[arg-type]
        return cursor

    def _position_check(self, position: str) -> None:
        field = self.ordering[0].lstrip("-")
        if "\x00" in position:
            raise NotFound(self.invalid_cursor_message)
        try:
            # Building the filter converts the position to the field's type (no query runs).
            self._queryset.filter(**{f"{field}__gt": position})
        except (ValueError, TypeError, ValidationError) as exc:
            raise NotFound(self.invalid_cursor_message) from exc


class DefaultCursorPagination(CheckedCursorPagination):
    """Cursor pagination newest first by id (ids grow with time and are indexed)."""

    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class CustomerCursorPagination(DefaultCursorPagination):
    """Pages of customers: agents (who see contact details masked) get at most
    AGENT_CUSTOMER_PAGE_SIZE_MAX per page, whatever `page_size` asks; others up to 500."""

    def get_page_size(self, request: Request) -> int:
        size = super().get_page_size(request)
        assert size is not None  # page_size is set
        if contacts_visible_in_full(request.user):
            return size
        return min(size, settings.AGENT_CUSTOMER_PAGE_SIZE_MAX)
