"""Limits on the desk's live streams, so that no number of them can starve the web threads.

Each open stream (`callcenter.views.desk`) holds a web thread for its lifetime. Two limits:

- Per user: at most `DESK_STREAMS_PER_USER` streams. When another one opens, the oldest are
  closed first, whichever gunicorn process holds them: the user's streams are a Redis sorted
  set (stream id by opening time) changed by one atomic script, which also publishes a close
  message on each evicted stream's own channel.
- Per process: at most `desk_stream_process_limit()` streams at once, so that the other threads
  stay free for requests whatever the number of users. Beyond it a new stream is refused (the
  view answers 503 with Retry-After) and the browser tries again later.
"""

import threading
from functools import cache

from django.conf import settings
from redis.commands.core import Script

from callcenter.redis_client import redis_client

STREAMS_KEY_PREFIX = "desk:streams:"
CLOSE_CHANNEL_PREFIX = "desk:stream-close:"
# The message a replaced stream receives on its close channel.
CLOSE_REPLACED = "replaced"

# KEYS[1]: the user's sorted set. ARGV: stream id, streams allowed, seconds after which an
# entry is stale (its process died without removing it), close channel prefix. Registers the
# stream, drops stale entries, evicts the oldest beyond the limit and tells each evicted
# stream to close; returns the evicted ids. Atomic, so concurrent opens in several processes
# agree on which streams are the oldest.
_REGISTER_LUA = """
local now = redis.call('TIME')
local stamp = tonumber(now[1]) + tonumber(now[2]) / 1000000
local limit = tonumber(ARGV[2])
local stale = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', stamp - stale)
redis.call('ZADD', KEYS[1], stamp, ARGV[1])
local evicted = redis.call('ZRANGE', KEYS[1], 0, -(limit + 1))
for _, id in ipairs(evicted) do
  redis.call('ZREM', KEYS[1], id)
  redis.call('PUBLISH', ARGV[4] .. id, ARGV[5])
end
redis.call('EXPIRE', KEYS[1], stale)
return evicted
"""


@cache
def _register_script() -> Script:
    return redis_client().register_script(_REGISTER_LUA)


def desk_stream_close_channel(stream_id: str) -> str:
    """The pub/sub channel on which one stream is told to close."""
    return f"{CLOSE_CHANNEL_PREFIX}{stream_id}"


def _streams_key(user_id: int) -> str:
    return f"{STREAMS_KEY_PREFIX}{user_id}"


def desk_stream_register(*, user_id: int, stream_id: str, max_age_seconds: int) -> list[str]:
    """Count a newly opened stream of the user; close the oldest beyond DESK_STREAMS_PER_USER.

    Call it after subscribing to the stream's close channel. `max_age_seconds` is the longest a
    stream lives: an entry older than that belongs to a process that died. Returns the ids of
    the streams told to close.
    """
    evicted = _register_script()(
        keys=[_streams_key(user_id)],
        args=[
            stream_id,
            settings.DESK_STREAMS_PER_USER,
            max_age_seconds,
            CLOSE_CHANNEL_PREFIX,
            CLOSE_REPLACED,
        ],
    )
    return [value.decode() for value in evicted]


def desk_stream_unregister(*, user_id: int, stream_id: str) -> None:
    """Forget a stream that ended (it no longer counts against the user's limit)."""
    redis_client().zrem(_streams_key(user_id), stream_id)


def desk_stream_process_limit(*, threads: int) -> int:
    """How many streams a process with `threads` request threads may hold at once.

    All but DESK_STREAM_RESERVED_THREADS, which stay for ordinary requests; when there are few
    threads, at most half of them are kept back.
    """
    return max(threads - settings.DESK_STREAM_RESERVED_THREADS, threads // 2)


class StreamSlots:
    """The streams this process holds, counted against its limit (thread-safe)."""

    def __init__(self, *, threads: int) -> None:
        self.limit = desk_stream_process_limit(threads=threads)
        self._used = 0
        self._lock = threading.Lock()

    def acquire(self) -> bool:
        """Take a slot for a new stream; False when the process holds its limit already."""
        with self._lock:
            if self._used >= self.limit:
                return False
            self._used += 1
            return True

    def release(self) -> None:
        """Give back a slot taken by `acquire`."""
        with self._lock:
            self._used -= 1

    @property
    def used(self) -> int:
        return self._used


_slots: StreamSlots | None = None
_slots_lock = threading.Lock()


def desk_stream_slots() -> StreamSlots:
    """This process's stream slots, sized by `desk_stream_slots_configure` (gunicorn's worker
    hook passes its thread count), else by the WEB_THREADS setting."""
    global _slots
    with _slots_lock:
        if _slots is None:
            _slots = StreamSlots(threads=settings.WEB_THREADS)
        return _slots


def desk_stream_slots_configure(*, threads: int) -> StreamSlots:
    """Size this process's stream slots for `threads` request threads (a new, empty counter)."""
    global _slots
    with _slots_lock:
        _slots = StreamSlots(threads=threads)
        return _slots
