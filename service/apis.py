"""REST API of the service app: the ticket workspace list with each ticket's SLA.

    endpoint                       agent                           supervisor  admin
    GET /api/service/tickets/      theirs and unassigned ones      all         all

Customer phones are masked for agents (callcenter.masking), as on the pages.
"""

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response

from callcenter.http import AuthenticatedRequest
from callcenter.roles import STAFF_ROLES, HasRole
from service.selectors.tickets import TicketQuery, ticket_workspace_list
from service.serializers import ServiceTicketQuerySerializer, ServiceTicketSerializer


class ServiceTicketPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


def ticket_query_from(data: dict[str, Any]) -> TicketQuery:
    """The list's query from validated filters (`ServiceTicketQuerySerializer`)."""
    assignee = data.get("assignee", "")
    return TicketQuery(
        scope={"me": "mine", "none": "unassigned"}.get(assignee, ""),
        assignee_id=int(assignee) if assignee.isdigit() else None,
        statuses=tuple(sorted(data.get("status") or ())),
        kind=data.get("kind", ""),
        priority=data.get("priority", ""),
        sla_states=tuple(sorted(data.get("sla") or ())),
        customer_id=data.get("customer"),
        ordering=data.get("ordering", "sla"),
    )


class ServiceTicketListApi(GenericAPIView):
    """Tickets with their SLA, the nearest due first."""

    request: AuthenticatedRequest
    permission_classes = [HasRole]
    allowed_roles = STAFF_ROLES
    serializer_class = ServiceTicketSerializer
    pagination_class = ServiceTicketPagination
    filter_backends: list[Any] = []

    def get_queryset(self) -> Any:
        """The caller's workspace for the query's filters (a bad filter is a 400)."""
        params = ServiceTicketQuerySerializer(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        query = ticket_query_from(params.validated_data)
        return ticket_workspace_list(user=self.request.user, query=query, now=timezone.now())

    @extend_schema(
        summary="List tickets with their SLA (the ticket workspace)",
        description=(
            "Agents get the tickets assigned to them and the unassigned ones; supervisors and "
            "admins every ticket. `sla.state`: ok, warning (breaching soon, warned by the "
            "sweep), breached, paused (waiting on the customer), met, none (no SLA)."
        ),
        parameters=[ServiceTicketQuerySerializer],
        responses=ServiceTicketSerializer(many=True),
    )
    def get(self, request: AuthenticatedRequest) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        assert page is not None  # pagination_class is set
        return self.get_paginated_response(self.get_serializer(page, many=True).data)
