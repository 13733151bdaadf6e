"""The process's Redis clients for the live features that talk to Redis directly, not through
Django's cache: the desk's call events and call references (`callcenter.services.cti`,
`callcenter.services.desk_streams`) and the login throttle.

`redis_client` is the synchronous one (web requests, Celery tasks). `redis_async_client` is for
the desk's live stream under the ASGI server: an asyncio connection belongs to the event loop
that opened it, so there is one client per running loop (one in a uvicorn worker)."""

import asyncio
import functools
import weakref

import redis
import redis.asyncio
from django.conf import settings

_async_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, redis.asyncio.Redis]" = (
    weakref.WeakKeyDictionary()
)


@functools.cache
def redis_client() -> redis.Redis:
    """One client (and connection pool) per process."""
    return redis.Redis.from_url(settings.REDIS_URL)


def redis_async_client() -> redis.asyncio.Redis:
    """One asyncio client (and connection pool) per running event loop."""
    loop = asyncio.get_running_loop()
    client = _async_clients.get(loop)
    if client is None:
        client = redis.asyncio.Redis.from_url(settings.REDIS_URL)
        _async_clients[loop] = client
    return client
