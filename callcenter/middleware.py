"""Content-Security-Policy header on every response; /healthz before everything else.

Pages load scripts, styles and images from our own origin only (templates carry no inline
<script> or style= attributes; htmx is told not to inject its indicator <style>). The Swagger UI
at /api/docs/ renders with an inline script from drf-spectacular, so that one path gets a policy
that allows inline scripts and styles, and nothing else.
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from callcenter.views.health import healthz

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'"
)
HEALTH_PATH = "/healthz"
API_DOCS_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; frame-ancestors 'none'; base-uri 'self'; object-src 'none'"
)


class ContentSecurityPolicyMiddleware:
    """Sets Content-Security-Policy unless the view already chose one."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self._docs_path: str | None = None

    def _policy(self, path: str) -> str:
        if self._docs_path is None:
            self._docs_path = reverse("api-docs")
        return (
            API_DOCS_CONTENT_SECURITY_POLICY
            if path == self._docs_path
            else (CONTENT_SECURITY_POLICY)
        )

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = self._policy(request.path)
        return response


class HealthCheckMiddleware:
    """Answers /healthz itself, ahead of the other middleware.

    Health probes (docker-compose's healthcheck, a load balancer) reach the web process by its
    own address over plain HTTP: the Host header is not one of ALLOWED_HOSTS and the scheme is
    not https, so the host check would refuse them (400) and the HTTPS redirect send them away
    (301), and the container would never count as healthy. The check builds no URL and
    carries no data, so it needs neither.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info == HEALTH_PATH:
            return healthz(request)
        return self.get_response(request)
