"""Merging two customers: always an explicit decision of a person. It moves every row that
points at the merged customer to the survivor, fills the survivor's empty profile fields, keeps
the most restrictive consent, settles proposals about the pair and leaves a `CustomerMerge`
record and an audit entry behind."""

import json
from typing import Any, cast

from django.contrib.auth.models import User
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.db.models.functions import Greatest, Least
from django.utils import timezone
from django.utils.translation import gettext as _

from callcenter.choices import (
    ConsentChannel,
    ConsentSource,
    ContactKind,
    CustomerKind,
    CustomerStatus,
    MergeProposalStatus,
)
from callcenter.errors import ApplicationError
from callcenter.models import ContactPoint, Customer, CustomerMerge, MergeProposal
from callcenter.services.audit import audit_log_record
from callcenter.services.customers import CONSENT_FIELDS, customer_consent_set
from callcenter.services.identity.moves import move_contact_points, move_related_rows

# Empty profile fields of the survivor are filled from the merged customer. The name, kind,
# time zone and language always stay the survivor's (the latter two have defaults, so "empty"
# cannot be told from "chosen").
FILLABLE_FIELDS = (
    "company_name",
    "industry",
    "employee_count",
    "birthday",
    "city",
    "region",
    "advisor",
)

# The contact-point system under which a merged customer's external id is kept on the survivor.
MERGED_EXTERNAL_SYSTEM = "merged"


def _snapshot(customer: Customer) -> dict[str, Any]:
    data: dict[str, Any] = {
        f.attname: getattr(customer, f.attname) for f in Customer._meta.concrete_fields
    }
    data["contact_points"] = list(
        ContactPoint.objects.filter(customer_id=customer.pk)
        .order_by("pk")
        .values("kind", "system", "value", "raw_value", "label", "is_primary", "is_active")
    )
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


def _close_proposals(
    *,
    survivor: Customer,
    merged: Customer,
    merged_by: User,
    proposal: MergeProposal | None,
) -> MergeProposal | None:
    """Settle proposals that involve the merged customer.

    The pair's own proposal is marked merged. Other open ones are re-pointed at the survivor
    (their evidence moved with the rows), unless the survivor already has a proposal with the
    same customer: then the duplicate is dismissed as superseded.
    """
    now = timezone.now()
    low, high = sorted((survivor.pk, merged.pk))
    pair = MergeProposal.objects.filter(customer_a_id=low, customer_b_id=high)
    if proposal is None:
        proposal = pair.filter(status=MergeProposalStatus.OPEN).first()
    if proposal is not None:
        proposal.status = MergeProposalStatus.MERGED
        proposal.decided_by = merged_by
        proposal.decided_at = now
        proposal.save(update_fields=["status", "decided_by", "decided_at", "updated_at"])
    involving_merged = (
        MergeProposal.objects.filter(status=MergeProposalStatus.OPEN)
        .filter(Q(customer_a_id=merged.pk) | Q(customer_b_id=merged.pk))
        .exclude(customer_a_id=low, customer_b_id=high)
    )

    def survivor_paired_with(other: str) -> Exists:
        return Exists(
            MergeProposal.objects.filter(
                Q(customer_a_id=survivor.pk, customer_b_id=OuterRef(other))
                | Q(customer_a_id=OuterRef(other), customer_b_id=survivor.pk)
            )
        )

    involving_merged.filter(
        Q(customer_a_id=merged.pk) & survivor_paired_with("customer_b_id")
        | Q(customer_b_id=merged.pk) & survivor_paired_with("customer_a_id")
    ).update(
        status=MergeProposalStatus.DISMISSED, decided_by=merged_by, decided_at=now, updated_at=now
    )
    other_side = models.Case(
        models.When(customer_a_id=merged.pk, then=F("customer_b_id")),
        default=F("customer_a_id"),
    )
    involving_merged.update(
        customer_a_id=Least(other_side, survivor.pk),
        customer_b_id=Greatest(other_side, survivor.pk),
        updated_at=now,
    )
    return proposal


def _lock_pair(survivor: Customer, merged: Customer) -> tuple[Customer, Customer]:
    if survivor.pk == merged.pk:
        raise ApplicationError(_("A customer cannot be merged into itself."))
    locked = {
        c.pk: c
        for c in Customer.objects.select_for_update()
        .filter(pk__in=[survivor.pk, merged.pk])
        .order_by("pk")
    }
    if len(locked) != 2:
        raise ApplicationError(_("Both customers must exist."))
    survivor, merged = locked[survivor.pk], locked[merged.pk]
    if merged.status != CustomerStatus.ACTIVE:
        raise ApplicationError(
            _("Customer %(id)s was already merged into %(target)s.")
            % {"id": merged.pk, "target": merged.merged_into_id}
        )
    if survivor.status != CustomerStatus.ACTIVE:
        raise ApplicationError(
            _("Customer %(id)s was merged into %(target)s; merge into that customer instead.")
            % {"id": survivor.pk, "target": survivor.merged_into_id}
        )
    return survivor, merged


def _lock_proposal(
    proposal: MergeProposal, *, survivor: Customer, merged: Customer
) -> MergeProposal:
    """The proposal being decided, locked; it must be about this pair and still open."""
    proposal = MergeProposal.objects.select_for_update().get(pk=proposal.pk)
    if {proposal.customer_a_id, proposal.customer_b_id} != {survivor.pk, merged.pk}:
        raise ApplicationError(_("The proposal is about other customers."))
    if proposal.status != MergeProposalStatus.OPEN:
        raise ApplicationError(
            _("The proposal was already decided (%(status)s).")
            % {"status": proposal.get_status_display()}
        )
    return proposal


