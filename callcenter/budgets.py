"""Rolling one-hour budgets per user, kept in Redis: how many contact details an agent
revealed, how many distinct customers an agent read.

A budget is a sorted set per user and purpose whose members are what was spent (a customer id,
one reveal) scored by the time they were last spent. One Lua script drops what left the window,
counts what is left plus what is new, and adds the new members only if the total stays within
the limit, atomically, so parallel requests cannot overspend. Members already in the window
cost nothing again (reading the same customer twice is one customer read).

If Redis cannot be reached the request is let through and a warning logged: the limits are a
brake, the audit log (in PostgreSQL) still records every list read and every reveal.
"""

import functools
import logging
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass

import redis
from django.conf import settings

from callcenter.errors import ApplicationError

logger = logging.getLogger(__name__)

KEY_PREFIX = "limits:"
WINDOW_SECONDS = 3600

# KEYS[1]: the sorted set. ARGV: now (ms), window (ms), limit, then the members to spend.
# Returns {admitted (1/0), spent in the window after this call, ms until one member expires}.
_ADMIT = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
local new = 0
for i = 4, #ARGV do
  if not redis.call('ZSCORE', KEYS[1], ARGV[i]) then new = new + 1 end
end
if count + new > limit then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  local wait = window
  if oldest[2] then wait = tonumber(oldest[2]) + window - now end
  return {0, count, wait}
end
for i = 4, #ARGV do redis.call('ZADD', KEYS[1], now, ARGV[i]) end
redis.call('PEXPIRE', KEYS[1], window)
return {1, count + new, 0}
"""


class LimitReached(ApplicationError):
    """A budget is spent: 429, with the seconds until some of it frees up."""

    status_code = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, extra={"retry_after": retry_after})
        self.retry_after = retry_after


@dataclass(frozen=True)
class Spent:
    """The outcome of one attempt to spend from a budget."""

    admitted: bool
    used: int  # spent in the window, this attempt included when admitted
    retry_after: int  # seconds until something leaves the window (0 when admitted)


@functools.cache
def _client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)


@functools.cache
def _script() -> "redis.commands.core.Script":
    return _client().register_script(_ADMIT)


def budget_spend(*, purpose: str, user_id: int, members: Iterable[str | int], limit: int) -> Spent:
    """Spend `members` from the user's rolling one-hour budget of `purpose` if the distinct
    members in the window stay within `limit`; nothing is spent otherwise."""
    distinct = list(dict.fromkeys(str(member) for member in members))
    if not distinct:
        return Spent(admitted=True, used=0, retry_after=0)
    key = f"{KEY_PREFIX}{purpose}:{user_id}"
    now_ms = int(time.time() * 1000)
    try:
        admitted, used, wait_ms = _script()(
            keys=[key], args=[now_ms, WINDOW_SECONDS * 1000, limit, *distinct]
        )
    except redis.RedisError:
        logger.warning("limits: Redis unreachable, %s of user %s not counted", purpose, user_id)
        return Spent(admitted=True, used=0, retry_after=0)
    retry_after = 0 if admitted else max(1, math.ceil(int(wait_ms) / 1000))
    return Spent(admitted=bool(admitted), used=int(used), retry_after=retry_after)
