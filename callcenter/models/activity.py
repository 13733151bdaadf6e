"""What happens between a customer and us: orders, interactions, tickets, surveys."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from callcenter.choices import (
    Direction,
    InteractionChannel,
    OrderStatus,
    SurveyKind,
    TicketChangeKind,
    TicketKind,
    TicketPriority,
    TicketStatus,
)

from .base import TimeStampedModel
from .customers import Customer


def external_id_unique(model_name: str) -> models.UniqueConstraint:
    """The external id is unique among the model's rows (null ones aside).

    A constraint rather than `unique=True`: on a text field Django then adds a second index, by
    `varchar_pattern_ops`, for `LIKE 'prefix%'` lookups nothing here runs; it was written for
    every row an import or the API added and never read (528 MB at ten million orders). Its
    name holds "external_id", which `callcenter.services.external_ids` recognises."""
    return models.UniqueConstraint(fields=["external_id"], name=f"{model_name}_external_id_unique")


class Order(TimeStampedModel):
    """A purchase. Only paid orders count towards RFM and value."""

    # Unique by a constraint (`external_id_unique`), not `unique=True`: see there.
    external_id = models.CharField(_("external id"), max_length=64)
    # Indexed by order_customer_rollup, which leads with it.
    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="orders",
        db_index=False,
    )
    placed_at = models.DateTimeField(_("placed at"))
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    category = models.CharField(_("category"), max_length=100, blank=True)
    product = models.CharField(
        _("product"), max_length=200, blank=True, help_text=_("What was bought, e.g. its name.")
    )
    channel = models.CharField(_("channel"), max_length=50, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=OrderStatus.choices, default=OrderStatus.PAID
    )

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ("-placed_at", "-id")
        indexes = [
            # A customer's orders newest first (screen-pop, customer page), carrying what the
            # segment refresh aggregates, so a full pass reads this index alone, in customer
            # order (segments.services.metrics), and the buying habits of the customers a
            # nightly run recomputes need no heap page per order (segments.services.behaviour).
            models.Index(
                fields=["customer", "-placed_at"],
                include=["status", "amount", "category", "channel"],
                name="order_customer_rollup",
            )
        ]
        constraints = [
            external_id_unique("order"),
            models.CheckConstraint(name="order_amount_non_negative", condition=Q(amount__gte=0)),
        ]

    def __str__(self) -> str:
        return self.external_id


class Interaction(TimeStampedModel):
    """A contact over any channel: call, SMS, email, chat, WeChat or IVR."""

    # Unique by a constraint (`external_id_unique`), not `unique=True`: see there. Null, not
    # blank, without one: rows without an id must not collide on it.
    external_id = models.CharField(  # noqa: DJ001
        _("external id"), max_length=64, null=True, blank=True
    )
    # Indexed by interaction_customer_rollup, which leads with it.
    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="interactions",
        db_index=False,
    )
    channel = models.CharField(_("channel"), max_length=16, choices=InteractionChannel.choices)
    direction = models.CharField(
        _("direction"), max_length=16, choices=Direction.choices, default=Direction.INBOUND
    )
    occurred_at = models.DateTimeField(_("time"))
    duration_seconds = models.PositiveIntegerField(_("duration (s)"), default=0)
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("agent"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="interactions",
    )
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    outcome = models.CharField(_("outcome"), max_length=100, blank=True)
    sentiment = models.FloatField(
        _("sentiment"),
        null=True,
        blank=True,
        help_text=_("From -1 (very negative) to 1 (very positive), computed from the notes."),
    )

    class Meta:
        verbose_name = _("interaction")
        verbose_name_plural = _("interactions")
        ordering = ("-occurred_at", "-id")
        indexes = [
            # As order_customer_rollup: recent contacts, and the refresh's interaction metrics.
            models.Index(
                fields=["customer", "-occurred_at"],
                include=["sentiment"],
                name="interaction_customer_rollup",
            )
        ]
        constraints = [
            external_id_unique("interaction"),
            models.CheckConstraint(
                name="interaction_sentiment_range",
                condition=Q(sentiment__isnull=True) | Q(sentiment__gte=-1, sentiment__lte=1),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.occurred_at:%Y-%m-%d %H:%M}"


class Ticket(TimeStampedModel):
    """An inquiry, complaint or suggestion and its resolution."""

    # Unique by a constraint (`external_id_unique`), not `unique=True`: see there. Null, not
    # blank, without one: rows without an id must not collide on it.
    external_id = models.CharField(  # noqa: DJ001
        _("external id"), max_length=64, null=True, blank=True
    )
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="tickets"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=TicketKind.choices)
    status = models.CharField(
        _("status"), max_length=16, choices=TicketStatus.choices, default=TicketStatus.OPEN
    )
    priority = models.CharField(
        _("priority"),
        max_length=16,
        choices=TicketPriority.choices,
        default=TicketPriority.NORMAL,
    )
    subject = models.CharField(_("subject"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    channel = models.CharField(
        _("channel"),
        max_length=16,
        choices=InteractionChannel.choices,
        blank=True,
        default="",
        db_default="",
        help_text=_("Where the customer raised it."),
    )
    opened_at = models.DateTimeField(_("opened at"))
    first_responded_at = models.DateTimeField(_("first response at"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="tickets",
    )

    class Meta:
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        ordering = ("-opened_at", "-id")
        indexes = [
            models.Index(fields=["customer", "status"], name="ticket_customer_status"),
            models.Index(fields=["kind", "-opened_at"], name="ticket_kind_time"),
        ]
        constraints = [
            external_id_unique("ticket"),
            models.CheckConstraint(
                name="ticket_resolved_after_opened",
                condition=Q(resolved_at__isnull=True) | Q(resolved_at__gte=F("opened_at")),
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.subject}"


class TicketUpdate(models.Model):
    """One entry of a ticket's history: what happened (a response to the customer and what was
    said, the customer writing back, waiting, assignment, resolution...), when and by whom.
    Written by the ticket services in the same transaction as the change they record."""

    ticket = models.ForeignKey(
        Ticket, verbose_name=_("ticket"), on_delete=models.CASCADE, related_name="updates"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=TicketChangeKind.choices)
    at = models.DateTimeField(_("at"))
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    text = models.TextField(_("text"), blank=True)
    channel = models.CharField(
        _("channel"), max_length=16, choices=InteractionChannel.choices, blank=True
    )
    # The new assignee of an "assigned" entry (empty: unassigned).
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("ticket update")
        verbose_name_plural = _("ticket updates")
        ordering = ("ticket", "at", "id")
        indexes = [models.Index(fields=["ticket", "at"], name="ticket_update_time")]

    def __str__(self) -> str:
        return f"{self.ticket_id} {self.kind} {self.at:%Y-%m-%d %H:%M}"


class SurveyResponse(TimeStampedModel):
    """An NPS (0-10) or CSAT (1-5) answer."""

    # Unique by a constraint (`external_id_unique`), not `unique=True`: see there. Null, not
    # blank, without one: rows without an id must not collide on it.
    external_id = models.CharField(  # noqa: DJ001
        _("external id"), max_length=64, null=True, blank=True
    )
    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="survey_responses",
    )
    kind = models.CharField(_("kind"), max_length=8, choices=SurveyKind.choices)
    score = models.PositiveSmallIntegerField(
        _("score"), validators=[MinValueValidator(0), MaxValueValidator(10)]
    )
    comment = models.TextField(_("comment"), blank=True)
    responded_at = models.DateTimeField(_("responded at"))
    ticket = models.ForeignKey(
        Ticket,
        verbose_name=_("ticket"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="survey_responses",
    )
    interaction = models.ForeignKey(
        Interaction,
        verbose_name=_("interaction"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="survey_responses",
    )
    # Who the answer is about (the ticket's assignee or the call's agent when the survey was
    # asked), so scorecards need no join back to what it was about.
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("agent"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="survey_responses",
    )

    class Meta:
        verbose_name = _("survey response")
        verbose_name_plural = _("survey responses")
        ordering = ("-responded_at", "-id")
        indexes = [
            models.Index(fields=["customer", "-responded_at"], name="survey_customer_time"),
            models.Index(
                fields=["agent", "responded_at"],
                condition=Q(agent__isnull=False),
                name="survey_agent_time",
            ),
        ]
        constraints = [
            external_id_unique("surveyresponse"),
            models.CheckConstraint(
                name="survey_score_range",
                condition=Q(kind=SurveyKind.NPS, score__gte=0, score__lte=10)
                | Q(kind=SurveyKind.CSAT, score__gte=1, score__lte=5),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.score}"
