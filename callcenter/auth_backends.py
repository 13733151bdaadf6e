"""Authentication backends: the django-axes lockout check in front of the model backend."""

from typing import Any

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.http import HttpRequest


class LoginLockoutBackend(AxesStandaloneBackend):
    """Refuses logins of a locked-out username and IP pair (django-axes).

    Web logins (login page, admin) always carry the request. Calls without one (management
    commands, the shell) have no client to lock out and fall through to the next backend.
    """

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> None:
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def client_ip(request: HttpRequest) -> str:
    """The client's address for login throttling.

    Behind TRUSTED_PROXY_COUNT reverse proxies (each appending to X-Forwarded-For), the client
    is the entry that many places from the right; anything further left was written by the
    client and cannot be trusted. With no proxy, the socket's address.
    """
    proxies = settings.TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if len(hops) >= proxies:
            return hops[-proxies]
    return request.META.get("REMOTE_ADDR", "")
