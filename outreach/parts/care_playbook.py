"""The queues care's playbook rules name, installed with the playbook
(care.playbook.playbook_setups)."""

from typing import Any

from django.contrib.auth.models import User

from care.playbook import playbook_setups
from outreach.models import Queue

PLAYBOOK_QUEUES = {
    "general": "General",
    "senior": "Senior agents",
    "supervisors": "Supervisors",
}


def playbook_queues_install(*, installed_by: User | None = None) -> dict[str, Any]:
    """Create the playbook's queues that do not exist yet; returns how many were created."""
    created_count = 0
    for slug, name in PLAYBOOK_QUEUES.items():
        _queue, created = Queue.objects.get_or_create(slug=slug, defaults={"name": name})
        created_count += created
    return {"queues_created": created_count}


def register() -> None:
    playbook_setups.register("queues", playbook_queues_install)
