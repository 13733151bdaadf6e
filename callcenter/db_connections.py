"""Persistent database connections that do not all expire at the same moment.

With CONN_MAX_AGE, Django closes a connection at the first request boundary after its age
passes the limit, and the next request opens a new one. A worker's threads open their
connections together (at start-up, under the first burst of load), so they would all reach the
limit together, re-open together and stay in step: every CONN_MAX_AGE, dozens of connections
opened at once, each paying the connection itself and the first planning of the hot statements
on a backend with cold catalog caches. Under load that burst makes the slowest requests
(docs/performance.md).

Each connection's lifetime is therefore drawn between half and all of CONN_MAX_AGE, so
renewals spread out and stay spread out, while no connection outlives the setting.
"""

import random
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper


def connection_expiry_spread(sender: type, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    """Bring a new connection's renewal forward by a random share of up to half its maximum
    age (Django sets `close_at` just before sending connection_created)."""
    max_age = connection.settings_dict.get("CONN_MAX_AGE")
    if connection.close_at is not None and max_age:
        connection.close_at -= random.uniform(0, max_age / 2)  # noqa: S311 - not a secret
