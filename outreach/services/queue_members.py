"""Which call queues an agent works: set by admins, audited."""

from collections.abc import Iterable

from django.contrib.auth.models import User
from django.db import transaction

from callcenter.services.audit import audit_log_record
from outreach.models import Queue


@transaction.atomic
def agent_queues_set(*, user: User, queue_ids: Iterable[int], changed_by: User | None) -> bool:
    """Make `user` a member of exactly the queues `queue_ids`; returns whether anything changed."""
    through = Queue.members.through
    wanted = set(Queue.objects.filter(pk__in=list(queue_ids)).values_list("pk", flat=True))
    current = set(through.objects.filter(user_id=user.pk).values_list("queue_id", flat=True))
    if wanted == current:
        return False
    through.objects.filter(user_id=user.pk, queue_id__in=current - wanted).delete()
    through.objects.bulk_create(
        [through(user_id=user.pk, queue_id=queue_id) for queue_id in sorted(wanted - current)]
    )
    slugs = dict(Queue.objects.filter(pk__in=wanted | current).values_list("pk", "slug"))
    audit_log_record(
        actor=changed_by,
        action="user.queues",
        object_type="user",
        object_id=user.pk,
        data={
            "before": {"queues": sorted(slugs[pk] for pk in current)},
            "after": {"queues": sorted(slugs[pk] for pk in wanted)},
        },
    )
    return True
