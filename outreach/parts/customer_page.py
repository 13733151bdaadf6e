"""What outreach adds to the customer page (callcenter.views.customers): the customer's newest
outreach tasks, open or not, with the tracked links of their messages."""

from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import OuterRef
from django.db.models.functions import JSONObject

from callcenter.models import Customer
from callcenter.page_parts import PagePart
from callcenter.views.customers import customer_page_panels
from outreach.models import OutreachTask, TrackedLink
from outreach.task_states import task_states_attach

# A fixed slice: the panel costs one query for any history.
TASKS_SHOWN = 10


def outreach_tasks_panel(customer: Customer) -> PagePart:
    """The customer's newest tasks with their assignees and the tracked links of their
    messages (clicked or not), in one query."""
    links = TrackedLink.objects.filter(task_id=OuterRef("pk")).order_by("id")
    tasks = list(
        OutreachTask.objects.filter(customer_id=customer.pk)
        .select_related("assignee")
        .annotate(
            links=ArraySubquery(
                links.values(
                    json=JSONObject(
                        url="target_url", clicks="click_count", first_clicked_at="first_clicked_at"
                    )
                )
            )
        )
        .order_by("-created_at", "-id")[:TASKS_SHOWN]
    )
    task_states_attach(tasks)
    return PagePart(template="outreach/partials/customer_tasks.html", context={"tasks": tasks})


def register() -> None:
    """Fill the customer page's registry (called from OutreachConfig.ready())."""
    customer_page_panels.register("outreach", outreach_tasks_panel, order=20)
