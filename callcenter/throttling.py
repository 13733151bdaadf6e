"""Rate limits of requests that no user answers for: the signed integrations' webhooks.

Counted per client address (`callcenter.auth_backends.client_ip`, which honours
TRUSTED_PROXY_COUNT) in the Redis cache, at the rate DEFAULT_THROTTLE_RATES["webhook"]
(setting WEBHOOK_THROTTLE_RATE). Requests of a signed-in user (an API token or a session) are
not counted here: the user's role decides what they may do.

DRF checks throttles after permissions, which would let a flood of forged signatures through
uncounted; views mix in `ThrottledBeforePermissions` so every request counts, refused or not.
"""

from typing import Any

from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from callcenter.auth_backends import client_ip
from callcenter.signatures import is_signed


class SignedRequestThrottle(SimpleRateThrottle):
    """Requests without a user, or signed (judged as the integration), per client address."""

    scope = "webhook"

    def get_rate(self) -> str | None:
        # Read at each request, not frozen at import like DRF's class attribute, so a changed
        # REST_FRAMEWORK setting (tests, a reload) takes effect.
        # The stubs type the rates as numbers; they are rate strings ("60/min") or None.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)  # type: ignore[return-value]

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and not is_signed(request):
            return None
        return self.cache_format % {"scope": self.scope, "ident": client_ip(request)}


class ThrottledBeforePermissions:
    """A view mixin: throttles are checked before the permissions (and only there), so refused
    requests count towards the rate as well."""

    throttle_classes: Any = [SignedRequestThrottle]

    def check_permissions(self, request: Request) -> None:
        # A mixin: the APIView these methods come from follows it in the view's MRO, which
        # mypy cannot see from here.
        super().check_throttles(request)  # type: ignore[misc]
        super().check_permissions(request)  # type: ignore[misc]

    def check_throttles(self, request: Request) -> None:
        """Already checked, before the permissions."""
