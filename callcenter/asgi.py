"""ASGI entry points: the agent desk's live stream, served by uvicorn.

`application`: Django's ASGI handler, for the desk's server-sent events
(`callcenter.views.desk.desk_events_view`, an async view). In production it runs in its own
process beside gunicorn, and the proxy sends it the stream's path only (deploy/Caddyfile,
docker-compose.yml's `stream` service): thousands of open desks are coroutines waiting on one
event loop, where under gunicorn each held a thread. Pages and the API stay on gunicorn's
threads, which Django's ASGI handler would run one at a time.

`front()` (`uvicorn --factory callcenter.asgi:front`): one process and one origin for
development (`make run`) and the browser tests: the stream is served here, every other request
by the WSGI application in a pool of threads, as gunicorn's threads would. The browser loads
the desk and its stream from the same address, as it does through the proxy in production.
"""

import os
from collections.abc import Awaitable, Callable
from typing import Any, cast

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "callcenter.settings.production")

application = get_asgi_application()

# The one path the ASGI handler serves (callcenter.page_urls: desk-events; deploy/Caddyfile).
STREAM_PATH = "/desk/events/"
# Threads for the WSGI application in `front` (gunicorn's default is 64 per worker).
FRONT_THREADS = 32

# ASGI's callables, as loosely as Django's handler and a2wsgi type them between them.
Scope = dict[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]


def front(wsgi: Callable[..., Any] | None = None, threads: int = FRONT_THREADS) -> ASGIApp:
    """The stream by `application`, everything else by `wsgi` (default: the project's WSGI
    application) in `threads` threads."""
    from a2wsgi import WSGIMiddleware

    if wsgi is None:
        from callcenter.wsgi import application as project_wsgi

        wsgi = project_wsgi
    pages: Any = WSGIMiddleware(cast(Any, wsgi), workers=threads)

    async def route(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == STREAM_PATH:
            await application(scope, receive, send)
        elif scope["type"] == "http":
            await pages(scope, receive, send)
        elif scope["type"] == "lifespan":
            # Nothing to start or stop: the stream's reader starts with the first desk.
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})

    return route
