"""One pass of the periodic care work, the same code beat runs: unprocessed events, time
events, finished enrollments, due sends and the SLA sweep."""

import json
from typing import Any

from django.core.management.base import BaseCommand

from care.services.enrollment import enrollments_complete
from care.services.events import events_sweep, time_events_emit
from outreach.services.dispatch import dispatch_due
from outreach.services.sla import sla_sweep


class Command(BaseCommand):
    help = "Run one pass of events, time events, due sends and the SLA sweep; print the counts."

    def handle(self, *args: Any, **options: Any) -> None:
        report = {
            "events": events_sweep(),
            "time_events": time_events_emit(),
            "enrollments_completed": enrollments_complete(),
            "dispatch": dispatch_due(),
            "sla": sla_sweep(),
        }
        self.stdout.write(json.dumps(report, default=str, sort_keys=True))
