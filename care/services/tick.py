"""One pass of the periodic care work, the same code beat runs (`manage.py care_tick`):
unprocessed events, time events, journeys past their wait, finished enrollments and due campaign
runs, then the passes the apps carrying out plans register in `tick_passes` (outreach: due
sends and the SLA sweep, outreach/parts/care_tick.py)."""

from collections.abc import Callable
from typing import Any

from callcenter.extensions import Registry
from care.services.campaigns import campaigns_tick
from care.services.enrollment import enrollments_complete
from care.services.events import events_sweep, time_events_emit
from care.services.journey_runs import journeys_time_out

# name -> a pass that runs its periodic job once and returns its counts (JSON values).
tick_passes: Registry[Callable[[], Any]] = Registry("care tick passes")


def care_tick() -> dict[str, Any]:
    """Run care's passes, then the registered ones in order; their counts by name."""
    report: dict[str, Any] = {
        "events": events_sweep(),
        "time_events": time_events_emit(),
        "journeys_timed_out": journeys_time_out(),
        "enrollments_completed": enrollments_complete(),
        "campaigns": campaigns_tick(),
    }
    for name, run in tick_passes.items():
        report[name] = run()
    return report
