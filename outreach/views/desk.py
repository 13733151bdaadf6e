"""The agent desk's callback form (callcenter.views.desk): schedule a call task for the agent
from the caller's card, answering with the refreshed card."""

from typing import Any

from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from callcenter.http import AuthenticatedHttpRequest
from callcenter.models import Customer
from callcenter.views import role_required
from callcenter.views.desk import desk_card_action
from outreach.forms import DeskCallbackForm
from outreach.services.tasks import outreach_task_create_manual

# The card's name for the form (outreach.parts.desk registers it by this name).
CALLBACK_FORM = "callback_form"


@require_POST
@role_required()
def desk_callback_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Schedule a callback for this customer (a call task for the agent); refreshed card."""

    def schedule(customer: Customer, data: dict[str, Any]) -> str:
        outreach_task_create_manual(
            customer=customer,
            created_by=request.user,
            due_at=data["callback_at"],
            body=data["notes"],
            assignee=request.user,
        )
        when = timezone.localtime(data["callback_at"]).strftime("%Y-%m-%d %H:%M")
        return _("Callback scheduled for %(when)s.") % {"when": when}

    return desk_card_action(request, pk, DeskCallbackForm, CALLBACK_FORM, schedule)
