"""The refusal and error pages (403, 404, 500) in the product's layout, with a way back.

403 and 404 extend the base layout and render with the request's context (the navigation of
the user's role). The 500 page is a standalone template rendered with a plain context: when
the server fails, the database, the session or a context processor may be what failed.
"""

from django.http import HttpRequest, HttpResponse, HttpResponseServerError
from django.template import loader
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import requires_csrf_token


def _back_url(request: HttpRequest) -> str:
    """The page the visitor came from when it is one of this site's, else none."""
    referer = request.META.get("HTTP_REFERER", "")
    same_site = url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return referer if referer and same_site and referer != request.build_absolute_uri() else ""


def _render(request: HttpRequest, template: str, status: int) -> HttpResponse:
    context = {"back_url": _back_url(request), "home_url": reverse("home")}
    body = loader.render_to_string(template, context, request)
    return HttpResponse(body, status=status)


@requires_csrf_token
def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    """403: the role does not allow this page or action (Django's handler403)."""
    return _render(request, "403.html", 403)


@requires_csrf_token
def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """404: no such page or record (Django's handler404)."""
    return _render(request, "404.html", 404)


def server_error(request: HttpRequest) -> HttpResponse:
    """500: rendered without the request, so nothing that may have failed is touched."""
    body = loader.get_template("500.html").render({"home_url": "/"})
    return HttpResponseServerError(body)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """403 when a form's CSRF check fails (CSRF_FAILURE_VIEW): most often a page left open
    past its session, so the visitor is told to reload rather than shown Django's own page."""
    return _render(request, "403_csrf.html", 403)