def _keep_external_id(*, survivor: Customer, merged: Customer) -> None:
    """Add the merged customer's external id to the survivor as an external contact id, so
    other systems' references to it still find the customer."""
    if not merged.external_id:
        return
    ContactPoint.objects.update_or_create(
        customer=survivor,
        kind=ContactKind.EXTERNAL,
        system=MERGED_EXTERNAL_SYSTEM,
        value=merged.external_id,
        defaults={
            "raw_value": merged.external_id,
            "label": _("merged customer"),
            "is_active": True,
        },
    )


def _settle_account_links(*, survivor: Customer, merged: Customer) -> dict[str, int]:
    """Keep account links valid across a merge, before the rows move.

    The merged account's contacts then move to the survivor with every other relation, if the
    survivor is a business; else they are taken off (a person has no contacts). A survivor that
    was a contact of the merged account is taken off it (it cannot be its own contact). A
    person survivor without an account takes the merged person's account and role. Returns the
    counts for the merge record."""
    counts: dict[str, int] = {}
    now = timezone.now()
    if survivor.account_id == merged.pk:
        survivor.account = None
        survivor.account_role = ""
        counts["callcenter.customer.account:survivor_unlinked"] = 1
    if survivor.kind != CustomerKind.BUSINESS:
        unlinked = (
            Customer.objects.filter(account_id=merged.pk)
            .exclude(pk=survivor.pk)
            .update(account=None, account_role="", updated_at=now)
        )
        if unlinked:
            counts["callcenter.customer.account:unlinked"] = unlinked
    if (
        survivor.kind == CustomerKind.PERSON
        and survivor.account_id is None
        and merged.account_id not in (None, survivor.pk)
    ):
        survivor.account_id = merged.account_id
        survivor.account_role = merged.account_role
        counts["callcenter.customer.account:carried"] = 1
    survivor.save(update_fields=["account", "account_role", "updated_at"])
    return counts


def _fill_profile(*, survivor: Customer, merged: Customer) -> list[str]:
    """Fill the survivor's empty FILLABLE_FIELDS from `merged` and unite custom attributes (the
    survivor's win); the names of the fields filled."""
    filled = []
    for field in FILLABLE_FIELDS:
        attname = cast(models.Field, Customer._meta.get_field(field)).attname
        if getattr(survivor, attname) in (None, "") and getattr(merged, attname) not in (None, ""):
            setattr(survivor, attname, getattr(merged, attname))
            filled.append(field)
    survivor.attributes = {**(merged.attributes or {}), **(survivor.attributes or {})}
    survivor.save(update_fields=[*filled, "attributes", "updated_at"])
    return filled


def _carry_consent(*, survivor: Customer, merged: Customer, merged_by: User) -> list[str]:
    """Opt the survivor out wherever the merged customer was opted out (recorded in the consent
    history); the channels that changed."""
    consent = []
    for channel, field in CONSENT_FIELDS.items():
        if getattr(merged, field) and not getattr(survivor, field):
            customer_consent_set(
                customer=survivor,
                channel=channel,
                opted_out=True,
                source=ConsentSource.MERGE,
                changed_by=merged_by,
                note=_("Opted out on merged customer %(id)s.") % {"id": merged.pk},
            )
            consent.append(ConsentChannel(channel).value)
    return consent


def _audit(record: CustomerMerge, *, filled: list[str], consent: list[str]) -> None:
    """The audit entry of a merge, on the survivor: what moved, was filled and opted out."""
    audit_log_record(
        actor=record.merged_by,
        action="customer.merge",
        object_type="customer",
        object_id=record.survivor_id,
        data={
            "merged_id": record.merged_id,
            "merge_id": record.pk,
            "proposal_id": record.proposal_id,
            "moved": record.moved,
            "filled": filled,
            "consent_opted_out": consent,
        },
    )


@transaction.atomic
def customer_merge(
    *,
    survivor: Customer,
    merged: Customer,
    merged_by: User,
    proposal: MergeProposal | None = None,
) -> CustomerMerge:
    """Fold `merged` into `survivor`, as decided by `merged_by`; returns the merge record.

    Every row pointing at the merged customer moves to the survivor (found through the model
    registry, so models of other apps move too); contact points are all kept; empty profile
    fields of the survivor are filled and custom attributes united (the survivor wins); the
    most restrictive consent wins and is recorded. The merged customer stays as a tombstone
    (status merged, `merged_into` the survivor, its external id kept so old references resolve
    and added to the survivor as an external contact id).
    """
    if merged_by is None or not merged_by.is_authenticated:
        raise ApplicationError(_("A merge must be decided by a signed-in user."))
    survivor, merged = _lock_pair(survivor, merged)
    if proposal is not None:
        proposal = _lock_proposal(proposal, survivor=survivor, merged=merged)
    snapshot = _snapshot(merged)

    moved = _settle_account_links(survivor=survivor, merged=merged)
    moved.update(move_contact_points(survivor=survivor, merged=merged))
    moved.update(move_related_rows(survivor=survivor, merged=merged))
    _keep_external_id(survivor=survivor, merged=merged)
    filled = _fill_profile(survivor=survivor, merged=merged)
    merged.status = CustomerStatus.MERGED
    merged.merged_into = survivor
    merged.save(update_fields=["status", "merged_into", "updated_at"])
    consent = _carry_consent(survivor=survivor, merged=merged, merged_by=merged_by)

    proposal = _close_proposals(
        survivor=survivor, merged=merged, merged_by=merged_by, proposal=proposal
    )
    record = CustomerMerge.objects.create(
        survivor=survivor,
        merged=merged,
        merged_by=merged_by,
        snapshot=snapshot,
        moved=moved,
        proposal=proposal,
    )
    _audit(record, filled=filled, consent=consent)
    survivor.refresh_from_db()
    return record
