"""Outreach: tasks that carry out care steps (sends and calls), queues, inbound messages."""

from typing import Any

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from callcenter.generated import generated_text
from callcenter.models import Customer, Ticket, TimeStampedModel
from care.choices import StepChannel, TouchKind
from outreach.choices import (
    CallIntent,
    CallResult,
    InboundAction,
    SummaryChannel,
    TaskOutcome,
    TaskStatus,
)
from outreach.reasons import SkipReason


class Queue(TimeStampedModel):
    """A named call queue; its members are the agents who work it."""

    name = models.CharField(_("name"), max_length=100)
    slug = models.SlugField(_("slug"), max_length=64, unique=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, verbose_name=_("agents"), related_name="call_queues", blank=True
    )

    class Meta:
        verbose_name = _("queue")
        verbose_name_plural = _("queues")
        ordering = ("name",)

    def __str__(self) -> str:
        return generated_text(self.name)


class OutreachTask(TimeStampedModel):
    """One touch: an SMS or email to send, or a call for an agent, with its due time and SLA.

    Tasks are rows before they are sends: the dispatcher claims due automated tasks with
    SELECT ... FOR UPDATE SKIP LOCKED and sends with `idempotency_key`, so a killed worker
    neither loses nor doubles a message.
    """

    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="outreach_tasks",
    )
    enrollment = models.ForeignKey(
        "care.Enrollment",
        verbose_name=_("enrollment"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="tasks",
    )
    step = models.ForeignKey(
        "care.CareStep",
        verbose_name=_("step"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="tasks",
    )
    step_position = models.PositiveSmallIntegerField(_("step"), null=True, blank=True)
    channel = models.CharField(_("channel"), max_length=16, choices=StepChannel.choices)
    touch_kind = models.CharField(
        _("kind"), max_length=16, choices=TouchKind.choices, default=TouchKind.PROACTIVE
    )
    due_at = models.DateTimeField(_("due at"))
    deadline_at = models.DateTimeField(_("deadline"))
    status = models.CharField(
        _("status"), max_length=16, choices=TaskStatus.choices, default=TaskStatus.PENDING
    )
    reason = models.CharField(_("skip or cancel reason"), max_length=255, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="outreach_tasks",
    )
    queue = models.ForeignKey(
        Queue,
        verbose_name=_("queue"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="tasks",
    )
    priority = models.FloatField(
        _("priority"), default=0, help_text=_("Higher first when capacity is short (value).")
    )
    template = models.ForeignKey(
        "care.MessageTemplate",
        verbose_name=_("template"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    body = models.TextField(_("message or script"), blank=True)
    to_address = models.CharField(_("sent to"), max_length=254, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    provider_message_id = models.CharField(_("provider message id"), max_length=128, blank=True)
    idempotency_key = models.CharField(_("idempotency key"), max_length=128, unique=True)
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    claimed_by = models.CharField(_("claimed by"), max_length=128, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    outcome = models.CharField(_("outcome"), max_length=24, choices=TaskOutcome.choices, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    callback_at = models.DateTimeField(_("callback at"), null=True, blank=True)
    breached_at = models.DateTimeField(_("SLA breached at"), null=True, blank=True)
    escalated_at = models.DateTimeField(_("escalated at"), null=True, blank=True)
    # What the voice platform reported of an automated call (outreach.services.call_results).
    call_result = models.CharField(
        _("call result"), max_length=16, choices=CallResult.choices, blank=True
    )
    call_keypress = models.CharField(_("keypress"), max_length=32, blank=True)
    call_intent = models.CharField(_("intent"), max_length=64, blank=True)
    call_duration = models.PositiveIntegerField(_("call duration (seconds)"), null=True, blank=True)
    call_result_at = models.DateTimeField(_("call result at"), null=True, blank=True)
    # Set when the step's channel could not reach the customer and its fallback was used:
    # `channel` is then the fallback and these keep the channel asked for and why.
    # Defaults in the database too: tasks are also inserted set-based, in SQL (campaign runs).
    fallback_from = models.CharField(
        _("instead of"),
        max_length=16,
        choices=StepChannel.choices,
        blank=True,
        default="",
        db_default="",
    )
    fallback_reason = models.CharField(
        _("fallback reason"), max_length=64, blank=True, default="", db_default=""
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("outreach task")
        verbose_name_plural = _("outreach tasks")
        ordering = ("deadline_at", "id")
        indexes = [
            models.Index(
                fields=["due_at"],
                condition=Q(status="pending") & ~Q(channel="call"),
                name="task_due_automated",
            ),
            models.Index(
                fields=["assignee", "deadline_at"],
                condition=Q(status__in=["pending", "claimed"]),
                name="task_open_by_agent",
            ),
            models.Index(
                fields=["deadline_at"],
                condition=Q(status__in=["pending", "claimed"], breached_at__isnull=True),
                name="task_open_deadline",
            ),
            # "Has this plan an open task?" for every active enrollment, each minute
            # (enrollments_complete): one probe each, whatever the statistics say.
            models.Index(
                fields=["enrollment"],
                condition=Q(status__in=["pending", "claimed", "held"]),
                name="task_open_by_enrollment",
            ),
            models.Index(fields=["customer", "-created_at"], name="task_customer_time"),
            models.Index(fields=["provider_message_id"], name="task_provider_id"),
        ]
        constraints = [
            models.CheckConstraint(
                name="task_deadline_after_due", condition=Q(deadline_at__gte=models.F("due_at"))
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.channel} {self.status}"

    @property
    def fallback_reason_label(self) -> str:
        """Why the fallback channel was used, for people to read."""
        if self.fallback_reason in SkipReason.values:
            return str(SkipReason(self.fallback_reason).label)
        return self.fallback_reason

    @property
    def call_intent_label(self) -> str:
        """The intent for people to read: a known intent translated, another as reported."""
        if self.call_intent in CallIntent.values:
            return str(CallIntent(self.call_intent).label)
        return self.call_intent


class InboundMessage(models.Model):
    """A message received from a customer by SMS or WeChat (opt-out keywords, replies)."""

    channel = models.CharField(
        _("channel"), max_length=16, choices=StepChannel.choices, default=StepChannel.SMS
    )
    # A phone number for SMS, the follower's openid for WeChat.
    from_number = models.CharField(_("from"), max_length=64)
    body = models.TextField(_("text"))
    received_at = models.DateTimeField(_("received at"))
    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="inbound_messages",
    )
    action = models.CharField(_("action"), max_length=16, choices=InboundAction.choices)
    provider_message_id = models.CharField(
        _("provider message id"), max_length=128, unique=True, null=True, blank=True
    )

    class Meta:
        verbose_name = _("inbound message")
        verbose_name_plural = _("inbound messages")
        ordering = ("-received_at",)

    def __str__(self) -> str:
        return f"{self.from_number}: {self.body[:30]}"


class TrackedLink(models.Model):
    """A link of a sent SMS or email, as one recipient's short link `/l/<token>`.

    The token is random (secrets.token_urlsafe) and unguessable: the short link says nothing
    about the customer. One row per task and target, so a retried send reuses the links of its
    first attempt. Clicks are counted by one atomic UPDATE; the first one is announced to care
    as a `link_clicked` event (outreach.services.links).
    """

    token = models.CharField(_("token"), max_length=32, unique=True)
    # Indexed by tracked_link_once, which leads with it.
    task = models.ForeignKey(
        OutreachTask,
        verbose_name=_("task"),
        on_delete=models.CASCADE,
        related_name="tracked_links",
        db_index=False,
    )
    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="tracked_links",
    )
    target_url = models.TextField(_("link"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    click_count = models.PositiveIntegerField(_("clicks"), default=0)
    first_clicked_at = models.DateTimeField(_("first clicked at"), null=True, blank=True)
    last_clicked_at = models.DateTimeField(_("last clicked at"), null=True, blank=True)

    class Meta:
        verbose_name = _("tracked link")
        verbose_name_plural = _("tracked links")
        ordering = ("task", "id")
        constraints = [
            models.UniqueConstraint(fields=["task", "target_url"], name="tracked_link_once"),
            models.CheckConstraint(
                name="tracked_link_http",
                condition=Q(target_url__startswith="http://")
                | Q(target_url__startswith="https://"),
            ),
        ]

    def __str__(self) -> str:
        return f"/l/{self.token}"


def _choice_list(verbose_name: Any, max_length: int = 16) -> ArrayField:
    """A condition of a routing rule: the values it accepts (empty: any)."""
    return ArrayField(
        models.CharField(max_length=max_length),
        verbose_name=verbose_name,
        default=list,
        blank=True,
    )


class RoutingRule(TimeStampedModel):
    """Where new tickets go, and which skills their handler needs (outreach.services.routing).

    Rules are tried by `position`; the first active rule whose every condition accepts the
    ticket wins (an empty condition accepts anything). Call tasks use the rules without a
    ticket-kind condition to learn which skills to prefer for a customer.
    """

    name = models.CharField(_("name"), max_length=100)
    position = models.PositiveIntegerField(_("position"), default=0)
    is_active = models.BooleanField(_("active"), default=True)
    ticket_kinds = _choice_list(_("ticket kinds"))
    customer_kinds = _choice_list(_("customer kinds"))
    industries = _choice_list(_("industries"), max_length=100)
    value_tiers = _choice_list(_("value tiers"))
    languages = _choice_list(_("languages"))
    queue = models.ForeignKey(
        Queue, verbose_name=_("queue"), on_delete=models.PROTECT, related_name="routing_rules"
    )
    required_skills = ArrayField(
        models.CharField(max_length=50),
        verbose_name=_("required skills"),
        default=list,
        blank=True,
        help_text=_("The agent needs all of them."),
    )
    derive_skills = models.BooleanField(
        _("derive skills from the customer"),
        default=True,
        help_text=_(
            "Also require the customer's language, vip for high-value customers and "
            "industry:<industry> for business customers with an industry."
        ),
    )

    class Meta:
        verbose_name = _("routing rule")
        verbose_name_plural = _("routing rules")
        ordering = ("position", "id")

    def __str__(self) -> str:
        return generated_text(self.name)


class TicketRoute(TimeStampedModel):
    """Where routing put a ticket: its queue, the rule that chose it (none: the default queue)
    and the skills its handler needs. A routed ticket without an assignee waits in its queue
    for a claim or for the periodic hand-out."""

    ticket = models.OneToOneField(
        Ticket,
        verbose_name=_("ticket"),
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="route",
    )
    queue = models.ForeignKey(
        Queue, verbose_name=_("queue"), on_delete=models.PROTECT, related_name="ticket_routes"
    )
    rule = models.ForeignKey(
        RoutingRule,
        verbose_name=_("routing rule"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="routes",
    )
    required_skills = ArrayField(
        models.CharField(max_length=50), verbose_name=_("required skills"), default=list
    )
    routed_at = models.DateTimeField(_("routed at"))
    assigned_at = models.DateTimeField(_("assigned at"), null=True, blank=True)

    class Meta:
        verbose_name = _("ticket route")
        verbose_name_plural = _("ticket routes")
        indexes = [
            # The hand-out's scan: routed tickets nobody was given yet.
            models.Index(
                fields=["routed_at"], condition=Q(assigned_at__isnull=True), name="route_waiting"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id} -> {self.queue_id}"


class SurveyAsk(models.Model):
    """A satisfaction (CSAT) question sent to a customer, about a ticket or a call.

    A task whose template uses `{{ survey_link }}` is an ask: the dispatcher makes its row when
    it sends (or finds the one made with the task, for a call), and puts the token in the
    link. The token is random (secrets.token_urlsafe) and unguessable, like a tracked link's:
    the public page `/s/<token>` answers it without a login. The ticket, call and agent are
    kept here, so the answer records who it is about whatever happens to the ticket later.
    """

    token = models.CharField(_("token"), max_length=32, unique=True)
    task = models.OneToOneField(
        OutreachTask, verbose_name=_("task"), on_delete=models.CASCADE, related_name="survey_ask"
    )
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="survey_asks"
    )
    ticket = models.ForeignKey(
        "callcenter.Ticket",
        verbose_name=_("ticket"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="survey_asks",
    )
    interaction = models.ForeignKey(
        "callcenter.Interaction",
        verbose_name=_("interaction"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="survey_asks",
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("agent"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="survey_asks",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    expires_at = models.DateTimeField(_("answers accepted until"), null=True, blank=True)
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    response = models.OneToOneField(
        "callcenter.SurveyResponse",
        verbose_name=_("answer"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="ask",
    )

    class Meta:
        verbose_name = _("survey ask")
        verbose_name_plural = _("survey asks")
        ordering = ("-sent_at", "-id")
        indexes = [
            # The flood cap and "the customer's open ask" for an SMS reply.
            models.Index(
                fields=["customer", "-sent_at"],
                condition=Q(sent_at__isnull=False),
                name="survey_ask_customer_sent",
            ),
        ]

    def __str__(self) -> str:
        return f"/s/{self.token}"


class CallReasonSetting(TimeStampedModel):
    """What follows a call logged with this reason: the agent's notes sent to the customer as
    a summary (by SMS or email, within the hour), and a satisfaction question."""

    reason = models.CharField(
        _("call reason"),
        max_length=100,
        help_text=_("As agents log it; upper and lower case are the same reason."),
    )
    summary_channel = models.CharField(
        _("send the summary by"),
        max_length=8,
        choices=SummaryChannel.choices,
        default=SummaryChannel.NONE,
    )
    csat_template = models.ForeignKey(
        "care.MessageTemplate",
        verbose_name=_("satisfaction question"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("A template with {{ survey_link }}; empty: no question after the call."),
    )

    class Meta:
        verbose_name = _("call reason setting")
        verbose_name_plural = _("call reason settings")
        ordering = ("reason",)
        constraints = [
            models.UniqueConstraint(Lower("reason"), name="call_reason_setting_once"),
        ]

    def __str__(self) -> str:
        return self.reason
