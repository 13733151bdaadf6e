"""Screen-pop API: who is calling, looked up by the caller's number in any format."""

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.http import HttpResponse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from callcenter.errors import ApplicationError
from callcenter.http import AuthenticatedRequest
from callcenter.masking import contacts_visible_in_full
from callcenter.roles import IsAgent
from callcenter.selectors.screenpop import screenpop_card_json

if TYPE_CHECKING:
    # Types only: the stubs declare what APIView.as_view returns.
    from rest_framework.views import AsView, GenericView

_KNOWN_EXAMPLE = {
    "known": True,
    "phone": "+8613*****8000",
    "customer": {
        "id": 42,
        "external_id": "C000042",
        "name": "王芳",
        "kind": "person",
        "company_name": "",
        "city": "上海",
        "language": "zh-hans",
        "timezone": "Asia/Shanghai",
        "birthday": "1988-05-04",
        "consent": {
            "sms_opt_out": False,
            "call_opt_out": False,
            "email_opt_out": False,
            "do_not_contact": False,
            "wechat_opt_out": False,
            "wecom_opt_out": False,
        },
        "advisor": {"id": 7, "username": "li.na", "name": "Li Na"},
    },
    "contact_points": [
        {
            "id": 88,
            "kind": "phone",
            "system": "",
            "value": "+8613*****8000",
            "label": "mobile",
            "is_primary": True,
        }
    ],
    "recent_interactions": [
        {
            "id": 901,
            "occurred_at": "2025-03-01T02:15:00Z",
            "channel": "call",
            "direction": "inbound",
            "reason": "delivery",
            "outcome": "callback promised",
            "sentiment": -0.62,
            "agent": {"id": 3, "username": "agent1", "name": "agent1"},
        }
    ],
    "open_tickets": [
        {
            "id": 77,
            "kind": "complaint",
            "status": "open",
            "priority": "high",
            "subject": "Late delivery",
            "opened_at": "2025-03-01T02:20:00Z",
        }
    ],
    "orders": {
        "paid_count": 12,
        "total_spend": "5388.00",
        "last_order_at": "2025-02-20T11:00:00Z",
        "recent": [
            {
                "id": 5001,
                "external_id": "O0005001",
                "placed_at": "2025-02-20T11:00:00Z",
                "amount": "399.00",
                "currency": "CNY",
                "category": "electronics",
                "status": "paid",
            }
        ],
    },
    "account": {
        "id": 40,
        "name": "远航物流",
        "company_name": "远航物流有限公司",
        "industry": "Logistics",
        "advisor": {"id": 7, "username": "li.na", "name": "Li Na"},
        "caller_role": "user",
        "open_tickets": [
            {
                "id": 81,
                "kind": "complaint",
                "status": "open",
                "priority": "high",
                "subject": "Invoice dispute",
                "opened_at": "2025-02-28T09:00:00Z",
                "customer": {"id": 43, "name": "李强"},
            }
        ],
        "stakeholders": [{"id": 43, "name": "李强", "role": "finance", "phone": "+8613*****9000"}],
    },
}


class JsonOnlyNegotiation(BaseContentNegotiation):
    """The view's only renderer and parser, whatever the Accept header says (DRF's
    "ignore client content negotiation"). DRF's default parses Accept against every
    renderer on every request, a noticeable share of a screen-pop's Python time, to choose
    among one."""

    def select_parser(self, request: Request, parsers: Iterable[BaseParser]) -> BaseParser | None:
        return next(iter(parsers), None)

    def select_renderer(
        self,
        request: Request,
        renderers: Iterable[BaseRenderer],
        format_suffix: str | None = None,
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type


class ScreenpopApi(APIView):
    """The card of the customer owning a phone number; any call-center role may ask."""

    permission_classes = [IsAgent]
    # JSON only, no request body: DRF instantiates every renderer and parser class on every
    # request, and this one runs on every ringing call.
    renderer_classes = [JSONRenderer]
    parser_classes: list[type] = []
    content_negotiation_class = JsonOnlyNegotiation

    @classmethod
    def as_view(cls, **initkwargs: Any) -> "AsView[GenericView]":
        # A read-only view: outside ATOMIC_REQUESTS it saves the BEGIN and COMMIT round trips
        # on every call. The card's statements still share one snapshot (one simple query).
        return transaction.non_atomic_requests(super().as_view(**initkwargs))

    def handle_exception(self, exc: Exception) -> Response:
        # DRF's exception handler marks the innermost atomic block for rollback (it expects
        # ATOMIC_REQUESTS); give the error path a block of its own so that an enclosing
        # transaction (a test's, a caller's) is left alone. No query runs in it.
        with transaction.atomic():
            return super().handle_exception(exc)

    @extend_schema(
        summary="Screen-pop: the caller's customer card",
        description=(
            "Looks the number up in any format (`13800138000`, `+86 138 0013 8000`, "
            "`0086-138-0013-8000`). An unknown or invalid number is not an error: the answer is "
            '`{"known": false, "phone": ..., "message": "unknown caller"}`. Later sections '
            "(segments, tasks, suggested script) appear as extra top-level keys. Agents get "
            "the caller's number and the contact points masked (as in the example); "
            "supervisors and admins get them in full. An agent who must dial a number "
            "reveals it with `POST /api/customers/{id}/reveal/`."
        ),
        parameters=[
            OpenApiParameter(
                "phone",
                OpenApiTypes.STR,
                OpenApiParameter.QUERY,
                required=True,
                description="The caller's number, any format.",
            )
        ],
        responses={
            200: OpenApiResponse(
                response=OpenApiTypes.OBJECT,
                description="The card of a known caller, or known=false.",
                examples=[
                    OpenApiExample("Known caller", value=_KNOWN_EXAMPLE),
                    OpenApiExample(
                        "Unknown caller",
                        value={
                            "known": False,
                            "phone": "+8613900000000",
                            "message": "unknown caller",
                        },
                    ),
                ],
            ),
            400: OpenApiResponse(description="The phone parameter is missing."),
        },
    )
    def get(self, request: AuthenticatedRequest) -> HttpResponse:
        phone = (request.query_params.get("phone") or "").strip()
        if not phone:
            raise ApplicationError(
                _("The phone parameter is required, e.g. /api/screenpop/?phone=13800138000.")
            )
        # The card arrives as JSON text built by PostgreSQL: sent on as it is, not decoded
        # and encoded again.
        card = screenpop_card_json(
            phone=phone, full_contacts=contacts_visible_in_full(request.user)
        )
        return HttpResponse(card, content_type="application/json")
