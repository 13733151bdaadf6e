"""The queues care's playbook rules name, and the default routing rules with the To B
specialists' queue, installed with the playbook (care.playbook.playbook_setups)."""

from typing import Any

from django.contrib.auth.models import User
from django.utils.translation import gettext_noop

from care.playbook import playbook_setups
from outreach.models import Queue, RoutingRule

PLAYBOOK_QUEUES = {
    "general": gettext_noop("General"),
    "senior": gettext_noop("Senior agents"),
    "supervisors": gettext_noop("Supervisors"),
    "to-b": gettext_noop("To B industry specialists"),
}
# The default routing rules (installed when there are none), tried in this order: a business
# customer with an industry goes to an industry specialist (the To B practice), high-value
# customers to senior agents with "vip", English speakers to agents who speak English; each
# also requires the customer's language (derive_skills).
PLAYBOOK_ROUTING = (
    (gettext_noop("To B: industry specialist"), {"customer_kinds": ["business"]}, "to-b"),
    (gettext_noop("High value: senior agents"), {"value_tiers": ["high"]}, "senior"),
    (gettext_noop("English speakers"), {"languages": ["en"]}, "general"),
)


def playbook_queues_install(*, installed_by: User | None = None) -> dict[str, Any]:
    """Create the playbook's queues that do not exist yet; returns how many were created."""
    created_count = 0
    for slug, name in PLAYBOOK_QUEUES.items():
        queue, created = Queue.objects.get_or_create(slug=slug, defaults={"name": name})
        created_count += created
        if created and slug == "to-b":
            # The specialists: staff who hold an industry skill.
            queue.members.add(
                *User.objects.filter(
                    is_active=True, agent_profile__skills__overlap=_industry_skills()
                ).values_list("pk", flat=True)
            )
    rules_created = 0
    if not RoutingRule.objects.exists():
        queues = {queue.slug: queue for queue in Queue.objects.filter(slug__in=PLAYBOOK_QUEUES)}
        RoutingRule.objects.bulk_create(
            [
                RoutingRule(name=name, position=10 * (index + 1), queue=queues[slug], **conditions)
                for index, (name, conditions, slug) in enumerate(PLAYBOOK_ROUTING)
            ]
        )
        rules_created = len(PLAYBOOK_ROUTING)
    return {"queues_created": created_count, "routing_rules_created": rules_created}


def _industry_skills() -> list[str]:
    """Every industry skill staff hold (the To B queue's first members)."""
    skills: set[str] = set()
    for row in User.objects.filter(agent_profile__isnull=False).values_list(
        "agent_profile__skills", flat=True
    ):
        skills.update(skill for skill in row or [] if skill.startswith("industry:"))
    return sorted(skills)


def register() -> None:
    playbook_setups.register("queues", playbook_queues_install)
