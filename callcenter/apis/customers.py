"""REST API of customers and their orders, interactions, tickets and surveys.

Reads come from the list selectors (joins and prefetches inside) through the FilterSets;
writes validate shapes with an input serializer and call one service. Service refusals
(ApplicationError) become 400s in callcenter.errors.api_exception_handler.

Who may do what (roles are the groups of callcenter/migrations/0002_roles.py):

    endpoint / action                        agent  supervisor  admin
    read every list and detail                 x        x         x
    customers: contact details in full                  x         x
    customers: reveal one contact detail       x        x         x
    customers: create, update profile          x        x         x
    customers: set or change the advisor                x         x
    customers: add contact point, consent      x        x         x
    interactions: log (as oneself)             x        x         x
    interactions: log on behalf of another              x         x
    tickets: open                              x        x         x
    tickets: respond, customer reply, wait,    x*       x         x
      resume, resolve, reopen, change
    tickets: claim an unassigned one           x        x         x
    tickets: assign to anyone, unassign                 x         x
    tickets: history                           x        x         x

    * agents only tickets assigned to them or unassigned ones
      (callcenter.services.tickets.ticket_workable); others get 403.
    orders, surveys: create                                       x

Anonymous callers, bad tokens and users holding no role get 403 (the session authenticator
comes first and sends no WWW-Authenticate challenge, so DRF answers 403 rather than 401).

Agents see contact details masked (callcenter.masking); they reveal one with `reveal` (a
reason, audited, rate-limited). Their customer lists are capped per page, audited, and every
customer they read counts against an hourly budget (callcenter.services.customer_access).
"""

from collections.abc import Sequence
from typing import Any, ClassVar

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission, OperandHolder, SingleOperandHolder
from rest_framework.request import Request
from rest_framework.response import Response

from callcenter.choices import Role
from callcenter.filters import (
    CustomerFilter,
    InteractionFilter,
    OrderFilter,
    SurveyFilter,
    TicketFilter,
)
from callcenter.http import AuthenticatedRequest
from callcenter.models import Customer, Interaction, Order, SurveyResponse, Ticket
from callcenter.pagination import CheckedCursorPagination, CustomerCursorPagination
from callcenter.roles import MANAGER_ROLES, STAFF_ROLES, HasRole, has_role
from callcenter.selectors.activity import (
    customer_list,
    interaction_list,
    order_list,
    survey_list,
    ticket_history_list,
    ticket_list,
)
from callcenter.serializers import (
    ConsentInputSerializer,
    ConsentResultSerializer,
    ContactPointInputSerializer,
    ContactPointSerializer,
    ContactRevealInputSerializer,
    ContactRevealSerializer,
    CustomerCreateInputSerializer,
    CustomerSerializer,
    CustomerUpdateInputSerializer,
    InteractionInputSerializer,
    InteractionSerializer,
    OrderInputSerializer,
    OrderSerializer,
    SurveyInputSerializer,
    SurveySerializer,
    TicketAssignInputSerializer,
    TicketChangeInputSerializer,
    TicketInputSerializer,
    TicketMessageInputSerializer,
    TicketNoteInputSerializer,
    TicketResolveInputSerializer,
    TicketSerializer,
    TicketUpdateSerializer,
)
from callcenter.services.activity import (
    interaction_log,
    order_record,
    survey_record,
    ticket_open,
    ticket_resolve,
)
from callcenter.services.customer_access import (
    contact_point_reveal,
    customer_list_read_record,
    customer_reads_check,
)
from callcenter.services.customers import (
    contact_point_add,
    customer_consent_set,
    customer_create,
    customer_update,
)
from callcenter.services.tickets import (
    ticket_assign,
    ticket_change,
    ticket_customer_reply,
    ticket_reopen,
    ticket_respond,
    ticket_resume,
    ticket_wait,
)

ADMIN_ONLY = (Role.ADMIN,)
READ_ACTIONS = {"list": STAFF_ROLES, "retrieve": STAFF_ROLES}


