"""The refusal and error pages (403, 404, 500) in the product's layout, with a way back, and
their JSON form for the REST API.

403 and 404 extend the base layout and render with the request's context (the navigation of
the user's role). The 500 page is a standalone template rendered with a plain context: when
the server fails, the database, the session or a context processor may be what failed. A
request to the API (its paths, but not the docs page people open in the browser) gets the
same refusal or error as `{"detail": ...}`, as DRF's own views answer.
"""

import logging

from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseServerError,
    JsonResponse,
)
from django.template import loader
from django.urls import reverse
from django.utils.html import escape
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.csrf import requires_csrf_token

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"
# callcenter/urls.py: api-docs
API_DOCS_PREFIX = "/api/docs/"


def _back_url(request: HttpRequest) -> str:
    """The page the visitor came from when it is one of this site's, else none."""
    referer = request.META.get("HTTP_REFERER", "")
    same_site = url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return referer if referer and same_site and referer != request.build_absolute_uri() else ""


def api_request(request: HttpRequest) -> bool:
    """Whether the request went to the REST API, whose refusals and errors are JSON (the docs
    page is a page)."""
    path = request.path_info
    return path.startswith(API_PREFIX) and not path.startswith(API_DOCS_PREFIX)


def _render(request: HttpRequest, template: str, status: int) -> HttpResponse:
    context = {"back_url": _back_url(request), "home_url": reverse("home")}
    body = loader.render_to_string(template, context, request)
    return HttpResponse(body, status=status)


@requires_csrf_token
def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    """403: the role does not allow this page or action (Django's handler403)."""
    if api_request(request):
        return JsonResponse(
            {"detail": _("You do not have permission to perform this action.")}, status=403
        )
    return _render(request, "403.html", 403)


@requires_csrf_token
def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """404: no such page or record (Django's handler404)."""
    if api_request(request):
        return JsonResponse({"detail": _("Not found.")}, status=404)
    return _render(request, "404.html", 404)


def server_error(request: HttpRequest) -> HttpResponse:
    """500: rendered without the request, so nothing that may have failed is touched.

    Should the page itself fail (its stylesheet missing from a stale static manifest, say), a
    bare page in the same words answers instead: an error page that raises would replace the
    failure that was logged with its own, and the client would get the WSGI server's page."""
    message = _(
        "The server could not finish this request. It has been logged; please try again in "
        "a moment."
    )
    if api_request(request):
        return JsonResponse({"detail": message}, status=500)
    try:
        body = loader.get_template("500.html").render({"home_url": "/"})
    except Exception:
        logger.exception("the 500 page could not be rendered; a bare one answered")
        title = escape(_("Something went wrong"))
        body = f"<!doctype html><title>{title}</title><h1>{title}</h1><p>{escape(message)}</p>"
    return HttpResponseServerError(body)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """403 when a form's CSRF check fails (CSRF_FAILURE_VIEW): most often a page left open
    past its session, so the visitor is told to reload rather than shown Django's own page."""
    return _render(request, "403_csrf.html", 403)
