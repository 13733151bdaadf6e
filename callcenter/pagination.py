"""Pagination for the API: cursors, so big lists stay fast at any depth."""

from django.conf import settings
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request

from callcenter.masking import contacts_visible_in_full


class DefaultCursorPagination(CursorPagination):
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
        if contacts_visible_in_full(request.user):
            return size
        return min(size, settings.AGENT_CUSTOMER_PAGE_SIZE_MAX)
