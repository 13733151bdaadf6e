"""Deciding a merge proposal: accepting merges its pair, dismissing closes it for good."""

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from callcenter.choices import MergeProposalStatus
from callcenter.errors import ApplicationError
from callcenter.models import Customer, CustomerMerge, MergeProposal
from callcenter.services.audit import audit_log_record
from callcenter.services.identity.merge import customer_merge


@transaction.atomic
def merge_proposal_accept(
    *, proposal: MergeProposal, survivor_id: int, user: User
) -> CustomerMerge:
    """Merge the pair of an open proposal, keeping the customer `survivor_id` (A or B)."""
    if survivor_id == proposal.customer_a_id:
        merged_id = proposal.customer_b_id
    elif survivor_id == proposal.customer_b_id:
        merged_id = proposal.customer_a_id
    else:
        raise ApplicationError(_("The survivor must be one of the two customers of the proposal."))
    customers = Customer.objects.in_bulk([survivor_id, merged_id])
    return customer_merge(
        survivor=customers[survivor_id],
        merged=customers[merged_id],
        merged_by=user,
        proposal=proposal,
    )


@transaction.atomic
def merge_proposal_dismiss(*, proposal: MergeProposal, user: User) -> MergeProposal:
    """Decide that the pair is not one customer; the finder never proposes it again."""
    if user is None or not user.is_authenticated:
        raise ApplicationError(_("A proposal must be dismissed by a signed-in user."))
    proposal = MergeProposal.objects.select_for_update().get(pk=proposal.pk)
    if proposal.status == MergeProposalStatus.DISMISSED:
        return proposal
    if proposal.status != MergeProposalStatus.OPEN:
        raise ApplicationError(_("The customers of this proposal were already merged."))
    proposal.status = MergeProposalStatus.DISMISSED
    proposal.decided_by = user
    proposal.decided_at = timezone.now()
    proposal.save(update_fields=["status", "decided_by", "decided_at", "updated_at"])
    audit_log_record(
        actor=user,
        action="merge_proposal.dismiss",
        object_type="merge_proposal",
        object_id=proposal.pk,
        data={"customer_a": proposal.customer_a_id, "customer_b": proposal.customer_b_id},
    )
    return proposal
