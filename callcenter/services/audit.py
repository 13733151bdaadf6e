"""Writing the audit log."""

from typing import Any

from django.contrib.auth.models import User

from callcenter.models import AuditLog


def audit_log_record(
    *,
    actor: User | None,
    action: str,
    object_type: str,
    object_id: str | int = "",
    data: dict[str, Any] | None = None,
) -> AuditLog:
    """Record one audited act; call it inside the transaction of the act."""
    return AuditLog.objects.create(
        actor=actor if actor is not None and actor.is_authenticated else None,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        data=data or {},
    )
