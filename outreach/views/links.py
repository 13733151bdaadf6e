"""The public redirect of tracked links (`/l/<token>`): customers follow it from an SMS or
email, without logging in. It redirects to the link's stored target only and records the click
(outreach.services.links); an unknown token is a 404 page and records nothing. Requests are
limited per client address (TRACKED_LINK_THROTTLE_RATE), as the signed webhooks are."""

import math

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from callcenter.auth_backends import client_ip
from outreach.models import TrackedLink
from outreach.services.links import tracked_link_click


class TrackedLinkThrottle(SimpleRateThrottle):
    """Clicks per client address, at DEFAULT_THROTTLE_RATES["tracked_link"]."""

    scope = "tracked_link"

    def get_rate(self) -> str | None:
        # Read at each request, as callcenter.throttling does, so a changed setting applies.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)  # type: ignore[return-value]

    def get_cache_key(self, request: HttpRequest, view: object) -> str:
        return self.cache_format % {"scope": self.scope, "ident": client_ip(request)}


@never_cache
@require_safe
def tracked_link_view(request: HttpRequest, token: str) -> HttpResponse:
    """Redirect to the link's target and count the click (GET); HEAD, which link previews
    send, gets the redirect without counting."""
    throttle = TrackedLinkThrottle()
    if not throttle.allow_request(request, None):  # type: ignore[arg-type]
        response = render(request, "outreach/link_unavailable.html", {"busy": True}, status=429)
        response["Retry-After"] = str(math.ceil(throttle.wait() or 1))
        return response
    if request.method == "HEAD":
        target = TrackedLink.objects.filter(token=token).values_list("target_url", flat=True)
        found = target.first()
    else:
        found = tracked_link_click(token=token, now=timezone.now())
    if found is None:
        return render(request, "outreach/link_unavailable.html", {"busy": False}, status=404)
    response = HttpResponseRedirect(found)
    # The target learns nothing of the short link (its token) it was reached by.
    response["Referrer-Policy"] = "no-referrer"
    return response
