"""Failed logins per client address, so that one address cannot spray passwords across many
usernames (django-axes locks a username and address pair; this bounds the address).

Counted in Redis, shared by every web process: a window opens with an address's first failed
login and lasts the rate's period; once it holds LOGIN_THROTTLE_RATE's number of failures, no
login from that address is checked until the window ends. Successful logins do not count, so a
call center behind one NAT address can sign in its whole shift.
"""

import re

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from callcenter.redis_client import redis_client

KEY_PREFIX = "login:failures:"
_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smhd])[a-z]*\s*$")


def login_throttle_rate() -> tuple[int, int]:
    """LOGIN_THROTTLE_RATE as (failures, seconds): "30/h", "10/15m", "100/d" (DRF's format,
    with an optional count of periods)."""
    rate = settings.LOGIN_THROTTLE_RATE
    match = _RATE.match(rate)
    if match is None or int(match.group(1)) < 1:
        raise ImproperlyConfigured(f"LOGIN_THROTTLE_RATE must look like 30/h or 10/15m: {rate!r}")
    periods = int(match.group(2) or 1)
    return int(match.group(1)), periods * _PERIODS[match.group(3)]


def _key(address: str) -> str:
    return f"{KEY_PREFIX}{address}"


def login_throttle_wait(*, address: str) -> int:
    """Seconds until `address` may try to log in again; 0 when it may now."""
    limit, _seconds = login_throttle_rate()
    with redis_client().pipeline() as pipe:
        pipe.get(_key(address))
        pipe.ttl(_key(address))
        failures, ttl = pipe.execute()
    if failures is None or int(failures) < limit:
        return 0
    return max(int(ttl), 1)


def login_failure_record(*, address: str) -> int:
    """Count a failed login from `address` (one atomic step); returns the window's count."""
    _limit, seconds = login_throttle_rate()
    with redis_client().pipeline() as pipe:
        pipe.incr(_key(address))
        pipe.expire(_key(address), seconds, nx=True)
        failures, _ = pipe.execute()
    return int(failures)
