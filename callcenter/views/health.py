"""Liveness and readiness for load balancers and docker-compose health checks, and the icon
that browsers ask for at the site's root."""

from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponseRedirect, JsonResponse
from django.templatetags.static import static
from django.views.decorators.cache import cache_control, never_cache
from django.views.decorators.http import require_GET
from redis.exceptions import RedisError

FAVICON_REDIRECT_SECONDS = 24 * 3600


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when PostgreSQL and Redis answer, 503 naming the part that does not."""
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
        checks["database"] = f"error: {exc.__class__.__name__}"
    try:
        cache.set("healthz", "1", timeout=5)
        checks["redis"] = "ok"
    except (RedisError, OSError) as exc:
        checks["redis"] = f"error: {exc.__class__.__name__}"
    healthy = all(value == "ok" for value in checks.values())
    return JsonResponse(checks, status=200 if healthy else 503)


@require_GET
@cache_control(public=True, max_age=FAVICON_REDIRECT_SECONDS)
def favicon(request: HttpRequest) -> HttpResponseRedirect:
    """/favicon.ico, which browsers, bookmarks and feed readers ask for whatever the pages link
    (and on pages that link none, such as a JSON answer opened in a tab): the same icon as an
    ICO file. Its static URL is resolved per request, so a missing manifest cannot break the
    URL configuration. The redirect is temporary, cached a day: in production it names the
    file by its content's hash, which a new icon changes, and browsers keep a permanent
    redirect for good."""
    return HttpResponseRedirect(static("img/favicon.ico"))
