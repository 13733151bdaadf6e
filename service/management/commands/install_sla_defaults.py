"""`python manage.py install_sla_defaults`: the default SLA policies and business calendar."""

from typing import Any

from django.core.management.base import BaseCommand

from service.services.sla_defaults import sla_defaults_install


class Command(BaseCommand):
    help = "Create the default SLA policies and business calendar that do not exist yet."

    def handle(self, *args: Any, **options: Any) -> None:
        result = sla_defaults_install()
        self.stdout.write(
            f"Created {result['sla_calendars_created']} calendars and "
            f"{result['sla_policies_created']} SLA policies."
        )
