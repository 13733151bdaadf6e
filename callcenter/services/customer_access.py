"""What agents read about customers: bulk reads capped and audited, contact details revealed
one at a time with a reason.

Agents see contact details masked (`callcenter.masking`). Two acts are bounded per agent and
rolling hour (Redis budgets, `callcenter.budgets`) and written to the audit log:
- reading customers: every customer an agent's list or single read returns counts once per
  hour against `AGENT_CUSTOMER_READS_PER_HOUR` (distinct customers), and each list read is
  audited with its filters and rows, so one agent cannot pull thousands of customers
  unnoticed;
- revealing a contact detail in full (to dial a number): one contact point of one customer,
  with a reason, at most `AGENT_CONTACT_REVEALS_PER_HOUR` different contact points.
Supervisors and admins see contact details in full and read without these budgets; their
reveals (which show nothing new) are audited all the same.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.utils.translation import gettext as _

from callcenter.budgets import LimitReached, budget_spend
from callcenter.choices import CustomerStatus
from callcenter.errors import ApplicationError
from callcenter.masking import contacts_visible_in_full, mask_contact
from callcenter.models import ContactPoint
from callcenter.services.audit import audit_log_record

AUDIT_LIST_READ = "customer.list_read"
AUDIT_REVEAL = "contact_point.reveal"
REVEAL_REASON_MAX_LENGTH = 200
# Budget names in Redis (callcenter.budgets).
READS_BUDGET = "customer_reads"
REVEALS_BUDGET = "contact_reveals"


def _minutes(seconds: int) -> int:
    return max(1, (seconds + 59) // 60)


def customer_reads_check(*, user: User, customer_ids: Sequence[int]) -> None:
    """Count the customers an agent is about to read against their hourly budget of distinct
    customers; LimitReached (nothing counted) when it would be exceeded. Free for roles that
    see contact details in full."""
    if contacts_visible_in_full(user):
        return
    limit = settings.AGENT_CUSTOMER_READS_PER_HOUR
    spent = budget_spend(purpose=READS_BUDGET, user_id=user.pk, members=customer_ids, limit=limit)
    if not spent.admitted:
        raise LimitReached(
            _(
                "You have read %(limit)s different customers in the last hour, the most an "
                "agent may. Try again in %(minutes)s minutes, or ask a supervisor."
            )
            % {"limit": limit, "minutes": _minutes(spent.retry_after)},
            retry_after=spent.retry_after,
        )


def customer_list_read_record(
    *, user: User, customer_ids: Sequence[int], filters: Mapping[str, Any], via: str
) -> None:
    """An agent's read of a list of customers (a page of the API list or of the search):
    counted against the hourly budget (LimitReached beyond it), then audited with who, the
    filters and the rows. Supervisors and admins are neither counted nor audited here."""
    if contacts_visible_in_full(user):
        return
    customer_reads_check(user=user, customer_ids=customer_ids)
    audit_log_record(
        actor=user,
        action=AUDIT_LIST_READ,
        object_type="customer",
        data={
            "via": via,
            "filters": dict(filters),
            "rows": len(customer_ids),
            "customer_ids": list(customer_ids),
        },
    )


def _reveal_reason(reason: str) -> str:
    text = (reason or "").strip()
    if not text:
        raise ApplicationError(
            _("Say why you need the full contact detail."),
            extra={"reason": [_("This field is required.")]},
        )
    if len(text) > REVEAL_REASON_MAX_LENGTH:
        message = _("Keep the reason under %(max)s characters.") % {"max": REVEAL_REASON_MAX_LENGTH}
        raise ApplicationError(message, extra={"reason": [message]})
    return text


def contact_point_reveal(
    *,
    actor: User,
    customer_id: int,
    contact_point_id: int,
    reason: str,
    via: str,
) -> ContactPoint:
    """One active contact point of one active customer, for `actor` to see in full.

    The reason is required (at most REVEAL_REASON_MAX_LENGTH characters). Agents may reveal
    AGENT_CONTACT_REVEALS_PER_HOUR contact details per rolling hour (LimitReached beyond).
    Every reveal is audited with the actor, the customer, the contact point and the reason.
    """
    text = _reveal_reason(reason)
    point = (
        ContactPoint.objects.filter(
            pk=contact_point_id,
            customer_id=customer_id,
            is_active=True,
            customer__status=CustomerStatus.ACTIVE,
        )
        .select_related("customer")
        .first()
    )
    if point is None:
        raise ApplicationError(
            _("This customer has no such active contact point."),
            extra={"contact_point": [_("Not an active contact point of this customer.")]},
        )
    if not contacts_visible_in_full(actor):
        # Counted per contact point: showing the same number again within the hour is free
        # (it is audited all the same).
        limit = settings.AGENT_CONTACT_REVEALS_PER_HOUR
        spent = budget_spend(
            purpose=REVEALS_BUDGET, user_id=actor.pk, members=[point.pk], limit=limit
        )
        if not spent.admitted:
            raise LimitReached(
                _(
                    "You have revealed %(limit)s contact details in the last hour, the most "
                    "an agent may. Try again in %(minutes)s minutes, or ask a supervisor."
                )
                % {"limit": limit, "minutes": _minutes(spent.retry_after)},
                retry_after=spent.retry_after,
            )
    audit_log_record(
        actor=actor,
        action=AUDIT_REVEAL,
        object_type="customer",
        object_id=customer_id,
        data={
            "via": via,
            "contact_point": point.pk,
            "kind": point.kind,
            "masked": mask_contact(point.kind, point.value),
            "reason": text,
        },
    )
    return point
