"""What care adds to the customer page (callcenter.views.customers): the plans the customer is
in, then their newest other enrollments, each held-back or preempted one with the plan that
outranked it."""

from callcenter.models import Customer
from callcenter.page_parts import PagePart
from callcenter.views.customers import customer_page_panels
from care.selectors import customer_plans, plan_reason

# A fixed slice: the panel costs one query for any history.
ENROLLMENTS_SHOWN = 10


def care_enrollments_panel(customer: Customer) -> PagePart:
    """The customer's running plans first, then the newest others, with why each ended or was
    held back."""
    plans = [
        {"enrollment": enrollment, "reason": plan_reason(enrollment)}
        for enrollment in customer_plans(customer_id=customer.pk)[:ENROLLMENTS_SHOWN]
    ]
    return PagePart(template="care/partials/customer_enrollments.html", context={"plans": plans})


def register() -> None:
    """Fill the customer page's registry (called from CareConfig.ready())."""
    customer_page_panels.register("care", care_enrollments_panel, order=10)
