"""Reads that may be served by a PostgreSQL streaming replica.

Set `DATABASE_REPLICA_URL` (a hot standby of the primary) and the settings add a "replica"
database. Nothing is routed there implicitly: a global read router would break
read-after-write (a service that saves a row and reads it back within the same request would
miss it on a lagging replica). Code that reads heavily and tolerates a second of lag - the
screen-pop card, dashboards - asks for the alias explicitly:

    Customer.objects.using(read_alias()).filter(...)

Without a replica configured, `read_alias()` is "default" and nothing changes. Writes always go
to the primary (see callcenter.db_routers).
"""

from django.db import DEFAULT_DB_ALIAS, connections

REPLICA_ALIAS = "replica"


def replica_configured() -> bool:
    """Whether a replica database is configured."""
    return REPLICA_ALIAS in connections.settings


def read_alias() -> str:
    """The database alias for lag-tolerant reads: the replica if configured, else the primary."""
    return REPLICA_ALIAS if replica_configured() else DEFAULT_DB_ALIAS
