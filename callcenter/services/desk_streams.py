"""The agent desk's live call events: a short log per agent that a reconnecting desk replays,
one shared Redis reader per process that hands live events to its open desks, and a limit on
the desks one user keeps open.

Publishing (`desk_event_publish`, called by `callcenter.services.cti.cti_publish`) is one Lua
script, one round trip: SET the key the event refers to, if any (a call's reference), XADD the
message to the agent's stream `desk:events:<user id>` (the last EVENTS_KEPT events, for
EVENTS_TTL_SECONDS after the newest), then PUBLISH `<entry id> <message>` on the agent's
channel. The entry id (Redis's `<milliseconds>-<sequence>`) is the SSE `id:` of the
event, so the browser's EventSource sends it back as `Last-Event-ID` when it reconnects, and
`desk_events_after` returns what the desk missed (a web restart, a dropped connection).

Live delivery holds no Redis connection per desk: each process's `DeskHub` has one pub/sub
connection, pattern-subscribed to every agent channel and every stream's close channel, and
puts each message in the queues of the desks of this process that listen to it. When that
connection drops (a Redis restart, a killed client), redis-py reconnects and subscribes again;
each later subscription confirmation puts RESYNC in every queue, and each desk then reads its
agent's stream after the last event it sent, so a blip loses no ring. The desk compares entry
ids and sends each event once.

Per user: at most `DESK_STREAMS_PER_USER` open streams. When another one opens, the oldest are
closed first, whichever process holds them: the user's streams are a Redis sorted set (stream
id by opening time) changed by one atomic script, which also publishes a close message on each
evicted stream's own channel. Its size is the `delivered` count the CTI API answers.
"""

import asyncio
import logging
import os
import re
import weakref
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Final

import redis.asyncio
from django.conf import settings
from redis.commands.core import Script

from callcenter.redis_client import redis_async_client, redis_client

logger = logging.getLogger(__name__)

CHANNEL_PREFIX = "cti:agent:"
EVENTS_KEY_PREFIX = "desk:events:"
STREAMS_KEY_PREFIX = "desk:streams:"
CLOSE_CHANNEL_PREFIX = "desk:stream-close:"
# The message a replaced stream receives on its close channel.
CLOSE_REPLACED = "replaced"
# An agent's event log: the newest this many events, kept this long after the newest. Enough
# for any reconnect (a web restart takes seconds); a desk away longer starts from now.
EVENTS_KEPT = 64
EVENTS_TTL_SECONDS = 600
# The name of each process's shared reader connection in CLIENT LIST (pid appended).
HUB_CLIENT_NAME = "desk-hub"
# How long a new desk waits for its process's reader to be subscribed, and how long the reader
# waits before connecting again after Redis refused it.
HUB_CONNECT_SECONDS = 10.0
HUB_RETRY_SECONDS = 1.0
_EVENT_ID = re.compile(r"\d{1,20}-\d{1,20}")

# KEYS[1]: the agent's event stream, KEYS[2]: the agent's open streams (sorted set), KEYS[3]
# (optional): a key the event refers to, set first. ARGV: the channel, the message (JSON),
# events kept, seconds kept, then with KEYS[3] its value and seconds. Returns the agent's open
# streams.
_PUBLISH_LUA = """
if KEYS[3] then
  redis.call('SET', KEYS[3], ARGV[5], 'EX', ARGV[6])
end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[3], '*', 'm', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('PUBLISH', ARGV[1], id .. ' ' .. ARGV[2])
return redis.call('ZCARD', KEYS[2])
"""

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


def agent_channel(user_id: int) -> str:
    """The pub/sub channel of one agent's desks."""
    return f"{CHANNEL_PREFIX}{user_id}"


def desk_stream_close_channel(stream_id: str) -> str:
    """The pub/sub channel on which one stream is told to close."""
    return f"{CLOSE_CHANNEL_PREFIX}{stream_id}"


def _events_key(user_id: int) -> str:
    return f"{EVENTS_KEY_PREFIX}{user_id}"


def _streams_key(user_id: int) -> str:
    return f"{STREAMS_KEY_PREFIX}{user_id}"


@cache
def _publish_script() -> Script:
    return redis_client().register_script(_PUBLISH_LUA)


def desk_event_publish(
    *, user_id: int, message: str, refers_to: tuple[str, str, int] | None = None
) -> int:
    """Log `message` (JSON) in the agent's event stream and publish it to their open desks;
    returns how many desks the agent has open.

    `refers_to` (key, value, seconds): a key the message names, which the desk reads when the
    event arrives (a call's reference), set before the event is published, in the same round
    trip to Redis.
    """
    keys = [_events_key(user_id), _streams_key(user_id)]
    args: list[str | int] = [agent_channel(user_id), message, EVENTS_KEPT, EVENTS_TTL_SECONDS]
    if refers_to is not None:
        key, value, seconds = refers_to
        keys.append(key)
        args += [value, seconds]
    return int(_publish_script()(keys=keys, args=args))


def desk_event_split(data: bytes) -> tuple[str, str]:
    """A live message as published on an agent's channel: (entry id, message JSON)."""
    event_id, _space, message = data.decode().partition(" ")
    return event_id, message


def desk_event_id_valid(value: str) -> bool:
    """Whether `value` (a browser's Last-Event-ID) is an entry id of an event stream."""
    return bool(_EVENT_ID.fullmatch(value))


