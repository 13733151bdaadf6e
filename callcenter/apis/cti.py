"""CTI API: the phone system tells us a call rings (or was answered, or ended) for an agent."""

from typing import ClassVar

from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from callcenter.roles import STAFF_ROLES, has_role
from callcenter.services.cti import CALL_EVENTS, cti_call_event
from outreach.permissions import HasWebhookSignature, is_signed


class CallEventInputSerializer(serializers.Serializer):
    event = serializers.ChoiceField(choices=CALL_EVENTS)
    call_id = serializers.CharField(max_length=128)
    caller = serializers.CharField(max_length=64, help_text=_("The caller's number, any format."))
    agent = serializers.CharField(
        max_length=150, help_text=_("The agent's username or telephony extension.")
    )


class CallEventResultSerializer(serializers.Serializer):
    event = serializers.CharField()
    call_id = serializers.CharField()
    phone = serializers.CharField(help_text=_("The caller's number in E.164."))
    known = serializers.BooleanField()
    customer_id = serializers.IntegerField(allow_null=True)
    name = serializers.CharField()
    agent = serializers.CharField()
    delivered = serializers.IntegerField(help_text=_("Open desks of the agent that got it."))


class StaffOrSignature(BasePermission):
    """A signed-in call-center user (session or API token), or a request signed like the
    outreach webhooks (X-Timestamp, X-Signature; replays refused) for a phone system that
    holds the shared secret instead of a token."""

    message = _("Sign the request or authenticate as a call-center user.")

    def has_permission(self, request: Request, view: APIView) -> bool:
        if has_role(request.user, STAFF_ROLES):
            return True
        return is_signed(request) and HasWebhookSignature().has_permission(request, view)


class CtiCallEventApi(APIView):
    """A call event from the phone system; pops the caller's card on the agent's desk."""

    permission_classes: ClassVar[list] = [StaffOrSignature]

    @extend_schema(
        summary="CTI call event: pop the caller's card on the agent's desk",
        description=(
            "Authenticate with an API token (or session) of a call-center user, or sign the "
            "body like the outreach webhooks. The caller is looked up by number (any format) "
            "and the agent's open desk pages get the event live (server-sent events); the "
            "answer says whom the number belongs to and how many desks were notified."
        ),
        parameters=[
            OpenApiParameter("X-Timestamp", str, OpenApiParameter.HEADER, required=False),
            OpenApiParameter(
                "X-Signature",
                str,
                OpenApiParameter.HEADER,
                required=False,
                description='hex HMAC-SHA256 of "{timestamp}.{body}" with the shared secret',
            ),
        ],
        request=CallEventInputSerializer,
        responses={
            202: CallEventResultSerializer,
            400: OpenApiResponse(OpenApiTypes.OBJECT, description="Bad input, per field."),
        },
    )
    def post(self, request: Request) -> Response:
        serializer = CallEventInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = cti_call_event(**serializer.validated_data)
        return Response(result, status=status.HTTP_202_ACCEPTED)
