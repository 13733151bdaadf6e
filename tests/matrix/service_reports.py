"""Decisions for the service reports: the SLA report is for supervisors and admins (page and
API); every call-center role opens the scorecards, agents seeing only their own card (checked
in tests/service/test_scorecards.py)."""

from tests.matrix import MANAGERS, STAFF, Entry, _e, _page

EXPECTATIONS: dict[str, Entry] = {
    "service-sla-report": _page(get=MANAGERS),
    "service-scorecards": _page(get=STAFF),
    "api-service-sla-report": _e(get=MANAGERS),
    "api-service-scorecards": _e(get=STAFF),
}
