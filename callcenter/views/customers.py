"""Customer pages: the search (with an htmx live-search fragment) and the customer card.

Agents see contact details masked (`callcenter.masking`); a "Show" control next to each of
them reveals one in full with a reason (`customer_reveal_view`, audited and rate-limited). What
an agent reads counts against their hourly budget of customers, and each search page they read
is audited (`callcenter.services.customer_access`).

Apps above add panels to the customer card through `customer_page_panels` (care: the care
plans; outreach: the outreach tasks), which they fill in their `AppConfig.ready()`.
"""

import zoneinfo
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from callcenter.budgets import LimitReached
from callcenter.choices import AccountRole, CustomerStatus, MergeProposalStatus
from callcenter.errors import ApplicationError
from callcenter.extensions import Registry
from callcenter.http import AuthenticatedHttpRequest
from callcenter.masking import contacts_visible_in_full
from callcenter.models import Customer, MergeProposal
from callcenter.numbers import whole_number
from callcenter.page_parts import PagePart
from callcenter.phones import try_normalize_phone
from callcenter.roles import MANAGER_ROLES, has_role
from callcenter.selectors.profile import (
    TIMELINE_LIMIT,
    TimelineCursor,
    account_contacts,
    customer_profile,
    customer_search_rows,
    customer_timeline,
)
from callcenter.services.customer_access import (
    REVEAL_REASON_MAX_LENGTH,
    contact_point_reveal,
    customer_list_read_record,
    customer_reads_check,
)
from callcenter.services.customers import customer_account_set
from callcenter.views import role_required

SEARCH_PAGE_SIZE = 25
MAX_QUERY_LENGTH = 200
# The open duplicate proposals the customer page lists: a fixed slice, so the page costs the
# same queries for any history.
MERGE_PROPOSALS_SHOWN = 5
# Answers whose fragment explains a refusal; the pages' htmx-errors.js swaps them in.
INVALID = 422
LIMIT_REACHED = 429

# Panels the apps above add to the customer card, before the duplicate suggestions: each takes
# the customer and returns its template and context, reading a fixed number of queries.
customer_page_panels: Registry[Callable[[Customer], PagePart]] = Registry("customer page panels")


def _is_htmx(request: HttpRequest) -> bool:
    """An htmx request for a fragment (a history restore wants the whole page)."""
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )


def _looks_like_phone(query: str) -> bool:
    return any(ch.isdigit() for ch in query) and try_normalize_phone(query) is not None


def _timeline_cursor(request: HttpRequest) -> TimelineCursor | None:
    text = request.GET.get("before")
    if not text:
        return None
    cursor = TimelineCursor.decode(text)
    if cursor is None:
        raise ValueError(text)
    return cursor


@require_GET
@role_required()
def customer_search_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Search by name, phone (any format), external id or email; live results through htmx."""
    query = request.GET.get("q", "").strip()[:MAX_QUERY_LENGTH]
    in_full = contacts_visible_in_full(request.user)
    page_size = (
        SEARCH_PAGE_SIZE
        if in_full
        else min(SEARCH_PAGE_SIZE, settings.AGENT_CUSTOMER_PAGE_SIZE_MAX)
    )
    paginator = Paginator(customer_search_rows(query), page_size)
    page = paginator.get_page(request.GET.get("page"))
    htmx = _is_htmx(request)
    template = (
        "callcenter/partials/customer_results.html" if htmx else "callcenter/customer_search.html"
    )
    context: dict[str, Any] = {"query": query, "page": page, "contacts_in_full": in_full}
    status = 200
    if query:
        try:
            customer_list_read_record(
                user=request.user,
                customer_ids=[customer.pk for customer in page.object_list],
                filters={"q": query, "page": page.number},
                via="page",
            )
        except LimitReached as exc:
            context.update(page=None, limit_error=exc.message)
            status = LIMIT_REACHED
    if status == 200 and not htmx and paginator.count == 1 and _looks_like_phone(query):
        # A caller's number that identifies one customer: go straight to the card.
        return redirect("customer-detail", pk=page.object_list[0].pk)
    response = render(request, template, context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _local_time(customer: Customer) -> Any:
    try:
        return timezone.now().astimezone(zoneinfo.ZoneInfo(customer.timezone))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return None


def _merge_suggestions(customer_id: int) -> list[MergeProposal]:
    """Open duplicate proposals about the customer, each with `other`: the other customer."""
    proposals = list(
        MergeProposal.objects.filter(
            Q(customer_a_id=customer_id) | Q(customer_b_id=customer_id),
            status=MergeProposalStatus.OPEN,
        )
        .select_related("customer_a", "customer_b")
        .order_by("-score", "id")[:MERGE_PROPOSALS_SHOWN]
    )
    for proposal in proposals:
        is_a = proposal.customer_a_id == customer_id
        proposal.other = proposal.customer_b if is_a else proposal.customer_a
    return proposals


@require_GET
@role_required()
def customer_detail_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The customer card: profile, contact points, consent and the activity timeline."""
    try:
        before = _timeline_cursor(request)
    except ValueError:
        return HttpResponseBadRequest(_("Invalid timeline position."))
    customer = customer_profile(pk)
    if customer is None:
        raise Http404(_("No such customer."))
    if customer.merged_into_id is not None:
        messages.info(
            request,
            _("%(name)s (customer %(id)s) was merged into this customer.")
            % {"name": customer.name, "id": customer.pk},
        )
        return redirect("customer-detail", pk=customer.merged_into_id)
    try:
        customer_reads_check(user=request.user, customer_ids=[customer.pk])
    except LimitReached as exc:
        return render(
            request, "callcenter/limit_reached.html", {"message": exc.message}, status=LIMIT_REACHED
        )
    context = {
        "customer": customer,
        "contact_points": list(customer.contact_points.all()),
        "consent_changes": customer.recent_consent_changes,
        "attributes": sorted((customer.attributes or {}).items()),
        "timeline": customer_timeline(customer.pk, limit=TIMELINE_LIMIT, before=before),
        "local_time": _local_time(customer),
        "contacts_in_full": contacts_visible_in_full(request.user),
        "panels": [panel(customer) for panel in customer_page_panels],
        "merge_proposals": _merge_suggestions(customer.pk),
        "account_roles": AccountRole.choices,
        "account_contacts": account_contacts(customer.pk) if customer.is_business else [],
        "can_merge": has_role(request.user, MANAGER_ROLES),
    }
    return render(request, "callcenter/customer_detail.html", context)


