"""Pagination for the API: cursors, so big lists stay fast at any depth."""

from rest_framework.pagination import CursorPagination


class DefaultCursorPagination(CursorPagination):
    """Cursor pagination newest first by id (ids grow with time and are indexed)."""

    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
