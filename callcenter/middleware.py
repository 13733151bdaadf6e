"""Middleware of the project: /healthz answered before everything else, NUL characters refused
at the door, and the Content-Security-Policy header on every response.

PostgreSQL refuses NUL characters in text, so a `%00` in a query parameter, a path, a cookie, a
header or a form field would fail only when it reaches a query, as a server error.
`RefuseNulCharactersMiddleware` answers such requests 400 before any view runs. (API bodies are
checked by the API's parsers, `callcenter.parsers`.)

Pages load scripts, styles and images from our own origin only (templates carry no inline
<script> or style= attributes; htmx is told not to inject its indicator <style>). The Swagger UI
at /api/docs/ renders with an inline script from drf-spectacular, so that one path gets a policy
that allows inline scripts and styles, and nothing else.
"""

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.urls import reverse
from django.utils.translation import gettext as _

from callcenter.views.errors import api_request
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


NUL = "\x00"


def fields_hold_nul(data: Any, files: Any = None) -> bool:
    """Whether a QueryDict of fields (and a MultiValueDict of uploads) holds a NUL character in
    a name, a value or an upload's file name."""
    return any(
        NUL in key or any(NUL in value for value in data.getlist(key)) for key in data
    ) or any(
        NUL in key or any(NUL in (upload.name or "") for upload in files.getlist(key))
        for key in files or ()
    )


def _nul_in_request_line(request: HttpRequest) -> str | None:
    """Where the path, the query string, a cookie or a header holds a NUL, or None."""
    if NUL in request.path_info:
        return "path"
    if fields_hold_nul(request.GET):
        return "query"
    if any(NUL in key or NUL in value for key, value in request.COOKIES.items()):
        return "cookie"
    if any(
        NUL in str(value)
        for key, value in request.META.items()
        if key.startswith("HTTP_") or key in ("CONTENT_TYPE", "CONTENT_LENGTH")
    ):
        return "header"
    return None


class RefuseNulCharactersMiddleware:
    """Answers 400 to a request with a NUL character in its path, query string, cookies,
    headers, or (for views that read forms, i.e. not exempt from CSRF) its form fields and
    upload file names. API paths get DRF's `{"detail": ...}` shape, pages a plain text.

    Form bodies of CSRF-exempt views (the API, signed webhooks) are left to DRF's parsers:
    reading a multipart body here would consume the stream a webhook signs.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        where = _nul_in_request_line(request)
        if where is not None:
            return self._refusal(request, where)
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view_func: Callable, view_args: Any, view_kwargs: Any
    ) -> HttpResponse | None:
        if request.method != "POST" or getattr(view_func, "csrf_exempt", False):
            return None
        if fields_hold_nul(request.POST, request.FILES):
            return self._refusal(request, "form")
        return None

    @staticmethod
    def _refusal(request: HttpRequest, where: str) -> HttpResponse:
        messages = {
            "path": _("The address must not contain NUL (%00) characters."),
            "query": _("Query parameters must not contain NUL (%00) characters."),
            "cookie": _("Cookies must not contain NUL characters."),
            "header": _("Request headers must not contain NUL characters."),
            "form": _("Form fields must not contain NUL characters."),
        }
        message = messages[where]
        if api_request(request):
            return JsonResponse({"detail": message}, status=400)
        return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")
