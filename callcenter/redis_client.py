"""The process's Redis client for the live features that talk to Redis directly, not through
Django's cache: the desk's pub/sub channel and call references (`callcenter.services.cti`), the
desk streams' registry (`callcenter.services.desk_streams`) and the login throttle."""

import functools

import redis
from django.conf import settings


@functools.cache
def redis_client() -> redis.Redis:
    """One client (and connection pool) per process."""
    return redis.Redis.from_url(settings.REDIS_URL)
