"""Identity resolution: proposed duplicates and the record of every merge."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from callcenter.choices import MergeProposalStatus

from .base import TimeStampedModel
from .customers import Customer


class MergeProposal(TimeStampedModel):
    """A pair of customers that look like the same one, waiting for a person's decision.

    The pair is stored with the lower id first so the same pair is proposed only once.
    """

    customer_a = models.ForeignKey(
        Customer, verbose_name=_("customer A"), on_delete=models.CASCADE, related_name="+"
    )
    customer_b = models.ForeignKey(
        Customer, verbose_name=_("customer B"), on_delete=models.CASCADE, related_name="+"
    )
    score = models.FloatField(_("score"), help_text=_("How alike the two look, 0 to 1."))
    reasons = models.JSONField(_("reasons"), default=list)
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=MergeProposalStatus.choices,
        default=MergeProposalStatus.OPEN,
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    # The customer of the pair other than the one a page shows, set by that page's view; a
    # declaration for the type checker, not a field.
    other: Customer

    class Meta:
        verbose_name = _("merge proposal")
        verbose_name_plural = _("merge proposals")
        ordering = ("-score", "id")
        constraints = [
            models.UniqueConstraint(fields=["customer_a", "customer_b"], name="merge_pair_once"),
            models.CheckConstraint(
                name="merge_pair_ordered", condition=Q(customer_a__lt=F("customer_b"))
            ),
        ]
        indexes = [models.Index(fields=["status", "-score"], name="merge_proposal_status")]

    def __str__(self) -> str:
        return f"{self.customer_a_id} ~ {self.customer_b_id} ({self.score:.2f})"


class CustomerMerge(models.Model):
    """The record of one merge: who folded which customer into which, when, and what moved."""

    survivor = models.ForeignKey(
        Customer, verbose_name=_("survivor"), on_delete=models.PROTECT, related_name="merges"
    )
    merged = models.ForeignKey(
        Customer,
        verbose_name=_("merged customer"),
        on_delete=models.PROTECT,
        related_name="merged_records",
    )
    merged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("merged by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    merged_at = models.DateTimeField(_("merged at"), auto_now_add=True)
    snapshot = models.JSONField(
        _("snapshot"), default=dict, help_text=_("The merged customer's fields before the merge.")
    )
    moved = models.JSONField(
        _("moved rows"), default=dict, help_text=_("How many rows of each kind moved.")
    )
    proposal = models.ForeignKey(
        MergeProposal,
        verbose_name=_("proposal"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="merges",
    )

    class Meta:
        verbose_name = _("customer merge")
        verbose_name_plural = _("customer merges")
        ordering = ("-merged_at",)
        constraints = [
            models.UniqueConstraint(fields=["merged"], name="merge_customer_once"),
            models.CheckConstraint(name="merge_not_into_self", condition=~Q(survivor=F("merged"))),
        ]

    def __str__(self) -> str:
        return f"{self.merged_id} -> {self.survivor_id}"