class RoleMatrixMixin:
    """Checks the caller's role against `action_roles[action]`; unlisted actions are denied."""

    # Typed as APIView declares it, which the viewsets this mixes into inherit too.
    permission_classes: Sequence[type[BasePermission] | OperandHolder | SingleOperandHolder] = [
        HasRole
    ]
    action_roles: ClassVar[dict[str, tuple[str, ...]]] = {}
    # Declared by the viewset this mixes into.
    action: str

    @property
    def allowed_roles(self) -> tuple[str, ...]:
        return self.action_roles.get(self.action, ())


def _require_manager_for_advisor(
    request: AuthenticatedRequest, data: dict[str, Any], current_advisor_id: int | None = None
) -> None:
    # Assigning customers to advisors is supervisor work (DESIGN: task assignment). Sending the
    # advisor a customer already has (e.g. a PUT of the whole profile) assigns nothing.
    if "advisor" not in data:
        return
    advisor = data["advisor"]
    if (advisor.pk if advisor else None) == current_advisor_id:
        return
    if not has_role(request.user, MANAGER_ROLES):
        raise PermissionDenied(_("Only supervisors and admins may assign an advisor."))


@extend_schema_view(
    list=extend_schema(summary="List customers", responses=CustomerSerializer),
    retrieve=extend_schema(summary="Get a customer", responses=CustomerSerializer),
)
class CustomerViewSet(
    RoleMatrixMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Customers with their contact points (read-only here; add them with the action)."""

    request: AuthenticatedRequest
    serializer_class = CustomerSerializer
    filterset_class = CustomerFilter
    pagination_class = CustomerCursorPagination
    action_roles: ClassVar[dict[str, tuple[str, ...]]] = {
        **READ_ACTIONS,
        "create": STAFF_ROLES,
        "update": STAFF_ROLES,
        "partial_update": STAFF_ROLES,
        "contact_points": STAFF_ROLES,
        "consent": STAFF_ROLES,
        "reveal": STAFF_ROLES,
    }

    def get_queryset(self) -> QuerySet[Customer]:
        return customer_list()

    def _output(self, pk: int, status_code: int = status.HTTP_200_OK) -> Response:
        customer = customer_list().get(pk=pk)
        return Response(self.get_serializer(customer).data, status=status_code)

    def list(self, request: Request) -> Response:
        # `request` is typed as ListModelMixin declares it; self.request is the same request.
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        assert page is not None  # pagination_class is set
        filters = {key: value for key, value in request.query_params.items() if key != "cursor"}
        customer_list_read_record(
            user=self.request.user,
            customer_ids=[customer.pk for customer in page],
            filters=filters,
            via="api",
        )
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        # `request` is typed as RetrieveModelMixin declares it; self.request is the same request.
        customer = self.get_object()
        customer_reads_check(user=self.request.user, customer_ids=[customer.pk])
        return Response(self.get_serializer(customer).data)

    @extend_schema(
        summary="Create a customer",
        request=CustomerCreateInputSerializer,
        responses={201: CustomerSerializer},
    )
    def create(self, request: AuthenticatedRequest) -> Response:
        serializer = CustomerCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        _require_manager_for_advisor(request, serializer.validated_data)
        customer = customer_create(**serializer.validated_data, created_by=request.user)
        return self._output(customer.pk, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Replace a customer's profile fields",
        request=CustomerUpdateInputSerializer,
        responses=CustomerSerializer,
    )
    def update(self, request: AuthenticatedRequest, pk: str | None = None) -> Response:
        return self._update(request, partial=False)

    @extend_schema(
        summary="Change some of a customer's profile fields",
        request=CustomerUpdateInputSerializer,
        responses=CustomerSerializer,
    )
    def partial_update(self, request: AuthenticatedRequest, pk: str | None = None) -> Response:
        return self._update(request, partial=True)

    def _update(self, request: AuthenticatedRequest, *, partial: bool) -> Response:
        customer = self.get_object()
        serializer = CustomerUpdateInputSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        _require_manager_for_advisor(request, serializer.validated_data, customer.advisor_id)
        customer_update(customer=customer, updated_by=request.user, **serializer.validated_data)
        return self._output(customer.pk)

    @extend_schema(
        summary="Add a contact point",
        request=ContactPointInputSerializer,
        responses={201: ContactPointSerializer},
    )
    @action(detail=True, methods=["post"], url_path="contact-points")
    def contact_points(self, request: AuthenticatedRequest, pk: str | None = None) -> Response:
        customer = self.get_object()
        serializer = ContactPointInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        point = contact_point_add(customer=customer, **serializer.validated_data)
        return Response(
            ContactPointSerializer(point, context=self.get_serializer_context()).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(
        summary="Reveal one contact detail in full (audited)",
        description=(
            "For agents, who see contact details masked: one active contact point of this "
            "customer in full, e.g. to dial a callback. The reason is required and recorded "
            "in the audit log with the agent, the customer and the contact point. Each agent "
            "may reveal a limited number of contact points per hour "
            "(`AGENT_CONTACT_REVEALS_PER_HOUR`); beyond it the answer is 429 with "
            "`Retry-After`."
        ),
        request=ContactRevealInputSerializer,
        responses={200: ContactRevealSerializer},
    )
    @action(detail=True, methods=["post"])
    def reveal(self, request: AuthenticatedRequest, pk: str | None = None) -> Response:
        customer = self.get_object()
        serializer = ContactRevealInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        point = contact_point_reveal(
            actor=request.user,
            customer_id=customer.pk,
            contact_point_id=serializer.validated_data["contact_point"],
            reason=serializer.validated_data["reason"],
            via="api",
        )
        return Response(ContactRevealSerializer(point).data)

    @extend_schema(
        summary="Set an opt-out flag",
        request=ConsentInputSerializer,
        responses=ConsentResultSerializer,
    )
    @action(detail=True, methods=["post"])
    def consent(self, request: AuthenticatedRequest, pk: str | None = None) -> Response:
        customer = self.get_object()
        serializer = ConsentInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        changed = customer_consent_set(
            customer=customer, changed_by=request.user, **serializer.validated_data
        )
        fresh = customer_list().get(pk=customer.pk)
        customer_data = self.get_serializer(fresh).data
        return Response({"changed": changed, "customer": customer_data})


@extend_schema_view(
    list=extend_schema(summary="List orders"),
    retrieve=extend_schema(summary="Get an order"),
)
class OrderViewSet(
    RoleMatrixMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Orders; creating one upserts by `external_id` (order systems push them in)."""

    serializer_class = OrderSerializer
    filterset_class = OrderFilter
    action_roles: ClassVar[dict[str, tuple[str, ...]]] = {**READ_ACTIONS, "create": ADMIN_ONLY}

    def get_queryset(self) -> QuerySet[Order]:
        return order_list()

    @extend_schema(
        summary="Record an order (upsert by external id)",
        request=OrderInputSerializer,
        responses={201: OrderSerializer},
    )
    def create(self, request: AuthenticatedRequest) -> Response:
        serializer = OrderInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        order = order_record(**serializer.validated_data)
        return Response(OrderSerializer(order).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    list=extend_schema(summary="List interactions"),
    retrieve=extend_schema(summary="Get an interaction"),
)
class InteractionViewSet(
    RoleMatrixMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Calls, messages and chats with customers; sentiment is computed from the notes."""

    serializer_class = InteractionSerializer
    filterset_class = InteractionFilter
    action_roles: ClassVar[dict[str, tuple[str, ...]]] = {**READ_ACTIONS, "create": STAFF_ROLES}

    def get_queryset(self) -> QuerySet[Interaction]:
        return interaction_list()

    @extend_schema(
        summary="Log an interaction",
        request=InteractionInputSerializer,
        responses={201: InteractionSerializer},
    )
    def create(self, request: AuthenticatedRequest) -> Response:
        serializer = InteractionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        agent = data.pop("agent") or request.user
        if agent.pk != request.user.pk and not has_role(request.user, MANAGER_ROLES):
            raise PermissionDenied(_("Only supervisors and admins may log for another agent."))
        interaction = interaction_log(agent=agent, **data)
        interaction = interaction_list().get(pk=interaction.pk)
        return Response(InteractionSerializer(interaction).data, status=status.HTTP_201_CREATED)


class TicketHistoryPagination(CheckedCursorPagination):
    """A ticket's history, oldest first."""

    ordering = ("at", "id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


@extend_schema_view(
    list=extend_schema(summary="List tickets"),
    retrieve=extend_schema(summary="Get a ticket"),
)
class TicketViewSet(
    RoleMatrixMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Inquiries, complaints and suggestions, and working them (callcenter.services.tickets):
    every role reads every ticket; agents work only theirs and unassigned ones (403)."""

    request: AuthenticatedRequest
    serializer_class = TicketSerializer
    filterset_class = TicketFilter
    action_roles: ClassVar[dict[str, tuple[str, ...]]] = {
        **READ_ACTIONS,
        "create": STAFF_ROLES,
        "resolve": STAFF_ROLES,
        "respond": STAFF_ROLES,
        "customer_reply": STAFF_ROLES,
        "wait": STAFF_ROLES,
        "resume": STAFF_ROLES,
        "assign": STAFF_ROLES,
        "reopen": STAFF_ROLES,
        "change": STAFF_ROLES,
        "history": STAFF_ROLES,
    }

    def get_queryset(self) -> QuerySet[Ticket]:
        return ticket_list()

    def _output(self, pk: int, status_code: int = status.HTTP_200_OK) -> Response:
        return Response(TicketSerializer(ticket_list().get(pk=pk)).data, status=status_code)

    def _input(self, serializer_class: type[serializers.Serializer]) -> dict[str, Any]:
        serializer = serializer_class(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    @extend_schema(
        summary="Open a ticket",
        request=TicketInputSerializer,
        responses={201: TicketSerializer},
    )
    def create(self, request: AuthenticatedRequest) -> Response:
        ticket = ticket_open(**self._input(TicketInputSerializer), by=request.user)
        return self._output(ticket.pk, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Resolve a ticket (resolving again changes nothing)",
        request=TicketResolveInputSerializer,
        responses=TicketSerializer,
    )
    @action(detail=True, methods=["post"])
    def resolve(self, request: AuthenticatedRequest, pk: str | None = None) -> Response:
        ticket = self.get_object()
        ticket_resolve(ticket=ticket, by=request.user, **self._input(TicketResolveInputSerializer))
        return self._output(ticket.pk)

    @extend_schema(
        summary="Record a response to the customer",
        description=(
            "What was said, optionally by which channel. The first response sets "
            "`first_responded_at`; an open ticket moves to in progress."
        ),
        request=TicketMessageInputSerializer,
        responses=TicketSerializer,
    )
    @action(detail=True, methods=["post"])
    def respond(self, request: AuthenticatedRequest, pk: str | None = None) -> Response:
        ticket = self.get_object()
        ticket_respond(ticket=ticket, by=request.user, **self._input(TicketMessageInputSerializer))
        return self._output(ticket.pk)

    @extend_schema(
        summary="Record that the customer wrote back (ends waiting on the customer)",
        request=TicketMessageInputSerializer,
        responses=TicketSerializer,
    )
    @action(detail=True, methods=["post"], url_path="customer-reply")
    def customer_reply(self, request: AuthenticatedRequest, pk: str | None = None) -> Response:
        ticket = self.get_object()
        ticket_customer_reply(
            ticket=ticket, by=request.user, **self._input(TicketMessageInputSerializer)
        )
        return self._output(ticket.pk)

    @extend_schema(
        summary="Wait on the customer (pauses the SLA clock)",
        request=TicketNoteInputSerializer,
        responses=TicketSerializer,
    )
    @action(detail=True, methods=["post"])
    def wait(self, request: AuthenticatedRequest, pk: str | None = None) -> Response:
        ticket = self.get_object()
        ticket_wait(ticket=ticket, by=request.user, **self._input(TicketNoteInputSerializer))
        return self._output(ticket.pk)

    @extend_schema(
        summary="Stop waiting on the customer",
        request=TicketNoteInputSerializer,
        responses=TicketSerializer,
    )
    @action(detail=True, methods=["post"])
    def resume(self, request: AuthenticatedRequest, pk: str | None = None) -> Response:
        ticket = self.get_object()
        ticket_resume(ticket=ticket, by=request.user, **self._input(TicketNoteInputSerializer))
        return self._output(ticket.pk)

    @extend_schema(
        summary="Assign a ticket (agents: claim an unassigned one)",
        request=TicketAssignInputSerializer,
        responses=TicketSerializer,
    )
    @action(detail=True, methods=["post"])
    def assign(self, request: AuthenticatedRequest, pk: str | None = None) -> Response:
        ticket = self.get_object()
        ticket_assign(ticket=ticket, by=request.user, **self._input(TicketAssignInputSerializer))
        return self._output(ticket.pk)

    @extend_schema(
        summary="Reopen a resolved ticket",
        request=TicketNoteInputSerializer,
        responses=TicketSerializer,
    )
    @action(detail=True, methods=["post"])
    def reopen(self, request: AuthenticatedRequest, pk: str | None = None) -> Response:
        ticket = self.get_object()
        ticket_reopen(ticket=ticket, by=request.user, **self._input(TicketNoteInputSerializer))
        return self._output(ticket.pk)

    @extend_schema(
        summary="Change a ticket's kind, priority or channel",
        request=TicketChangeInputSerializer,
        responses=TicketSerializer,
    )
    @action(detail=True, methods=["post"])
    def change(self, request: AuthenticatedRequest, pk: str | None = None) -> Response:
        ticket = self.get_object()
        ticket_change(ticket=ticket, by=request.user, **self._input(TicketChangeInputSerializer))
        return self._output(ticket.pk)

    @extend_schema(
        summary="A ticket's history, oldest first",
        responses=TicketUpdateSerializer(many=True),
    )
    @action(
        detail=True,
        methods=["get"],
        pagination_class=TicketHistoryPagination,
        filterset_class=None,
        serializer_class=TicketUpdateSerializer,
    )
    def history(self, request: AuthenticatedRequest, pk: str | None = None) -> Response:
        ticket = self.get_object()
        page = self.paginate_queryset(ticket_history_list(ticket_id=ticket.pk))
        assert page is not None  # pagination_class is set
        return self.get_paginated_response(TicketUpdateSerializer(page, many=True).data)


@extend_schema_view(
    list=extend_schema(summary="List survey responses"),
    retrieve=extend_schema(summary="Get a survey response"),
)
class SurveyViewSet(
    RoleMatrixMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """NPS (0-10) and CSAT (1-5) answers."""

    serializer_class = SurveySerializer
    filterset_class = SurveyFilter
    action_roles: ClassVar[dict[str, tuple[str, ...]]] = {**READ_ACTIONS, "create": ADMIN_ONLY}

    def get_queryset(self) -> QuerySet[SurveyResponse]:
        return survey_list()

    @extend_schema(
        summary="Record a survey response",
        request=SurveyInputSerializer,
        responses={201: SurveySerializer},
    )
    def create(self, request: AuthenticatedRequest) -> Response:
        serializer = SurveyInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        response = survey_record(**serializer.validated_data)
        return Response(SurveySerializer(response).data, status=status.HTTP_201_CREATED)
