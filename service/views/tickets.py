"""The ticket workspace: the ticket list with SLA time left, and the ticket page where agents
respond, wait on the customer, resume, assign, resolve and reopen.

Every role reads every ticket's page; the list shows agents the tickets they may work (theirs
and unassigned ones) and supervisors all. The forms post to one view per action, which calls
the ticket service; the service refuses what the user may not do (another agent's ticket, a
bad transition) and the page says why (`callcenter.services.tickets`).
"""

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from callcenter.choices import OPEN_TICKET_STATUSES
from callcenter.errors import ApplicationError
from callcenter.http import AuthenticatedHttpRequest
from callcenter.masking import contact_for, contacts_visible_in_full
from callcenter.models import Ticket
from callcenter.roles import MANAGER_ROLES, has_role
from callcenter.selectors.activity import ticket_history_list
from callcenter.services.activity import ticket_resolve
from callcenter.services.tickets import (
    ticket_assign,
    ticket_change,
    ticket_customer_reply,
    ticket_reopen,
    ticket_respond,
    ticket_resume,
    ticket_wait,
    ticket_workable,
)
from callcenter.views import role_required
from service.forms import (
    TicketAssignForm,
    TicketChangeForm,
    TicketFilterForm,
    TicketNoteForm,
    TicketRespondForm,
)
from service.selectors.ticket_sla import sla_targets
from service.selectors.tickets import (
    TicketQuery,
    default_scope,
    scopes_for,
    ticket_detail,
    ticket_workspace_list,
)

PAGE_SIZE = 50
SCOPE_LABELS = {
    "workable": gettext_lazy("Mine and unassigned"),
    "mine": gettext_lazy("Mine"),
    "unassigned": gettext_lazy("Unassigned"),
    "all": gettext_lazy("All tickets"),
}
# The contact kind of the primary phone the selectors annotate.
PHONE = "phone"


def _phone_shown(user: Any, ticket: Ticket) -> str:
    """The customer's primary phone the selector annotates, as `user` may see it."""
    phone = getattr(ticket, "customer_phone", None)
    return contact_for(user, PHONE, phone) if phone else ""


@require_GET
@role_required()
def ticket_list_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Tickets with their SLA time left, the nearest due first; one query for the rows (a page
    is read one row past its size to know whether another follows, with no count)."""
    user = request.user
    scopes = [(scope, SCOPE_LABELS[scope]) for scope in scopes_for(user)]
    form = TicketFilterForm(
        request.GET or None, scopes=scopes, initial={"scope": default_scope(user)}
    )
    if form.is_bound and not form.is_valid():
        context = {"form": form, "rows": [], "page": 1, "has_next": False}
        return render(request, "service/ticket_list.html", context, status=400)
    data = form.cleaned_data if form.is_bound else {}
    query = TicketQuery(
        scope=data.get("scope") or default_scope(user),
        statuses=(data["status"],) if data.get("status") else (),
        kind=data.get("kind", ""),
        priority=data.get("priority", ""),
        sla_states=(data["sla"],) if data.get("sla") else (),
        customer_id=data.get("customer"),
    )
    page = data.get("page") or 1
    start = (page - 1) * PAGE_SIZE
    tickets = ticket_workspace_list(user=user, query=query, now=timezone.now())
    tickets_read = list(tickets[start : start + PAGE_SIZE + 1])
    rows = [
        {"ticket": ticket, "phone": _phone_shown(user, ticket)}
        for ticket in tickets_read[:PAGE_SIZE]
    ]
    params = request.GET.copy()
    params.pop("page", None)
    context = {
        "form": form,
        "rows": rows,
        "page": page,
        "has_next": len(tickets_read) > PAGE_SIZE,
        "params": params.urlencode(),
        "scope": query.scope,
    }
    return render(request, "service/ticket_list.html", context)


def _ticket_page(
    request: AuthenticatedHttpRequest,
    ticket_id: int,
    *,
    forms: dict[str, Any] | None = None,
    status: int = 200,
) -> HttpResponse:
    now = timezone.now()
    ticket = ticket_detail(ticket_id=ticket_id, now=now)
    if ticket is None:
        raise Http404(_("No such ticket."))
    user = request.user
    is_manager = has_role(user, MANAGER_ROLES)
    sla = getattr(ticket, "sla", None)
    context = {
        "ticket": ticket,
        "customer": ticket.customer,
        "phone_shown": _phone_shown(user, ticket),
        "contacts_in_full": contacts_visible_in_full(user),
        "history": list(ticket_history_list(ticket_id=ticket.pk).order_by("at", "id")),
        "sla": sla,
        "targets": sla_targets(sla, ticket=ticket, now=now),
        "workable": ticket_workable(user, ticket),
        "is_manager": is_manager,
        "can_claim": ticket.assignee_id is None and not is_manager,
        "is_open": ticket.status in OPEN_TICKET_STATUSES,
        "respond_form": TicketRespondForm(),
        "note_form": TicketNoteForm(),
        "change_form": TicketChangeForm(
            initial={"kind": ticket.kind, "priority": ticket.priority, "channel": ticket.channel}
        ),
        "assign_form": TicketAssignForm(initial={"assignee": ticket.assignee_id})
        if is_manager
        else None,
        **(forms or {}),
    }
    return render(request, "service/ticket_detail.html", context, status=status)


@require_GET
@role_required()
def ticket_detail_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """One ticket: the customer, the history thread, the SLA box and the forms to work it."""
    return _ticket_page(request, pk)


def _ticket_or_404(pk: int) -> Ticket:
    ticket = Ticket.objects.filter(pk=pk).first()
    if ticket is None:
        raise Http404(_("No such ticket."))
    return ticket


def _act(
    request: AuthenticatedHttpRequest,
    pk: int,
    *,
    form_class: type[Any],
    form_name: str,
    run: Callable[[Ticket, dict[str, Any]], object],
    done: str,
) -> HttpResponse:
    """Validate the posted form, run the service, and go back to the ticket with a message;
    a bad form or a refusal shows the page again with the error (400, or 403 refused)."""
    ticket = _ticket_or_404(pk)
    form = form_class(request.POST)
    if form.is_valid():
        try:
            run(ticket, form.cleaned_data)
        except ApplicationError as exc:
            form.add_error(None, exc.message)
            return _ticket_page(request, pk, forms={form_name: form}, status=exc.status_code)
        messages.success(request, done)
        return redirect("service-ticket", pk=pk)
    return _ticket_page(request, pk, forms={form_name: form}, status=400)


@require_POST
@role_required()
def ticket_respond_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Record a response to the customer."""
    return _act(
        request,
        pk,
        form_class=TicketRespondForm,
        form_name="respond_form",
        run=lambda ticket, data: ticket_respond(ticket=ticket, by=request.user, **data),
        done=_("Response recorded."),
    )


