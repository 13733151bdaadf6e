"""Care plans: the event outbox, rules with ordered steps and versions, message templates,
enrollments and guardrail settings."""

import datetime as dt
from functools import partial
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from callcenter.choices import Language
from callcenter.generated import generated_text
from callcenter.models import Customer, TimeStampedModel
from care.choices import (
    AssigneeRule,
    CampaignRecurrence,
    CampaignRunStatus,
    CampaignStatus,
    DelayUnit,
    EnrollmentStatus,
    Escalation,
    EventSource,
    EventType,
    RuleCategory,
    StepChannel,
    TemplateChannel,
    TouchKind,
    WaitFor,
)

if TYPE_CHECKING:
    # Types only: the type of a translatable text, lazy or not.
    from django_stubs_ext import StrOrPromise


class Event(models.Model):
    """Something that happened to a customer, written in the same transaction as the change
    (outbox); processed after commit, and by a sweep if the message was lost."""

    type = models.CharField(_("type"), max_length=32, choices=EventType.choices)
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="care_events"
    )
    payload = models.JSONField(_("payload"), default=dict, blank=True)
    source = models.CharField(
        _("source"), max_length=16, choices=EventSource.choices, default=EventSource.DOMAIN
    )
    occurred_at = models.DateTimeField(_("occurred at"))
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)
    client = models.CharField(
        _("client"),
        max_length=64,
        blank=True,
        default="",
        db_default="",
        help_text=_(
            "Whose idempotency key this is: user:<id> or integration:<name> for events posted "
            "to the API, empty for the events this product records itself."
        ),
    )
    # NULL, not "": domain events carry no key, and NULLs never collide in the unique constraint.
    idempotency_key = models.CharField(  # noqa: DJ001 see above
        _("idempotency key"), max_length=128, null=True, blank=True
    )
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        ordering = ("-id",)
        constraints = [
            # Keys are namespaced per client: one client cannot take a key another will use.
            models.UniqueConstraint(
                fields=["client", "idempotency_key"], name="event_client_idempotency_key"
            ),
        ]
        indexes = [
            models.Index(
                fields=["id"], condition=Q(processed_at__isnull=True), name="event_unprocessed"
            ),
            models.Index(fields=["customer", "-occurred_at"], name="event_customer_time"),
            models.Index(fields=["type", "-occurred_at"], name="event_type_time"),
        ]

    def __str__(self) -> str:
        return f"{self.type} #{self.pk} customer {self.customer_id}"


class CareSettings(models.Model):
    """Guardrails admins edit; exactly one row (pk=1)."""

    # Defaults as callables: Django's check fields.W161 takes a fixed time default for a
    # mistaken "now" when the check runs within 10 seconds of that time of day (UTC), which
    # failed `check --deploy --fail-level WARNING` at 09:00:00.
    quiet_start = models.TimeField(_("quiet hours start"), default=partial(dt.time, 21, 0))
    quiet_end = models.TimeField(_("quiet hours end"), default=partial(dt.time, 8, 0))
    business_start = models.TimeField(_("business hours start"), default=partial(dt.time, 9, 0))
    business_end = models.TimeField(_("business hours end"), default=partial(dt.time, 18, 0))
    business_days = models.JSONField(
        _("business days"), default=list, help_text=_("ISO weekdays, 1 = Monday.")
    )
    frequency_cap = models.PositiveSmallIntegerField(
        _("proactive touches at most"), default=3, validators=[MinValueValidator(1)]
    )
    frequency_window_days = models.PositiveSmallIntegerField(
        _("per this many days"), default=7, validators=[MinValueValidator(1)]
    )
    max_attempts = models.PositiveSmallIntegerField(
        _("send attempts before giving up"), default=5, validators=[MinValueValidator(1)]
    )
    retry_base_seconds = models.PositiveIntegerField(_("first retry after (s)"), default=60)
    stop_words = models.JSONField(
        _("extra opt-out words"),
        default=list,
        blank=True,
        help_text=_("Besides STOP, UNSUBSCRIBE, 退订 and TD."),
    )
    agent_daily_limit = models.PositiveSmallIntegerField(
        _("call tasks per agent per day"), default=40, validators=[MinValueValidator(1)]
    )
    # No survey flood: a satisfaction question (a message with a survey link) goes to a
    # customer at most once per this many days, on top of the frequency cap.
    csat_interval_days = models.PositiveSmallIntegerField(
        _("one satisfaction survey per customer per (days)"),
        default=7,
        db_default=7,
        validators=[MinValueValidator(1), MaxValueValidator(365)],
    )
    csat_reply_hours = models.PositiveSmallIntegerField(
        _("satisfaction answers accepted for (hours)"),
        default=72,
        db_default=72,
        validators=[MinValueValidator(1), MaxValueValidator(720)],
        help_text=_(
            "After this long a survey link says it has closed and a digit reply is an "
            "ordinary reply."
        ),
    )
    inactivity_days = models.JSONField(
        _("inactivity events after (days)"),
        default=list,
        blank=True,
        help_text=_("Days without an order that raise an inactivity event, e.g. [60, 120]."),
    )

    class Meta:
        verbose_name = _("care settings")
        verbose_name_plural = _("care settings")
        constraints = [
            models.CheckConstraint(name="care_settings_singleton", condition=Q(pk=1)),
        ]

    def __str__(self) -> str:
        return str(_("Care settings"))

    @classmethod
    def load(cls) -> "CareSettings":
        obj, _created = cls.objects.get_or_create(
            pk=1, defaults={"business_days": [1, 2, 3, 4, 5], "inactivity_days": [60]}
        )
        return obj