@require_GET
@role_required()
def customer_timeline_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The next page of a customer's timeline, as a fragment for the "load more" button."""
    try:
        before = _timeline_cursor(request)
    except ValueError:
        return HttpResponseBadRequest(_("Invalid timeline position."))
    customer = get_object_or_404(Customer.objects.only("id"), pk=pk)
    context = {
        "customer": customer,
        "timeline": customer_timeline(customer.pk, limit=TIMELINE_LIMIT, before=before),
    }
    return render(request, "callcenter/partials/timeline_items.html", context)


@require_POST
@role_required()
def customer_reveal_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Show one of the customer's contact points in full, for a reason (htmx fragment): the
    value, or the form with the refusal (no reason, limit reached). Audited."""
    customer = get_object_or_404(Customer.objects.only("id"), pk=pk, status=CustomerStatus.ACTIVE)
    point = customer.contact_points.filter(
        pk=whole_number(request.POST.get("contact_point", "")) or 0, is_active=True
    ).first()
    if point is None:
        return HttpResponseBadRequest(_("Choose one of the customer's active contact points."))
    reason = request.POST.get("reason", "")
    context: dict[str, Any] = {
        "customer_id": customer.pk,
        "point": point,
        "reason": reason[:REVEAL_REASON_MAX_LENGTH],
    }
    try:
        contact_point_reveal(
            actor=request.user,
            customer_id=customer.pk,
            contact_point_id=point.pk,
            reason=reason,
            via="page",
        )
    except LimitReached as exc:
        context["error"] = exc.message
        status = LIMIT_REACHED
    except ApplicationError as exc:
        context["error"] = exc.message
        status = INVALID
    else:
        context["revealed"] = True
        status = 200
    return render(request, "callcenter/partials/contact_reveal.html", context, status=status)


def _customer_by_reference(reference: str) -> Customer | None:
    """The customer a person typed: an id, or an external id."""
    reference = reference.strip()
    if not reference:
        return None
    number = whole_number(reference)
    if number is not None:
        found = Customer.objects.filter(pk=number).first()
        if found is not None:
            return found
    return Customer.objects.filter(external_id=reference).first()


@require_POST
@role_required()
def customer_account_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Change account links from a customer page: a person joins (`account`) or leaves
    (`leave`) an account; an account adds (`contact`) or takes off (`remove_contact`) one of
    its contacts. Each goes through `customer_account_set` (audited); a refusal is shown and
    changes nothing."""
    customer = get_object_or_404(Customer, pk=pk)
    role = request.POST.get("account_role", "")
    try:
        if "leave" in request.POST:
            customer_account_set(customer=customer, account=None, changed_by=request.user)
            messages.success(request, _("The customer is no longer a contact of the account."))
        elif "remove_contact" in request.POST:
            contact = Customer.objects.filter(
                pk=whole_number(request.POST["remove_contact"]) or 0, account_id=customer.pk
            ).first()
            if contact is None:
                raise ApplicationError(_("That customer is not a contact of this account."))
            customer_account_set(customer=contact, account=None, changed_by=request.user)
            messages.success(
                request, _("%(name)s is no longer a contact.") % {"name": contact.name}
            )
        elif "contact" in request.POST:
            contact = _customer_by_reference(request.POST["contact"])
            if contact is None:
                raise ApplicationError(_("No customer has that id or external id."))
            customer_account_set(
                customer=contact, account=customer, role=role, changed_by=request.user
            )
            messages.success(request, _("%(name)s is now a contact.") % {"name": contact.name})
        else:
            account = _customer_by_reference(request.POST.get("account", ""))
            if account is None:
                raise ApplicationError(_("No customer has that id or external id."))
            customer_account_set(
                customer=customer, account=account, role=role, changed_by=request.user
            )
            messages.success(
                request,
                _("The customer is now a contact of %(account)s.") % {"account": account.name},
            )
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect("customer-detail", pk=customer.pk)
