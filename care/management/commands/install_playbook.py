"""Install the default care playbook (idempotent): queues, templates and switched-off rules."""

from typing import Any

from django.core.management.base import BaseCommand

from care.playbook import playbook_install


class Command(BaseCommand):
    help = (
        "Create the default care rules, their message templates and the queues they use. "
        "Existing ones are left as they are; rules stay off unless CARE_PLAYBOOK_ACTIVE lists them."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        result = playbook_install()
        self.stdout.write(
            f"queues created: {result.get('queues_created', 0)}, "
            f"templates created: {result['templates_created']}, "
            f"rules created: {result['rules_created']}, "
            f"rules switched on: {', '.join(result['rules_activated']) or '-'}"
        )
        if result["unknown_keys"]:
            self.stderr.write(
                "CARE_PLAYBOOK_ACTIVE names unknown playbook rules: "
                + ", ".join(result["unknown_keys"])
            )
