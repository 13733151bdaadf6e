"""The duplicates page (supervisors and admins): open merge proposals with their evidence in
words, a confirmation that shows what a merge moves, merge, dismiss, and "find duplicates now".

Agents are refused on the server (403), as in the API (`/api/merge-proposals/`).
"""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from callcenter.choices import ContactKind, MergeProposalStatus
from callcenter.errors import ApplicationError
from callcenter.http import AuthenticatedHttpRequest
from callcenter.masking import contacts_visible_in_full
from callcenter.models import Customer, MergeProposal
from callcenter.numbers import whole_number
from callcenter.roles import MANAGER_ROLES
from callcenter.services.identity import (
    merge_moves_preview,
    merge_proposal_accept,
    merge_proposal_dismiss,
    merge_proposals_find_later,
)
from callcenter.views import role_required

PROPOSALS_PER_PAGE = 50
# What the confirmation calls the contact points of each kind that move.
CONTACT_KIND_PLURALS = {
    ContactKind.PHONE: gettext_lazy("Phone numbers"),
    ContactKind.EMAIL: gettext_lazy("Emails"),
    ContactKind.WECHAT: gettext_lazy("WeChat IDs"),
    ContactKind.EXTERNAL: gettext_lazy("External IDs"),
    ContactKind.WECOM: gettext_lazy("WeCom contacts"),
}


def _open_proposal(pk: int) -> MergeProposal:
    """The open proposal `pk` with both customers; 404 for an unknown or decided one."""
    return get_object_or_404(
        MergeProposal.objects.select_related("customer_a", "customer_b"),
        pk=pk,
        status=MergeProposalStatus.OPEN,
    )


def _pair(proposal: MergeProposal, keep: object) -> tuple[Customer, Customer]:
    """(survivor, merged) for the customer id `keep` of the pair (A when not given); 404 for an
    id outside the pair."""
    if keep in (None, ""):
        return proposal.customer_a, proposal.customer_b
    survivor_id = whole_number(keep)
    if survivor_id == proposal.customer_a_id:
        return proposal.customer_a, proposal.customer_b
    if survivor_id == proposal.customer_b_id:
        return proposal.customer_b, proposal.customer_a
    raise Http404(_("That customer is not one of the pair."))


@require_GET
@role_required(MANAGER_ROLES)
def merge_proposal_list_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Open proposals, most likely duplicates first, in a fixed number of queries per page."""
    proposals = (
        MergeProposal.objects.filter(status=MergeProposalStatus.OPEN)
        .select_related("customer_a", "customer_b")
        .order_by("-score", "id")
    )
    page = Paginator(proposals, PROPOSALS_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "proposals": page.object_list,
        "contacts_in_full": contacts_visible_in_full(request.user),
    }
    return render(request, "callcenter/duplicates.html", context)


@require_POST
@role_required(MANAGER_ROLES)
def merge_proposals_find_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Run the duplicate finder in the background (as the nightly one does); it is idempotent,
    so pressing twice only finds the same pairs again."""
    merge_proposals_find_later()
    messages.success(
        request,
        _(
            "Looking for duplicates: new proposals appear on this page when the search "
            "finishes (under a minute for most customer bases; reload to see them)."
        ),
    )
    return redirect("merge-proposals")


@require_http_methods(["GET", "POST"])
@role_required(MANAGER_ROLES)
def merge_proposal_merge_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """GET: the confirmation, with what moves to the customer kept; POST: merge."""
    proposal = _open_proposal(pk)
    data = request.POST if request.method == "POST" else request.GET
    survivor, merged = _pair(proposal, data.get("keep"))
    if request.method == "POST":
        try:
            record = merge_proposal_accept(
                proposal=proposal, survivor_id=survivor.pk, user=request.user
            )
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return redirect("merge-proposals")
        messages.success(
            request,
            _("%(merged)s (customer %(merged_id)s) was merged into %(survivor)s.")
            % {"merged": merged.name, "merged_id": record.merged_id, "survivor": survivor.name},
        )
        return redirect("customer-detail", pk=record.survivor_id)
    preview = merge_moves_preview(survivor=survivor, merged=merged)
    context = {
        "proposal": proposal,
        "survivor": survivor,
        "merged": merged,
        "contact_moves": [
            (CONTACT_KIND_PLURALS[ContactKind(kind)], n)
            for kind, n in preview.contact_points.items()
        ],
        "contact_duplicates": preview.contact_duplicates,
        "row_moves": sorted(
            ((preview.labels[label], n) for label, n in preview.rows.items()),
            key=lambda row: str(row[0]),
        ),
        "contacts_in_full": contacts_visible_in_full(request.user),
    }
    return render(request, "callcenter/duplicate_merge.html", context)


@require_POST
@role_required(MANAGER_ROLES)
def merge_proposal_dismiss_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Decide the pair is two customers: the finder never proposes it again."""
    proposal = _open_proposal(pk)
    merge_proposal_dismiss(proposal=proposal, user=request.user)
    messages.success(
        request,
        _("Dismissed: %(a)s and %(b)s stay two customers.")
        % {"a": proposal.customer_a.name, "b": proposal.customer_b.name},
    )
    return redirect("merge-proposals")