class MessageTemplate(TimeStampedModel):
    """A message or call script with one text per language."""

    name = models.CharField(_("name"), max_length=120)
    slug = models.SlugField(_("slug"), max_length=120, unique=True)
    channel = models.CharField(_("channel"), max_length=16, choices=TemplateChannel.choices)
    description = models.TextField(_("description"), blank=True)

    class Meta:
        verbose_name = _("message template")
        verbose_name_plural = _("message templates")
        ordering = ("name",)

    def __str__(self) -> str:
        return generated_text(self.name)


class TemplateVariant(TimeStampedModel):
    """The text of a template in one language; subject is for email only."""

    template = models.ForeignKey(
        MessageTemplate,
        verbose_name=_("template"),
        on_delete=models.CASCADE,
        related_name="variants",
    )
    language = models.CharField(_("language"), max_length=16, choices=Language.choices)
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    body = models.TextField(_("body"))

    class Meta:
        verbose_name = _("template text")
        verbose_name_plural = _("template texts")
        constraints = [
            models.UniqueConstraint(fields=["template", "language"], name="variant_once_per_lang")
        ]

    def __str__(self) -> str:
        return f"{self.template_id} {self.language}"


class CareRule(TimeStampedModel):
    """When a trigger fires for a matching customer, enroll them and schedule the steps."""

    name = models.CharField(_("name"), max_length=120)
    slug = models.SlugField(_("slug"), max_length=120, unique=True)
    description = models.TextField(_("description"), blank=True)
    trigger_type = models.CharField(_("trigger"), max_length=32, choices=EventType.choices)
    trigger_params = models.JSONField(
        _("trigger parameters"),
        default=dict,
        blank=True,
        help_text=_('e.g. {"max_score": 6}, {"sentiment_below": -0.6}, {"segment": "slug"}'),
    )
    conditions = models.JSONField(
        _("conditions"), null=True, blank=True, help_text=_("A rule tree, as for segments.")
    )
    category = models.CharField(
        _("category"),
        max_length=16,
        choices=RuleCategory.choices,
        default=RuleCategory.MARKETING,
        help_text=_(
            "A customer is in at most one plan of a category at a time (the higher priority "
            "wins); service plans never compete."
        ),
    )
    priority = models.SmallIntegerField(
        _("priority"), default=0, help_text=_("Higher wins within a category (-1000 to 1000).")
    )
    cooldown_days = models.PositiveSmallIntegerField(_("cooldown (days)"), default=0)
    holdout_share = models.FloatField(
        _("control group share"),
        default=0.0,
        validators=[MinValueValidator(0), MaxValueValidator(0.9)],
    )
    stop_conditions = models.JSONField(_("stop conditions"), default=list, blank=True)
    is_active = models.BooleanField(_("active"), default=False)
    version = models.PositiveIntegerField(_("version"), default=1)
    playbook_key = models.CharField(
        _("playbook key"), max_length=64, blank=True, help_text=_("Set on installed defaults.")
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
        verbose_name = _("care rule")
        verbose_name_plural = _("care rules")
        ordering = ("-priority", "name")
        indexes = [models.Index(fields=["trigger_type", "is_active"], name="rule_trigger")]
        constraints = [
            models.CheckConstraint(
                name="rule_holdout_range", condition=Q(holdout_share__gte=0, holdout_share__lte=0.9)
            ),
            models.UniqueConstraint(
                fields=["playbook_key"], condition=~Q(playbook_key=""), name="rule_playbook_once"
            ),
        ]

    def __str__(self) -> str:
        return generated_text(self.name)


# The fields a rule's step is made of (its position aside): what rule editing, versions and
# diffs copy and compare.
STEP_FIELDS = (
    "name",
    "delay_value",
    "delay_unit",
    "business_hours_only",
    "channel",
    "template_id",
    "assignee_rule",
    "assignee_target",
    "sla_minutes",
    "escalation",
    "touch_kind",
    "conditions",
    "only_if_no_response",
    "key",
    "next_step",
    "wait_for",
    "wait_hours",
    "branches",
    "fallback_channel",
)


class CareStep(TimeStampedModel):
    """One step of a rule: after a delay, send on a channel or create a call task."""

    rule = models.ForeignKey(
        CareRule, verbose_name=_("rule"), on_delete=models.CASCADE, related_name="steps"
    )
    position = models.PositiveSmallIntegerField(_("position"))
    name = models.CharField(_("name"), max_length=120, blank=True)
    delay_value = models.PositiveIntegerField(_("delay"), default=0)
    delay_unit = models.CharField(
        _("delay unit"), max_length=8, choices=DelayUnit.choices, default=DelayUnit.HOURS
    )
    business_hours_only = models.BooleanField(_("business hours only"), default=False)
    channel = models.CharField(_("channel"), max_length=16, choices=StepChannel.choices)
    template = models.ForeignKey(
        MessageTemplate,
        verbose_name=_("template or script"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="steps",
    )
    assignee_rule = models.CharField(
        _("assignee"),
        max_length=16,
        choices=AssigneeRule.choices,
        default=AssigneeRule.QUEUE,
        blank=True,
    )
    assignee_target = models.CharField(
        _("queue or group"), max_length=64, blank=True, help_text=_("Queue slug or group name.")
    )
    sla_minutes = models.PositiveIntegerField(
        _("deadline after due (minutes)"), default=60, validators=[MinValueValidator(1)]
    )
    escalation = models.CharField(
        _("on a missed deadline"),
        max_length=16,
        choices=Escalation.choices,
        default=Escalation.REASSIGN,
    )
    touch_kind = models.CharField(
        _("kind"), max_length=16, choices=TouchKind.choices, default=TouchKind.PROACTIVE
    )
    conditions = models.JSONField(
        _("only if"),
        null=True,
        blank=True,
        help_text=_("A rule tree checked when the step falls due, e.g. high value only."),
    )
    only_if_no_response = models.BooleanField(
        _("only if the customer has not responded"), default=False
    )
    # Journeys (care.services.journeys): a step names itself by `key`; a step without a wait
    # goes on to `next_step` ("" the following one, "end", or a key); a step with a wait
    # branches on the outcome it waits for, at most `wait_hours` after it falls due.
    key = models.SlugField(_("key"), max_length=40, default="", db_default="")
    next_step = models.CharField(
        _("then"),
        max_length=40,
        blank=True,
        default="",
        db_default="",
        help_text=_('Empty for the following step, "end", or the key of a step.'),
    )
    wait_for = models.CharField(
        _("wait for"),
        max_length=16,
        choices=WaitFor.choices,
        blank=True,
        default="",
        db_default="",
    )
    wait_hours = models.PositiveSmallIntegerField(_("wait at most (hours)"), null=True, blank=True)
    branches = models.JSONField(_("branches"), default=list, blank=True)
    fallback_channel = models.CharField(
        _("else send by"),
        max_length=16,
        choices=StepChannel.choices,
        blank=True,
        help_text=_(
            "Used when the customer cannot be reached on the step's channel "
            "(no address, opted out, unreachable)."
        ),
    )

    class Meta:
        verbose_name = _("care step")
        verbose_name_plural = _("care steps")
        ordering = ("rule", "position")
        constraints = [
            models.UniqueConstraint(fields=["rule", "position"], name="step_position_once"),
            # Deferred: a save that renames keys may swap two of them on the way.
            models.UniqueConstraint(
                fields=["rule", "key"],
                name="step_key_once",
                deferrable=models.Deferrable.DEFERRED,
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rule_id}.{self.position} {self.channel}"


class CareRuleVersion(models.Model):
    """A frozen copy of a rule and its steps; every change makes a new one."""

    rule = models.ForeignKey(
        CareRule, verbose_name=_("rule"), on_delete=models.CASCADE, related_name="versions"
    )
    version = models.PositiveIntegerField(_("version"))
    snapshot = models.JSONField(_("definition"))
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("changed by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    changed_at = models.DateTimeField(_("changed at"), auto_now_add=True)
    note = models.CharField(_("note"), max_length=255, blank=True)
    # The note's readable name, set by the rule history page; a declaration for the type
    # checker, not a field.
    note_label: "StrOrPromise"

    class Meta:
        verbose_name = _("care rule version")
        verbose_name_plural = _("care rule versions")
        ordering = ("rule", "-version")
        constraints = [
            models.UniqueConstraint(fields=["rule", "version"], name="rule_version_once")
        ]

    def __str__(self) -> str:
        return f"{self.rule_id} v{self.version}"


class Enrollment(models.Model):
    """A customer taken into a rule by one event; control members get no tasks. A held one
    never started: another plan of its category had the customer (`outranked_by`)."""

    rule = models.ForeignKey(
        CareRule, verbose_name=_("rule"), on_delete=models.CASCADE, related_name="enrollments"
    )
    rule_version = models.ForeignKey(
        CareRuleVersion,
        verbose_name=_("rule version"),
        on_delete=models.PROTECT,
        related_name="enrollments",
    )
    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="care_enrollments",
    )
    event = models.ForeignKey(
        Event, verbose_name=_("event"), on_delete=models.CASCADE, related_name="enrollments"
    )
    is_control = models.BooleanField(_("control group"), default=False)
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=EnrollmentStatus.choices,
        default=EnrollmentStatus.ACTIVE,
    )
    stop_reason = models.CharField(_("stop reason"), max_length=64, blank=True)
    outranked_by = models.ForeignKey(
        "self",
        verbose_name=_("outranked by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("The plan of the same category that preempted or held back this one."),
    )
    enrolled_at = models.DateTimeField(_("enrolled at"))
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    # Where a journey waits (care.services.journeys): the key of the waiting step, since when
    # outcomes count and when its timeout branch is taken. Empty while nothing is awaited.
    waiting_step = models.CharField(
        _("waiting at step"), max_length=40, blank=True, default="", db_default=""
    )
    wait_started_at = models.DateTimeField(_("waiting since"), null=True, blank=True)
    wait_until = models.DateTimeField(_("waiting until"), null=True, blank=True)

    class Meta:
        verbose_name = _("enrollment")
        verbose_name_plural = _("enrollments")
        ordering = ("-enrolled_at",)
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "customer", "event"], name="enrollment_once_per_event"
            ),
        ]
        indexes = [
            models.Index(fields=["rule", "customer", "-enrolled_at"], name="enrollment_cooldown"),
            models.Index(
                fields=["customer"],
                condition=Q(status=EnrollmentStatus.ACTIVE),
                name="enrollment_active_customer",
            ),
            models.Index(
                fields=["wait_until"],
                condition=Q(status=EnrollmentStatus.ACTIVE) & ~Q(waiting_step=""),
                name="enrollment_waiting",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rule_id}/{self.customer_id} ({self.status})"


class ThresholdState(models.Model):
    """Which side of a threshold rule's line a customer was on at the last pass, so that a
    rule fires once per crossing (from not over to over), not on every pass."""

    rule = models.ForeignKey(
        CareRule, verbose_name=_("rule"), on_delete=models.CASCADE, related_name="+"
    )
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="+"
    )
    is_over = models.BooleanField(_("past the threshold"))
    crossings = models.PositiveIntegerField(_("crossings"), default=0)
    changed_at = models.DateTimeField(_("changed at"))

    class Meta:
        verbose_name = _("threshold state")
        verbose_name_plural = _("threshold states")
        constraints = [
            models.UniqueConstraint(fields=["rule", "customer"], name="threshold_state_once")
        ]

    def __str__(self) -> str:
        return f"{self.rule_id}/{self.customer_id} ({self.is_over})"


