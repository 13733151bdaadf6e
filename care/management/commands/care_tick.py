"""One pass of the periodic care work, the same code beat runs: unprocessed events, time
events, finished enrollments, and the passes of the apps carrying out plans (due sends and the
SLA sweep); see care.services.tick."""

import json
from typing import Any

from django.core.management.base import BaseCommand

from care.services.tick import care_tick


class Command(BaseCommand):
    help = "Run one pass of events, time events, due sends and the SLA sweep; print the counts."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(json.dumps(care_tick(), default=str, sort_keys=True))
