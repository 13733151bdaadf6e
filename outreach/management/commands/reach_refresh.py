"""`python manage.py reach_refresh [--full]`: customers' reachability and receptiveness now."""

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from outreach.services.reach import reach_refresh


class Command(BaseCommand):
    help = (
        "Recompute customers' reachability and receptiveness (segments.CustomerReach): the "
        "customers changed since the last pass, or everybody with --full."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--full", action="store_true", help="Recompute every customer.")

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(json.dumps(reach_refresh(full=options["full"])))