class Campaign(TimeStampedModel):
    """A journey (a care rule triggered by `campaign` events) sent to everyone in a segment or
    matching a rule tree at a moment, once or recurring; each occurrence is a CampaignRun with
    its audience frozen when it starts."""

    name = models.CharField(_("name"), max_length=120)
    description = models.TextField(_("description"), blank=True)
    rule = models.ForeignKey(
        CareRule, verbose_name=_("journey"), on_delete=models.PROTECT, related_name="campaigns"
    )
    segment = models.ForeignKey(
        "segments.Segment",
        verbose_name=_("segment"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="campaigns",
    )
    audience_rule = models.JSONField(
        _("audience rule"), null=True, blank=True, help_text=_("A rule tree, as for segments.")
    )
    recurrence = models.CharField(
        _("recurrence"),
        max_length=16,
        choices=CampaignRecurrence.choices,
        default=CampaignRecurrence.ONCE,
    )
    starts_at = models.DateTimeField(_("starts at"))
    weekdays = models.JSONField(
        _("weekdays"), default=list, blank=True, help_text=_("ISO weekdays, 1 = Monday.")
    )
    month_day = models.PositiveSmallIntegerField(
        _("day of the month"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(28)],
    )
    run_dates = models.JSONField(_("dates"), default=list, blank=True)
    ends_at = models.DateTimeField(_("ends at"), null=True, blank=True)
    holdout_share = models.FloatField(
        _("control group share"),
        default=0.0,
        validators=[MinValueValidator(0), MaxValueValidator(0.9)],
    )
    max_per_hour = models.JSONField(
        _("sends per hour"),
        default=dict,
        blank=True,
        help_text=_('At most this many sends per hour per channel, e.g. {"sms": 2000}.'),
    )
    status = models.CharField(
        _("status"), max_length=16, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT
    )
    next_run_at = models.DateTimeField(_("next run at"), null=True, blank=True)
    paused_at = models.DateTimeField(_("paused at"), null=True, blank=True)
    work_pending = models.BooleanField(
        _("work being moved"),
        default=False,
        help_text=_(
            "A pause, resume or cancel is recorded; a background job still has to move the "
            "campaign's tasks (until then none of its pending tasks is dispatched)."
        ),
    )
    resume_shift = models.DurationField(
        _("resume shift"),
        null=True,
        blank=True,
        help_text=_("How much later the paused tasks fall due when the background job resumes."),
    )
    status_reason = models.CharField(_("reason"), max_length=255, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    launched_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("launched by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ("-created_at", "-id")
        constraints = [
            models.CheckConstraint(
                name="campaign_one_audience",
                condition=(Q(segment__isnull=False) & Q(audience_rule__isnull=True))
                | (Q(segment__isnull=True) & Q(audience_rule__isnull=False)),
            ),
            models.CheckConstraint(
                name="campaign_holdout_range",
                condition=Q(holdout_share__gte=0, holdout_share__lte=0.9),
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_run_at"],
                condition=Q(status__in=["scheduled", "running"]),
                name="campaign_due",
            )
        ]

    def __str__(self) -> str:
        return self.name


class CampaignRun(models.Model):
    """One occurrence of a campaign: when it was due, and the audience it froze on starting."""

    campaign = models.ForeignKey(
        Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE, related_name="runs"
    )
    scheduled_for = models.DateTimeField(_("scheduled for"))
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=CampaignRunStatus.choices,
        default=CampaignRunStatus.PENDING,
    )
    rule_version = models.ForeignKey(
        CareRuleVersion,
        verbose_name=_("rule version"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    members = models.PositiveIntegerField(_("members"), default=0)
    control = models.PositiveIntegerField(_("control group"), default=0)
    tasks = models.PositiveIntegerField(_("tasks created"), default=0)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("campaign run")
        verbose_name_plural = _("campaign runs")
        ordering = ("campaign", "-scheduled_for")
        constraints = [
            models.UniqueConstraint(fields=["campaign", "scheduled_for"], name="campaign_run_once")
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id} @ {self.scheduled_for:%Y-%m-%d %H:%M}"


class CampaignMember(models.Model):
    """A customer in a run's frozen audience; control members get no tasks. `rank` orders the
    treated by value (highest first), which pacing spreads over hours and days."""

    run = models.ForeignKey(
        CampaignRun, verbose_name=_("run"), on_delete=models.CASCADE, related_name="memberships"
    )
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="+"
    )
    is_control = models.BooleanField(_("control group"), default=False)
    rank = models.PositiveIntegerField(_("rank"))
    enrollment = models.OneToOneField(
        Enrollment,
        verbose_name=_("enrollment"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="campaign_member",
    )

    class Meta:
        verbose_name = _("campaign member")
        verbose_name_plural = _("campaign members")
        constraints = [
            models.UniqueConstraint(fields=["run", "customer"], name="campaign_member_once")
        ]

    def __str__(self) -> str:
        return f"{self.run_id}/{self.customer_id}"
