"""Routing pages: the routing rules editor (admins), the routed tickets with the
supervisors' override (move a ticket to another queue or agent, audited), and the agents'
skills and ticket capacity, which supervisors set too (not an admin's: the service checks)."""

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse, HttpResponseForbidden
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.utils.translation import pgettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from callcenter.choices import OPEN_TICKET_STATUSES, CustomerKind, Language, Role, TicketKind
from callcenter.http import AuthenticatedHttpRequest
from callcenter.models import Ticket
from callcenter.numbers import whole_number
from callcenter.roles import MANAGER_ROLES
from callcenter.views import role_required
from outreach.access import TaskAccessDenied
from outreach.forms import AgentSkillsForm, RoutingRuleForm, TicketRouteForm, assignable_users
from outreach.models import Queue, RoutingRule, TicketRoute
from outreach.services.routing import agent_routing_set, agents_with_load, ticket_route_override
from outreach.services.routing_rule_edit import (
    RULE_INPUT_FIELDS,
    RuleInput,
    routing_rule_delete,
    routing_rule_save,
)
from segments.choices import ValueTier

PAGE_SIZE = 50


def _form_errors(form: Any, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for name, errors in error.message_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, error.messages)


@require_GET
@role_required((Role.ADMIN,))
def routing_rule_list_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The routing rules in the order they are tried."""
    rules = list(RoutingRule.objects.select_related("queue").order_by("position", "id"))
    rows = [{"rule": rule, "conditions": _condition_labels(rule)} for rule in rules]
    return render(request, "outreach/routing_rules.html", {"rules": rules, "rows": rows})


# A rule's conditions as the list shows them: (what, the chosen values' labels).
_CONDITION_CHOICES = (
    ("ticket_kinds", _lazy("Ticket kinds"), TicketKind),
    ("customer_kinds", _lazy("Customer kinds"), CustomerKind),
    ("value_tiers", _lazy("Value tiers"), ValueTier),
    ("languages", _lazy("Customer languages"), Language),
)


def _condition_labels(rule: RoutingRule) -> list[tuple[str, str]]:
    """The rule's conditions in words (industries are as admins typed them)."""
    conditions = []
    separator = pgettext("list separator", ", ")
    for field, label, choices in _CONDITION_CHOICES:
        values = getattr(rule, field)
        if values:
            names = dict(choices.choices)
            conditions.append((str(label), separator.join(str(names.get(v, v)) for v in values)))
    if rule.industries:
        conditions.append((_("Industries"), separator.join(rule.industries)))
    return conditions


@require_http_methods(["GET", "POST"])
@role_required((Role.ADMIN,))
def routing_rule_edit_view(
    request: AuthenticatedHttpRequest, pk: int | None = None
) -> HttpResponse:
    """Create a routing rule, or change one."""
    rule = get_object_or_404(RoutingRule, pk=pk) if pk is not None else None
    initial: dict[str, Any] = {}
    if rule is not None:
        initial = {name: getattr(rule, name) for name in RULE_INPUT_FIELDS}
        initial["industries"] = ", ".join(rule.industries)
    form = RoutingRuleForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = {name: form.cleaned_data[name] for name in RULE_INPUT_FIELDS}
        try:
            routing_rule_save(data=RuleInput(**data), by=request.user, rule=rule)
        except ValidationError as error:
            _form_errors(form, error)
        else:
            messages.success(request, _("Routing rule saved."))
            return redirect("routing-rules")
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "rule": rule, "has_queues": Queue.objects.exists()}
    return render(request, "outreach/routing_rule_form.html", context, status=status)


@require_POST
@role_required((Role.ADMIN,))
def routing_rule_delete_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    rule = get_object_or_404(RoutingRule, pk=pk)
    routing_rule_delete(rule=rule, by=request.user)
    messages.success(request, _("Routing rule deleted."))
    return redirect("routing-rules")


def _routed(params: dict[str, str]) -> Any:
    routes = TicketRoute.objects.filter(ticket__status__in=OPEN_TICKET_STATUSES)
    if params["show"] == "waiting":
        routes = routes.filter(ticket__assignee__isnull=True)
    queue_id = whole_number(params["queue"])
    if queue_id is not None:
        routes = routes.filter(queue_id=queue_id)
    return routes.select_related(
        "queue", "rule", "ticket", "ticket__customer", "ticket__assignee"
    ).order_by("ticket__assignee_id", "-ticket__opened_at", "ticket_id")


def _tickets_page(
    request: AuthenticatedHttpRequest, form: TicketRouteForm | None = None, status: int = 200
) -> HttpResponse:
    params = {key: request.GET.get(key, "") for key in ("show", "queue")}
    if params["show"] not in ("waiting", "all"):
        params["show"] = "waiting"
    page = Paginator(_routed(params), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "params": params,
        "query": urlencode(params),
        # Listed once for every row's move form (each row rendering a bound field would query).
        "queues": list(Queue.objects.order_by("name").values("id", "name")),
        "agents": list(assignable_users().values("id", "username")),
        "form": form or TicketRouteForm(auto_id=False),
        "back": request.get_full_path(),
    }
    return render(request, "outreach/routed_tickets.html", context, status=status)


@require_GET
@role_required(MANAGER_ROLES)
def routed_tickets_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Open routed tickets (waiting ones first by default) with their queue, rule and skills."""
    return _tickets_page(request)


@require_POST
@role_required(MANAGER_ROLES)
def ticket_route_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Move one ticket to a queue and/or an agent (audited)."""
    ticket = get_object_or_404(Ticket, pk=pk)
    form = TicketRouteForm(request.POST, auto_id=False)
    if form.is_valid():
        data = form.cleaned_data
        try:
            ticket_route_override(
                ticket=ticket,
                by=request.user,
                queue=data["queue"],
                assignee=data["assignee"],
                reason=data["reason"],
            )
        except ValidationError as error:
            _form_errors(form, error)
        else:
            messages.success(request, _("Ticket #%(id)s moved.") % {"id": ticket.pk})
            return redirect("routed-tickets")
    return _tickets_page(request, form, status=400)


@require_GET
@role_required(MANAGER_ROLES)
def agent_skills_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Active staff with their skills, ticket capacity and open tickets, each editable."""
    context = {"agents": agents_with_load(), "form": AgentSkillsForm(auto_id=False)}
    return render(request, "outreach/agent_skills.html", context)


@require_POST
@role_required(MANAGER_ROLES)
def agent_skills_set_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Set one agent's skills and ticket capacity (audited as "user.routing")."""
    user = get_object_or_404(get_user_model().objects.filter(is_active=True), pk=pk)
    form = AgentSkillsForm(request.POST, auto_id=False)
    if form.is_valid():
        try:
            changed = agent_routing_set(
                user=user,
                skills=form.cleaned_data["skills"],
                ticket_capacity=form.cleaned_data["ticket_capacity"],
                changed_by=request.user,
            )
        except TaskAccessDenied as denied:
            return HttpResponseForbidden(denied.message)
        except ValidationError as error:
            _form_errors(form, error)
        else:
            messages.success(
                request,
                _("Skills of %(name)s saved.") % {"name": user.get_username()}
                if changed
                else _("Nothing changed."),
            )
            return redirect("agent-skills")
    context = {"agents": agents_with_load(), "form": form, "failed": user.pk}
    return render(request, "outreach/agent_skills.html", context, status=400)
