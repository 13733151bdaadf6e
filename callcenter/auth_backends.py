"""Authentication backends: the login limits in front of the model backend.

Two limits, both checked before any password: django-axes locks a username and client address
pair after AXES_FAILURE_LIMIT failures, and `callcenter.services.login_throttle` stops a client
address after LOGIN_THROTTLE_RATE failures whatever the usernames. A refused login is answered
by `login_refused_response` (through axes' middleware).
"""

import logging
import math
from typing import Any

from axes.backends import AxesStandaloneBackend
from axes.exceptions import AxesBackendPermissionDenied
from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from callcenter.services.login_throttle import login_failure_record, login_throttle_wait

logger = logging.getLogger(__name__)
# Set on a request whose login the address throttle refused.
THROTTLED_ATTRIBUTE = "login_throttle_wait"
# Set on a request whose login django-axes refused (axes then answers with its lockout page).
AXES_LOCKED_OUT_ATTRIBUTE = "axes_locked_out"
_warned_unforwarded = False


class LoginLockoutBackend(AxesStandaloneBackend):
    """Refuses logins from a throttled client address, then of a locked-out username and
    address pair (django-axes).

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
        wait = login_throttle_wait(address=client_ip(request))
        if wait:
            # axes then records nothing and answers with login_refused_response.
            AxesProxyHandler.update_request(request)
            setattr(request, AXES_LOCKED_OUT_ATTRIBUTE, True)
            setattr(request, THROTTLED_ATTRIBUTE, wait)
            raise AxesBackendPermissionDenied("too many failed logins from this address")
        return super().authenticate(request, username=username, password=password, **kwargs)


def login_failure_count(
    sender: object, credentials: dict, request: HttpRequest | None = None, **kwargs: Any
) -> None:
    """Receiver of `user_login_failed`: count a failed web login against its client address.

    Logins the limits refused unchecked do not count (they revealed nothing); nor do calls
    without a request.
    """
    if request is None or getattr(request, "axes_locked_out", False):
        return
    login_failure_record(address=client_ip(request))


def login_refused_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: Any = None
) -> HttpResponse:
    """The login page again, saying why and for how long logins are refused (429)."""
    wait = getattr(request, THROTTLED_ATTRIBUTE, None)
    if wait:
        message = _(
            "Too many failed logins from your network address. Try again in %(minutes)d minutes."
        )
    else:
        wait = settings.AXES_COOLOFF_TIME.total_seconds()
        message = _("Too many failed logins for this account. Try again in %(minutes)d minutes.")
    minutes = max(1, math.ceil(wait / 60))
    form = AuthenticationForm(request, initial={"username": request.POST.get("username", "")})
    context = {
        "form": form,
        "next": request.POST.get("next", ""),
        "refused": message % {"minutes": minutes},
    }
    response = render(request, "registration/login.html", context, status=429)
    response["Retry-After"] = str(int(wait))
    return response


def client_ip(request: HttpRequest) -> str:
    """The client's address for the login limits.

    Behind TRUSTED_PROXY_COUNT reverse proxies (each appending to X-Forwarded-For), the client
    is the entry that many places from the right; anything further left was written by the
    client and cannot be trusted. With no proxy, the socket's address. A request that carries
    X-Forwarded-For while TRUSTED_PROXY_COUNT is 0 is logged once per process: behind a proxy
    every client would share the proxy's address, and one client's failures lock out all.
    """
    global _warned_unforwarded
    proxies = settings.TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if len(hops) >= proxies:
            return hops[-proxies]
    elif forwarded and not _warned_unforwarded:
        _warned_unforwarded = True
        logger.warning(
            "Requests carry X-Forwarded-For but TRUSTED_PROXY_COUNT is 0: login limits key on "
            "the address %s of the connection, probably a proxy's. Set TRUSTED_PROXY_COUNT to "
            "the number of proxies in front of the web process.",
            request.META.get("REMOTE_ADDR", ""),
        )
    return request.META.get("REMOTE_ADDR", "")
