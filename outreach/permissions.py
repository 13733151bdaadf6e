"""Who may call a webhook: a request signed with the shared secret (HMAC of the body with a
timestamp; stale and replayed requests refused, see outreach.services.webhooks)."""

from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from outreach.services.webhooks import WebhookRejected, webhook_verify


def is_signed(request: Request) -> bool:
    """Whether the request claims a signature (then the signature alone decides)."""
    return bool(request.headers.get("X-Signature"))


class HasWebhookSignature(BasePermission):
    """The request carries a fresh, valid HMAC signature of its body. The accepted signature's
    replay key is kept on the request, so a handler that fails can release it."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        try:
            request.webhook_signature_key = webhook_verify(
                timestamp=request.headers.get("X-Timestamp", ""),
                signature=request.headers.get("X-Signature", ""),
                body=request.body,
            )
        except WebhookRejected as exc:
            raise PermissionDenied(str(exc)) from exc
        return True
