"""The queues care's call steps may name (care.services.step_serializers.step_queues): outreach's
queues, by slug."""

from callcenter.generated import generated_text
from care.services.step_serializers import QueueDirectory, step_queues
from outreach.models import Queue


def queues_known(names: set[str]) -> set[str]:
    """The slugs among `names` that are queues."""
    return set(Queue.objects.filter(slug__in=names).values_list("slug", flat=True))


def queue_choices() -> list[tuple[str, str]]:
    """Every queue as (slug, name), by name; a default name in the reader's language."""
    return [
        (slug, generated_text(name))
        for slug, name in Queue.objects.order_by("name").values_list("slug", "name")
    ]


def register() -> None:
    step_queues.register("outreach", QueueDirectory(known=queues_known, choices=queue_choices))
