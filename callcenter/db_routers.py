"""Database router for a primary with an optional read replica (see callcenter.replica).

Reads are not routed: a queryset goes to the replica only when code asks with
`.using(read_alias())`. The router's job is to keep the replica read-only from Django's side.
"""

from typing import Any

from django.db import DEFAULT_DB_ALIAS
from django.db.models import Model

from callcenter.replica import REPLICA_ALIAS

_ALIASES = frozenset({DEFAULT_DB_ALIAS, REPLICA_ALIAS})


class PrimaryReplicaRouter:
    """Writes on the primary (also for rows read from the replica), migrations only there."""

    def db_for_read(self, model: type[Model], **hints: Any) -> str | None:
        # No opinion: the primary, unless the caller chose .using(read_alias()).
        return None

    def db_for_write(self, model: type[Model], **hints: Any) -> str:
        # Without this, saving an instance loaded from the replica would write to the replica.
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool | None:
        # The replica holds the primary's rows, so relations across the two are the same rows.
        if obj1._state.db in _ALIASES and obj2._state.db in _ALIASES:
            return True
        return None

    def allow_migrate(
        self, db: str, app_label: str, model_name: str | None = None, **hints: Any
    ) -> bool | None:
        # A replica replays the primary's schema; migrating it directly would fail (read-only).
        if db == REPLICA_ALIAS:
            return False
        return None
