"""What care adds to the customer page (callcenter.views.customers): the customer's newest
care enrollments, active or not."""

from callcenter.models import Customer
from callcenter.page_parts import PagePart
from callcenter.views.customers import customer_page_panels
from care.models import Enrollment

# A fixed slice: the panel costs one query for any history.
ENROLLMENTS_SHOWN = 10


def care_enrollments_panel(customer: Customer) -> PagePart:
    """The customer's newest enrollments with their rules."""
    enrollments = list(
        Enrollment.objects.filter(customer_id=customer.pk)
        .select_related("rule")
        .order_by("-enrolled_at", "-id")[:ENROLLMENTS_SHOWN]
    )
    return PagePart(
        template="care/partials/customer_enrollments.html", context={"enrollments": enrollments}
    )


def register() -> None:
    """Fill the customer page's registry (called from CareConfig.ready())."""
    customer_page_panels.register("care", care_enrollments_panel, order=10)
