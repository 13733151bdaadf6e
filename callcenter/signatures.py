"""Signed requests: integrations without a user prove who they are with a secret of their own.

The SMS gateway (delivery receipts, inbound SMS), the voice platform (automated-call results),
the telephony system (call events) and other systems posting care events each hold their own
secrets (SMS_WEBHOOK_SECRETS, VOICE_WEBHOOK_SECRETS, CTI_WEBHOOK_SECRETS,
EVENTS_WEBHOOK_SECRETS), so one integration cannot speak for another: a leaked SMS-gateway
secret forges no call result, no call pop and no care event.

A signed request carries `X-Timestamp` (Unix seconds) and `X-Signature`, the hex HMAC-SHA256
of f"{timestamp}.{METHOD}.{path}.{raw body}" (METHOD upper-case, path without the query
string) under the integration's current secret. Method and path are signed so a signature made
for one endpoint is refused by every other. A timestamp more than five minutes away from our
clock is refused, and so is a signature seen before (remembered in the cache for the tolerance
window on both sides), so a captured request cannot be replayed.

Rotation: each setting is a list; every secret listed is accepted and the first is the current
one. List the new secret first, switch the integration over, then drop the old one.
"""

import datetime as dt
import hashlib
import hmac
from typing import ClassVar

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from callcenter.choices import Integration

SIGNATURE_TOLERANCE = dt.timedelta(minutes=5)
SEEN_SIGNATURE_PREFIX = "signature:seen:"
# The setting that lists each integration's secrets.
SECRET_SETTINGS: dict[str, str] = {
    Integration.SMS: "SMS_WEBHOOK_SECRETS",
    Integration.VOICE: "VOICE_WEBHOOK_SECRETS",
    Integration.CTI: "CTI_WEBHOOK_SECRETS",
    Integration.EVENTS: "EVENTS_WEBHOOK_SECRETS",
}
# The shared secret this replaced; a system check refuses to start while it is still set.
RETIRED_SECRET_SETTING = "OUTREACH_WEBHOOK_SECRET"  # noqa: S105 a setting name, not a secret
# The attributes an accepted request gets (DRF's Request does not declare them): the replay key
# of its signature, and the integration that signed it.
SIGNATURE_KEY_ATTR = "signature_key"
SIGNED_BY_ATTR = "signed_by"


class SignatureRejected(Exception):
    """A signed request whose signature, timestamp or freshness does not hold."""


def integration_secrets(integration: str) -> list[str]:
    """The secrets accepted from `integration`, the current one first (blanks ignored)."""
    values = getattr(settings, SECRET_SETTINGS[integration], None) or []
    if isinstance(values, str):
        values = values.split(",")
    return [value.strip() for value in values if value and value.strip()]


def request_signature(*, secret: str, timestamp: str, method: str, path: str, body: bytes) -> str:
    """The hex HMAC-SHA256 of f"{timestamp}.{METHOD}.{path}.{body}" (what a caller sends)."""
    message = f"{timestamp}.{method.upper()}.{path}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_verify(
    *,
    integration: str,
    timestamp: str,
    signature: str,
    method: str,
    path: str,
    body: bytes,
    now: dt.datetime | None = None,
) -> str:
    """Check a request signed by `integration`; returns the cache key that marks the signature
    as used (delete it, `signature_release`, to let the caller retry the same request when
    handling it failed)."""
    secrets = integration_secrets(integration)
    if not secrets:
        raise SignatureRejected(
            _("Signed requests of this integration are not configured (%(setting)s).")
            % {"setting": SECRET_SETTINGS[integration]}
        )
    if not timestamp or not signature:
        raise SignatureRejected(_("Missing X-Timestamp or X-Signature."))
    try:
        sent_at = dt.datetime.fromtimestamp(int(timestamp), tz=dt.UTC)
    except (ValueError, OverflowError, OSError) as exc:
        raise SignatureRejected(_("Bad X-Timestamp.")) from exc
    now = now or timezone.now()
    if abs(now - sent_at) > SIGNATURE_TOLERANCE:
        raise SignatureRejected(_("X-Timestamp is outside the accepted window."))
    given = signature.strip().lower()
    # Every listed secret is tried (no early exit), so timing tells nothing about which one.
    matches = [
        hmac.compare_digest(
            request_signature(
                secret=secret, timestamp=timestamp, method=method, path=path, body=body
            ),
            given,
        )
        for secret in secrets
    ]
    if not any(matches):
        raise SignatureRejected(_("Bad signature."))
    key = f"{SEEN_SIGNATURE_PREFIX}{integration}:{given}"
    # Past the tolerance window the timestamp check refuses the request anyway.
    if not cache.add(key, 1, timeout=int(2 * SIGNATURE_TOLERANCE.total_seconds())):
        raise SignatureRejected(_("This request was already received (replay)."))
    return key


def is_signed(request: Request) -> bool:
    """Whether the request claims a signature (then the signature alone decides)."""
    return bool(request.headers.get("X-Signature"))


def signature_release(request: Request) -> None:
    """Forget that the request's signature was used, so the caller may send the very same
    request again (after a refusal for its content, or a failure of ours)."""
    key = getattr(request, SIGNATURE_KEY_ATTR, None)
    if key:
        cache.delete(key)


class SignedBy(BasePermission):
    """The request carries a fresh, valid signature of this view's integration
    (`signed_by(...)` makes one per integration). The accepted signature's replay key is kept
    on the request, so a handler that fails can release it."""

    integration: ClassVar[str]

    def has_permission(self, request: Request, view: APIView) -> bool:
        try:
            key = signature_verify(
                integration=self.integration,
                timestamp=request.headers.get("X-Timestamp", ""),
                signature=request.headers.get("X-Signature", ""),
                method=request.method or "",
                path=request.path,
                body=request.body,
            )
        except SignatureRejected as exc:
            raise PermissionDenied(str(exc)) from exc
        setattr(request, SIGNATURE_KEY_ATTR, key)
        setattr(request, SIGNED_BY_ATTR, self.integration)
        return True


_SIGNED_BY: dict[str, type[SignedBy]] = {
    integration: type(f"SignedBy{integration.title()}", (SignedBy,), {"integration": integration})
    for integration in SECRET_SETTINGS
}


def signed_by(integration: str) -> type[SignedBy]:
    """The DRF permission class that admits requests signed by `integration`."""
    return _SIGNED_BY[integration]


def signature_parameters(integration: str, *, required: bool) -> list[OpenApiParameter]:
    """The OpenAPI description of the two signature headers of `integration`'s requests."""
    return [
        OpenApiParameter(
            "X-Timestamp",
            str,
            OpenApiParameter.HEADER,
            required=required,
            description="Unix seconds; at most 5 minutes from the server's clock.",
        ),
        OpenApiParameter(
            "X-Signature",
            str,
            OpenApiParameter.HEADER,
            required=required,
            description=(
                'hex HMAC-SHA256 of "{timestamp}.{METHOD}.{path}.{body}" with a secret of '
                f"{SECRET_SETTINGS[integration]}"
            ),
        ),
    ]
