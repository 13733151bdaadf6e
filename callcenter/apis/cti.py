"""CTI API: the phone system tells us a call rings (or was answered, or ended) for an agent.

Who may post: the telephony integration, signing with CTI_WEBHOOK_SECRETS
(callcenter.signatures), for any agent; a signed-in call-center user (API token or session) only
for itself. A request carrying `X-Signature` is judged by its signature alone.
"""

from django.contrib.auth.models import User
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from callcenter.choices import Integration
from callcenter.roles import STAFF_ROLES, has_role
from callcenter.services.cti import CALL_EVENTS, cti_call_event
from callcenter.signatures import (
    SIGNED_BY_ATTR,
    is_signed,
    signature_parameters,
    signature_release,
    signed_by,
)
from callcenter.throttling import ThrottledBeforePermissions


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
    """A request signed by the telephony integration (X-Timestamp, X-Signature; replays
    refused), or else a signed-in call-center user (session or API token)."""

    message = _("Sign the request or authenticate as a call-center user.")

    def has_permission(self, request: Request, view: APIView) -> bool:
        if is_signed(request):
            return signed_by(Integration.CTI)().has_permission(request, view)
        return has_role(request.user, STAFF_ROLES)


class CtiCallEventApi(ThrottledBeforePermissions, APIView):
    """A call event from the phone system; pops the caller's card on the agent's desk."""

    permission_classes = [StaffOrSignature]

    @extend_schema(
        summary="CTI call event: pop the caller's card on the agent's desk",
        description=(
            "The telephony system signs the request with a CTI secret and may name any "
            "agent; a call-center user's API token (or session) may name only that user "
            "(403 otherwise). The caller is looked up by number (any format) and the agent's "
            "open desk pages get the event live (server-sent events); the answer says whom "
            "the number belongs to and how many desks were notified."
        ),
        parameters=signature_parameters(Integration.CTI, required=False),
        request=CallEventInputSerializer,
        responses={
            202: CallEventResultSerializer,
            400: OpenApiResponse(OpenApiTypes.OBJECT, description="Bad input, per field."),
            403: OpenApiResponse(
                OpenApiTypes.OBJECT, description="Unsigned, badly signed, or another agent."
            ),
        },
    )
    def post(self, request: Request) -> Response:
        try:
            serializer = CallEventInputSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            if getattr(request, SIGNED_BY_ATTR, None):
                posted_by = None
            else:
                assert isinstance(request.user, User)  # StaffOrSignature: unsigned, a staff user
                posted_by = request.user
            result = cti_call_event(**serializer.validated_data, posted_by=posted_by)
        except Exception:
            # A refused or failed signed request may be sent again as it was.
            signature_release(request)
            raise
        return Response(result, status=status.HTTP_202_ACCEPTED)