@require_POST
@role_required()
def ticket_customer_reply_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Record what the customer wrote or said back (ends waiting on the customer)."""
    return _act(
        request,
        pk,
        form_class=TicketRespondForm,
        form_name="respond_form",
        run=lambda ticket, data: ticket_customer_reply(ticket=ticket, by=request.user, **data),
        done=_("The customer's reply is recorded."),
    )


@require_POST
@role_required()
def ticket_wait_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Wait on the customer (the SLA clock pauses)."""
    return _act(
        request,
        pk,
        form_class=TicketNoteForm,
        form_name="note_form",
        run=lambda ticket, data: ticket_wait(ticket=ticket, by=request.user, **data),
        done=_("The ticket is waiting on the customer."),
    )


@require_POST
@role_required()
def ticket_resume_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Stop waiting on the customer."""
    return _act(
        request,
        pk,
        form_class=TicketNoteForm,
        form_name="note_form",
        run=lambda ticket, data: ticket_resume(ticket=ticket, by=request.user, **data),
        done=_("The ticket is in progress again."),
    )


@require_POST
@role_required()
def ticket_resolve_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Resolve the ticket with an optional note."""
    return _act(
        request,
        pk,
        form_class=TicketNoteForm,
        form_name="note_form",
        run=lambda ticket, data: ticket_resolve(ticket=ticket, by=request.user, **data),
        done=_("Ticket resolved."),
    )


@require_POST
@role_required()
def ticket_reopen_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Reopen a resolved ticket."""
    return _act(
        request,
        pk,
        form_class=TicketNoteForm,
        form_name="note_form",
        run=lambda ticket, data: ticket_reopen(ticket=ticket, by=request.user, **data),
        done=_("Ticket reopened."),
    )


@require_POST
@role_required()
def ticket_assign_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Assign the ticket (supervisors, admins) or claim it (`claim` posted; for agents, who may
    only claim, any post is a claim)."""
    if "claim" in request.POST or not has_role(request.user, MANAGER_ROLES):
        return _act(
            request,
            pk,
            form_class=TicketNoteForm,
            form_name="note_form",
            run=lambda ticket, data: ticket_assign(
                ticket=ticket, by=request.user, assignee=request.user, **data
            ),
            done=_("The ticket is yours."),
        )
    return _act(
        request,
        pk,
        form_class=TicketAssignForm,
        form_name="assign_form",
        run=lambda ticket, data: ticket_assign(ticket=ticket, by=request.user, **data),
        done=_("Ticket assigned."),
    )


@require_POST
@role_required()
def ticket_change_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Change the ticket's kind, priority or channel."""
    return _act(
        request,
        pk,
        form_class=TicketChangeForm,
        form_name="change_form",
        run=lambda ticket, data: ticket_change(ticket=ticket, by=request.user, **data),
        done=_("Ticket changed."),
    )