def desk_event_newer(event_id: str, than: str) -> bool:
    """Whether the entry id `event_id` comes after `than`."""
    first, _dash, second = event_id.partition("-")
    first_than, _dash, second_than = than.partition("-")
    return (int(first), int(second)) > (int(first_than), int(second_than))


async def desk_events_latest(*, user_id: int) -> str:
    """The id of the agent's newest logged event ("0-0" when none is kept): where a desk
    opened now starts."""
    newest: Any = await redis_async_client().xrevrange(_events_key(user_id), count=1)
    return newest[0][0].decode() if newest else "0-0"


async def desk_events_after(*, user_id: int, event_id: str) -> list[tuple[str, str]]:
    """The agent's logged events after `event_id`, oldest first: (entry id, message JSON)."""
    entries: Any = await redis_async_client().xrange(
        _events_key(user_id), min=f"({event_id}", max="+", count=EVENTS_KEPT
    )
    return [(entry_id.decode(), fields[b"m"].decode()) for entry_id, fields in entries]


async def desk_stream_register(*, user_id: int, stream_id: str, max_age_seconds: int) -> list[str]:
    """Count a newly opened stream of the user; close the oldest beyond DESK_STREAMS_PER_USER.

    Call it once the stream listens to its close channel. `max_age_seconds` is the longest a
    stream lives: an entry older than that belongs to a process that died. Returns the ids of
    the streams told to close.
    """
    script = redis_async_client().register_script(_REGISTER_LUA)
    evicted = await script(
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


async def desk_stream_unregister(*, user_id: int, stream_id: str) -> None:
    """Forget a stream that ended (it no longer counts against the user's limit)."""
    await redis_async_client().zrem(_streams_key(user_id), stream_id)


class Resync:
    """Put in every desk's queue after the shared reader subscribed again: read the log."""


RESYNC: Final = Resync()


@dataclass(eq=False)
class DeskListener:
    """One open stream's inbox: (channel, data) of its agent's and its own close channel's
    messages, and RESYNC."""

    user_id: int
    stream_id: str
    queue: "asyncio.Queue[tuple[bytes, bytes] | Resync]" = field(default_factory=asyncio.Queue)

    @property
    def channels(self) -> tuple[bytes, bytes]:
        return (
            agent_channel(self.user_id).encode(),
            desk_stream_close_channel(self.stream_id).encode(),
        )


class DeskHub:
    """The process's one pub/sub connection for every open desk (see the module docstring)."""

    def __init__(self) -> None:
        self._listeners: defaultdict[bytes, set[DeskListener]] = defaultdict(set)
        self._subscribed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._confirmations = 0

    @property
    def listeners(self) -> int:
        """How many streams listen (each counted once, on its agent's channel)."""
        return sum(
            len(listeners)
            for channel, listeners in self._listeners.items()
            if channel.startswith(CHANNEL_PREFIX.encode())
        )

    async def join(self, listener: DeskListener) -> None:
        """Start handing `listener` its messages; returns once the reader is subscribed."""
        for channel in listener.channels:
            self._listeners[channel].add(listener)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="desk-hub")
        await asyncio.wait_for(self._subscribed.wait(), HUB_CONNECT_SECONDS)

    def leave(self, listener: DeskListener) -> None:
        for channel in listener.channels:
            listeners = self._listeners.get(channel)
            if listeners is not None:
                listeners.discard(listener)
                if not listeners:
                    del self._listeners[channel]

    def _everyone(self) -> Iterable[DeskListener]:
        return {
            listener
            for channel, listeners in self._listeners.items()
            if channel.startswith(CHANNEL_PREFIX.encode())
            for listener in listeners
        }

    async def _run(self) -> None:
        client = redis.asyncio.Redis.from_url(
            settings.REDIS_URL, client_name=f"{HUB_CLIENT_NAME}-{os.getpid()}"
        )
        agents = f"{CHANNEL_PREFIX}*"
        while True:
            pubsub = client.pubsub()
            try:
                await pubsub.psubscribe(agents, f"{CLOSE_CHANNEL_PREFIX}*")
                async for message in pubsub.listen():
                    self._dispatch(message, agents.encode())
            except (redis.RedisError, OSError) as exc:
                self._subscribed.clear()
                logger.warning("desk hub: Redis connection lost (%s); connecting again", exc)
                await asyncio.sleep(HUB_RETRY_SECONDS)
            finally:
                await pubsub.aclose()

    def _dispatch(self, message: dict, agents: bytes) -> None:
        if message["type"] == "pmessage":
            for listener in tuple(self._listeners.get(message["channel"], ())):
                listener.queue.put_nowait((message["channel"], message["data"]))
        elif message["type"] == "psubscribe" and message["channel"] == agents:
            # The first confirmation is the first subscription; any later one follows a lost
            # connection, while which messages may have been published unseen.
            self._confirmations += 1
            if self._confirmations > 1:
                for listener in self._everyone():
                    listener.queue.put_nowait(RESYNC)
            self._subscribed.set()


_hubs: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, DeskHub]" = weakref.WeakKeyDictionary()


def desk_hub() -> DeskHub:
    """The shared reader of the running event loop (one per ASGI worker process)."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        hub = _hubs[loop] = DeskHub()
    return hub
