"""Decisions for the ticket workspace: the ticket list and page, their forms, the ticket API's
actions and the service app's ticket list API. Every role works tickets; which tickets an agent
may work (theirs and unassigned ones) is decided by the ticket services and tested in
tests/service/ (the matrix's ticket is unassigned)."""

from tests.matrix import STAFF, _e, _page

EXPECTATIONS = {
    "service-tickets": _page(get=STAFF),
    "service-ticket": _page("ticket", get=STAFF),
    "service-ticket-respond": _page("ticket", post=STAFF),
    "service-ticket-customer-reply": _page("ticket", post=STAFF),
    "service-ticket-wait": _page("ticket", post=STAFF),
    "service-ticket-resume": _page("ticket", post=STAFF),
    "service-ticket-assign": _page("ticket", post=STAFF),
    "service-ticket-resolve": _page("ticket", post=STAFF),
    "service-ticket-reopen": _page("ticket", post=STAFF),
    "service-ticket-change": _page("ticket", post=STAFF),
    "api-ticket-respond": _e("ticket", post=STAFF),
    "api-ticket-customer-reply": _e("ticket", post=STAFF),
    "api-ticket-wait": _e("ticket", post=STAFF),
    "api-ticket-resume": _e("ticket", post=STAFF),
    "api-ticket-assign": _e("ticket", post=STAFF),
    "api-ticket-reopen": _e("ticket", post=STAFF),
    "api-ticket-change": _e("ticket", post=STAFF),
    "api-ticket-history": _e("ticket", get=STAFF),
    "api-service-tickets": _e(get=STAFF),
}
