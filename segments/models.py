"""Segmentation models: per-customer metrics and scores, segments, memberships with history,
snapshots, refresh runs, the churn model and cluster descriptions."""

import datetime as dt
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from callcenter.choices import InteractionChannel
from callcenter.models import Customer, TimeStampedModel
from segments.choices import (
    ChurnModelStatus,
    LifecycleStage,
    PriorityField,
    ReachChannel,
    RfmSegmentName,
    RunStatus,
    SegmentKind,
    TierMethod,
    ValuePotential,
    ValueTier,
)
from segments.cluster_names import cluster_name_display
from segments.defaults import BUILTIN_SEGMENTS, DEFAULT_NEXT_BEST_ACTIONS

# References of the refresh's tables. CustomerMetrics, CustomerBehaviour and SegmentMembership
# are written set-based by the refresh, up to millions of rows a run, and their references to
# customers, segments and runs carry no foreign-key constraint in the database
# (db_constraint=False): PostgreSQL checks such a constraint with one locking query per written
# row at commit, which cost several times the writes themselves (docs/performance.md, the
# refresh). The references hold by construction instead: every row
# the refresh writes comes from a join with the rows it refers to, in the refresh's
# transaction; customers are never deleted by the product (a merge or an erasure keeps the
# row); a segment is deleted only through segments.services.segments.segment_delete, which
# waits for the refresh that holds the segment (builtin_memberships_refresh locks the segments it
# writes), and Django's on_delete still removes the rows of a deleted object.

if TYPE_CHECKING:
    from sklearn.ensemble import HistGradientBoostingClassifier


class SegmentSettings(models.Model):
    """Thresholds admins edit; there is exactly one row (pk=1)."""

    window_days = models.PositiveIntegerField(
        _("window (days)"), default=365, validators=[MinValueValidator(1)]
    )
    new_days = models.PositiveIntegerField(
        _("new: first order within (days)"), default=30, validators=[MinValueValidator(1)]
    )
    dormant_days = models.PositiveIntegerField(
        _("dormant: no order for (days)"), default=60, validators=[MinValueValidator(1)]
    )
    lost_days = models.PositiveIntegerField(
        _("lost: no order for (days)"), default=180, validators=[MinValueValidator(1)]
    )
    churn_threshold = models.FloatField(
        _("churn-risk probability threshold"),
        default=0.6,
        validators=[MinValueValidator(0), MaxValueValidator(1)],
    )
    rhythm_factor = models.FloatField(
        _("churn risk: days since last order above this many usual gaps"),
        default=3.0,
        validators=[MinValueValidator(1)],
    )
    rhythm_min_orders = models.PositiveIntegerField(
        _("churn risk by rhythm: at least this many orders"), default=3
    )
    tier_method = models.CharField(
        _("value tier method"),
        max_length=16,
        choices=TierMethod.choices,
        default=TierMethod.PERCENTILES,
    )
    high_threshold = models.DecimalField(
        _("high value from spend"), max_digits=12, decimal_places=2, default=5000
    )
    medium_threshold = models.DecimalField(
        _("medium value from spend"), max_digits=12, decimal_places=2, default=1000
    )
    business_high_threshold = models.DecimalField(
        _("business: high value from spend"), max_digits=12, decimal_places=2, default=50000
    )
    business_medium_threshold = models.DecimalField(
        _("business: medium value from spend"), max_digits=12, decimal_places=2, default=10000
    )
    high_percentile = models.FloatField(
        _("high value: top share of spenders"),
        default=0.2,
        validators=[MinValueValidator(0.01), MaxValueValidator(1)],
    )
    medium_percentile = models.FloatField(
        _("medium value: next share of spenders"),
        default=0.3,
        validators=[MinValueValidator(0), MaxValueValidator(1)],
    )
    churn_horizon_days = models.PositiveIntegerField(
        _("churn label: no order within (days)"), default=90, validators=[MinValueValidator(7)]
    )
    cluster_k_min = models.PositiveIntegerField(_("clusters: at least"), default=3)
    cluster_k_max = models.PositiveIntegerField(_("clusters: at most"), default=7)
    value_discount_rate = models.FloatField(
        _("predicted value: yearly discount rate"),
        default=0.1,
        validators=[MinValueValidator(0), MaxValueValidator(1)],
    )
    potential_percentile = models.FloatField(
        _("high predicted value: percentile"),
        default=0.8,
        validators=[MinValueValidator(0.5), MaxValueValidator(0.99)],
    )

    class Meta:
        verbose_name = _("segmentation settings")
        verbose_name_plural = _("segmentation settings")
        constraints = [
            models.CheckConstraint(name="segment_settings_singleton", condition=Q(pk=1)),
            models.CheckConstraint(
                name="segment_settings_dormant_before_lost",
                condition=Q(dormant_days__lt=models.F("lost_days")),
            ),
            models.CheckConstraint(
                name="segment_settings_thresholds_ordered",
                condition=Q(medium_threshold__lte=models.F("high_threshold"))
                & Q(business_medium_threshold__lte=models.F("business_high_threshold")),
            ),
            models.CheckConstraint(
                name="segment_settings_k_range",
                condition=Q(cluster_k_min__gte=2) & Q(cluster_k_min__lte=models.F("cluster_k_max")),
            ),
        ]

    def __str__(self) -> str:
        return str(_("Segmentation settings"))

    @classmethod
    def load(cls) -> "SegmentSettings":
        """The settings row, created with defaults on first use."""
        obj, _created = cls.objects.get_or_create(pk=1)
        return obj


class RfmSegmentDefinition(models.Model):
    """Maps R score and FM score (rounded mean of F and M) ranges to a named RFM segment.

    Definitions are tried in `position` order; the first whose ranges hold wins. Admins may edit
    the ranges as long as every one of the 25 (R, FM) cells stays covered.
    """

    name = models.CharField(
        _("segment"), max_length=32, choices=RfmSegmentName.choices, unique=True
    )
    position = models.PositiveSmallIntegerField(_("position"))
    r_min = models.PositiveSmallIntegerField(_("R from"), validators=[MinValueValidator(1)])
    r_max = models.PositiveSmallIntegerField(_("R to"), validators=[MaxValueValidator(5)])
    fm_min = models.PositiveSmallIntegerField(_("FM from"), validators=[MinValueValidator(1)])
    fm_max = models.PositiveSmallIntegerField(_("FM to"), validators=[MaxValueValidator(5)])

    class Meta:
        verbose_name = _("RFM segment definition")
        verbose_name_plural = _("RFM segment definitions")
        ordering = ("position",)
        constraints = [
            models.CheckConstraint(
                name="rfm_def_ranges",
                condition=Q(r_min__gte=1, r_max__lte=5, fm_min__gte=1, fm_max__lte=5)
                & Q(r_min__lte=models.F("r_max"))
                & Q(fm_min__lte=models.F("fm_max")),
            ),
        ]

    def __str__(self) -> str:
        ranges = f"R {self.r_min}-{self.r_max}, FM {self.fm_min}-{self.fm_max}"
        return f"{self.get_name_display()}: {ranges}"


class RefreshRun(models.Model):
    """One segment refresh: parameters, progress, timings per phase, counts and outcome."""

    status = models.CharField(
        _("status"), max_length=16, choices=RunStatus.choices, default=RunStatus.RUNNING
    )
    as_of = models.DateTimeField(_("as of"))
    window_days = models.PositiveIntegerField(_("window (days)"))
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    trigger = models.CharField(_("trigger"), max_length=16, default="manual")
    started_at = models.DateTimeField(_("started at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    phase = models.CharField(_("phase"), max_length=32, blank=True)
    percent = models.PositiveSmallIntegerField(_("percent"), default=0)
    timings = models.JSONField(_("seconds per phase"), default=dict, blank=True)
    counts = models.JSONField(_("counts"), default=dict, blank=True)
    builtin_segments = models.CharField(
        _("built-in segments digest"),
        max_length=64,
        blank=True,
        help_text=_(
            "Which built-in segments existed; unchanged, a refresh diffs only changed rows."
        ),
    )
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("refresh run")
        verbose_name_plural = _("refresh runs")
        ordering = ("-started_at", "-id")
        indexes = [
            # The latest successful run, whose as-of the stored metrics describe: read beside
            # every metrics row shown (the screen-pop card included) and by each refresh.
            models.Index(
                fields=["-finished_at"],
                condition=Q(status=RunStatus.SUCCEEDED),
                name="refresh_succeeded_latest",
            ),
        ]
        constraints = [
            # At most one refresh runs at a time: a second request joins the running one.
            models.UniqueConstraint(
                fields=["status"],
                condition=Q(status=RunStatus.RUNNING),
                name="refresh_one_running",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.status} {self.as_of:%Y-%m-%d}"


class CustomerMetrics(models.Model):
    """A customer's metrics and scores as of the last refresh (one row per active customer).

    Nothing here moves with the clock alone: days since the last order or contact are derived
    from the stored dates when read, so a refresh rewrites only the rows whose numbers changed.
    `refreshed_at` is when that last happened. The moment the metrics and scores describe is
    the `as_of` of the latest succeeded RefreshRun (`segments.selectors.metrics_as_of`); days
    since are counted to that moment (`days_since`), as the refresh counted them for the R score.
    """

    # No foreign-key constraint in the database: see "References of the refresh's tables".
    customer = models.OneToOneField(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="metrics",
        db_constraint=False,
    )
    frequency = models.IntegerField(_("orders in window"), default=0)
    monetary = models.DecimalField(_("spend in window"), max_digits=14, decimal_places=2, default=0)
    avg_order_value = models.DecimalField(
        _("average order value"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    first_order_at = models.DateTimeField(_("first order"), null=True, blank=True)
    last_order_at = models.DateTimeField(_("last order"), null=True, blank=True)
    orders_lifetime = models.IntegerField(_("orders ever"), default=0)
    orders_90d = models.IntegerField(_("orders in 90 days"), default=0)
    spend_90d = models.DecimalField(
        _("spend in 90 days"), max_digits=14, decimal_places=2, default=0
    )
    interactions_30d = models.IntegerField(_("interactions in 30 days"), default=0)
    complaints_90d = models.IntegerField(_("complaints in 90 days"), default=0)
    last_nps = models.SmallIntegerField(_("last NPS"), null=True, blank=True)
    avg_sentiment_30d = models.FloatField(_("average sentiment, 30 days"), null=True, blank=True)
    last_contact_at = models.DateTimeField(_("last contact"), null=True, blank=True)
    # The first moment the clock alone changes the raw metrics above (a paid order, a contact
    # or a complaint leaving its window, or one dated after as-of becoming current), from the
    # customer's own history: an incremental refresh re-aggregates the rows whose moment has
    # come instead of searching every order for window edges. Null: never.
    orders_edge_at = models.DateTimeField(_("next change by the clock, orders"), null=True)
    contacts_edge_at = models.DateTimeField(
        _("next change by the clock, contacts and surveys"), null=True
    )
    r_score = models.SmallIntegerField(_("R"), null=True, blank=True)
    f_score = models.SmallIntegerField(_("F"), null=True, blank=True)
    m_score = models.SmallIntegerField(_("M"), null=True, blank=True)
    rfm_code = models.CharField(_("RFM code"), max_length=3, blank=True)
    rfm_segment = models.CharField(
        _("RFM segment"), max_length=32, choices=RfmSegmentName.choices, blank=True
    )
    lifecycle_stage = models.CharField(
        _("lifecycle stage"), max_length=16, choices=LifecycleStage.choices
    )
    value_tier = models.CharField(_("value tier"), max_length=8, choices=ValueTier.choices)
    churn_probability = models.FloatField(_("churn probability"), null=True, blank=True)
    cluster = models.SmallIntegerField(_("cluster"), null=True, blank=True)
    spend_lifetime = models.DecimalField(
        _("spend ever"), max_digits=14, decimal_places=2, default=0
    )
    # The value model's predictions (segments.services.value_model); null without orders or
    # without a fitted model.
    p_alive = models.FloatField(_("probability still active"), null=True, blank=True)
    expected_orders_90d = models.FloatField(_("expected orders, 90 days"), null=True, blank=True)
    expected_orders_365d = models.FloatField(_("expected orders, 365 days"), null=True, blank=True)
    expected_order_value = models.DecimalField(
        _("expected order value"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    predicted_value_365d = models.DecimalField(
        _("predicted value, 365 days"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    value_potential = models.CharField(
        _("potential value"), max_length=8, choices=ValuePotential.choices, blank=True
    )
    refreshed_at = models.DateTimeField(_("last changed"))

    class Meta:
        verbose_name = _("customer metrics")
        verbose_name_plural = _("customer metrics")
        # No index on the scores or the one-of-a-dozen columns (RFM segment, lifecycle stage,
        # value tier): a value holds too many customers for an index to beat a scan, and an
        # indexed column changed makes the refresh's update of the row write every index
        # instead of staying on its page (migrations 0007 and 0018). Even an R x F cell of the
        # RFM grid page (1 in 25 customers) spreads over so many pages that a scan costs it
        # about what the index saved (docs/performance.md, the write-back).
        constraints = [
            models.CheckConstraint(
                name="metrics_scores_range",
                condition=(Q(r_score__isnull=True) | Q(r_score__gte=1, r_score__lte=5))
                & (Q(f_score__isnull=True) | Q(f_score__gte=1, f_score__lte=5))
                & (Q(m_score__isnull=True) | Q(m_score__gte=1, m_score__lte=5)),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.rfm_code} {self.lifecycle_stage}"


def days_since(moment: dt.datetime | None, *, as_of: dt.datetime | None) -> int | None:
    """Whole days from `moment` to `as_of`, floored as the refresh does (None when either is
    unknown: never ordered, or no refresh yet)."""
    if moment is None or as_of is None:
        return None
    return (as_of - moment).days


class CustomerBehaviour(models.Model):
    """What a customer buys, how and when, and their service history, as of the last refresh
    (one row per active customer; segments.services.behaviour).

    Only facts that move with the history are stored, never with the clock alone: the refresh
    recomputes the customers whose history changed or whose 90-day ticket window moved, and
    writes only rows that differ. Age, age band and how overdue the next order is are derived
    when read, against the refresh's as-of moment. Purchases are paid orders; a business
    account's include its active contacts' (as its metrics roll up).
    """

    # No foreign-key constraint in the database: see "References of the refresh's tables".
    customer = models.OneToOneField(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="behaviour",
        db_constraint=False,
    )
    top_category = models.CharField(_("top category"), max_length=100, blank=True)
    top_category_share = models.FloatField(_("top category's share of spend"), null=True)
    category_shares = models.JSONField(
        _("spend share by category"),
        default=dict,
        help_text=_("The top categories by spend and their share of all spend, 0 to 1."),
    )
    categories_count = models.IntegerField(_("categories bought"), default=0)
    repeat_category_share = models.FloatField(
        _("repeat category share"),
        null=True,
        help_text=_("Share of orders in a category the customer had bought before."),
    )
    preferred_channel = models.CharField(_("preferred channel"), max_length=50, blank=True)
    preferred_channel_share = models.FloatField(_("preferred channel's share of orders"), null=True)
    usual_hour = models.SmallIntegerField(
        _("usual hour"),
        null=True,
        validators=[MinValueValidator(0), MaxValueValidator(23)],
        help_text=_("The hour of day most orders were placed, in the customer's time zone."),
    )
    usual_weekday = models.SmallIntegerField(
        _("usual weekday"),
        null=True,
        validators=[MinValueValidator(1), MaxValueValidator(7)],
        help_text=_("ISO weekday (1 Monday ... 7 Sunday), in the customer's time zone."),
    )
    median_gap_days = models.FloatField(
        _("median days between orders"),
        null=True,
        help_text=_("Empty below two orders."),
    )
    tickets_inquiry_90d = models.IntegerField(_("inquiries in 90 days"), default=0)
    tickets_complaint_90d = models.IntegerField(_("complaints in 90 days"), default=0)
    tickets_suggestion_90d = models.IntegerField(_("suggestions in 90 days"), default=0)
    open_tickets = models.IntegerField(_("open tickets"), default=0)
    last_csat = models.SmallIntegerField(_("last CSAT"), null=True)
    refreshed_at = models.DateTimeField(_("last changed"))

    class Meta:
        verbose_name = _("customer buying habits")
        verbose_name_plural = _("customers' buying habits")
        constraints = [
            models.CheckConstraint(
                name="behaviour_hour_weekday_range",
                condition=(Q(usual_hour__isnull=True) | Q(usual_hour__gte=0, usual_hour__lte=23))
                & (Q(usual_weekday__isnull=True) | Q(usual_weekday__gte=1, usual_weekday__lte=7)),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.top_category}"


class CustomerReach(models.Model):
    """Whether and when a customer can be reached, and how they answer proactive touches, over
    the last 180 days (one row per active customer with any touch, call or phone).

    DECLARED here, so rules, priorities, the screen-pop card and segment pages can read it;
    FILLED by outreach (outreach.services.reach), the app that executes touches, nightly and
    set-based in SQL. A contract: outreach writes every column, nothing else writes the table
    (docs/architecture.md). Shares are 0 to 1 and empty without anything to count.
    """

    customer = models.OneToOneField(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="reach",
    )
    calls_attempted = models.IntegerField(_("calls attempted"), null=True)
    calls_answered = models.IntegerField(_("calls answered"), null=True)
    call_answer_share = models.FloatField(_("share of calls answered"), null=True)
    best_call_hour = models.SmallIntegerField(
        _("best hour to call"),
        null=True,
        validators=[MinValueValidator(0), MaxValueValidator(23)],
        help_text=_("The hour of day most calls were answered, in the customer's time zone."),
    )
    sms_sent = models.IntegerField(_("SMS sent"), null=True)
    sms_delivered_share = models.FloatField(_("share of SMS delivered"), null=True)
    email_sent = models.IntegerField(_("emails sent"), null=True)
    email_delivered_share = models.FloatField(_("share of emails delivered"), null=True)
    has_working_phone = models.BooleanField(_("has a working phone"), default=False)
    call_response_share = models.FloatField(_("call response share"), null=True)
    call_conversion_share = models.FloatField(_("call conversion share"), null=True)
    sms_response_share = models.FloatField(_("SMS response share"), null=True)
    sms_conversion_share = models.FloatField(_("SMS conversion share"), null=True)
    email_response_share = models.FloatField(_("email response share"), null=True)
    email_conversion_share = models.FloatField(_("email conversion share"), null=True)
    wechat_response_share = models.FloatField(_("WeChat response share"), null=True)
    wechat_conversion_share = models.FloatField(_("WeChat conversion share"), null=True)
    best_channel = models.CharField(
        _("best channel to reach"), max_length=8, choices=ReachChannel.choices, blank=True
    )
    reachability = models.FloatField(
        _("reachability"),
        null=True,
        help_text=_(
            "The best channel's share of calls answered or messages delivered; an opted-out "
            "channel or one without a contact point counts 0."
        ),
    )
    receptiveness = models.FloatField(
        _("receptiveness"),
        null=True,
        help_text=_("Share of proactive touches that got a response."),
    )
    refreshed_at = models.DateTimeField(_("last changed"))

    class Meta:
        verbose_name = _("customer reachability")
        verbose_name_plural = _("customers' reachability")
        constraints = [
            models.CheckConstraint(
                name="reach_hour_range",
                condition=Q(best_call_hour__isnull=True)
                | Q(best_call_hour__gte=0, best_call_hour__lte=23),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} reach {self.reachability}"


class ReachRefreshState(models.Model):
    """When the reachability pass last ran (one row, pk=1): its next run recomputes only the
    customers whose touches, messages, calls or contact points changed since, and those whose
    180-day window edge moved past something."""

    ran_at = models.DateTimeField(_("last run"))

    class Meta:
        verbose_name = _("reachability pass")
        verbose_name_plural = _("reachability passes")

    def __str__(self) -> str:
        return f"reach pass {self.ran_at:%Y-%m-%d %H:%M}"


def age_at(birthday: dt.date | None, *, as_of: dt.datetime | None) -> int | None:
    """Whole years from `birthday` to the day of `as_of` in TIME_ZONE, as the `age` rule field
    counts them (None when either is unknown)."""
    if birthday is None or as_of is None:
        return None
    day = timezone.localtime(as_of).date()
    return day.year - birthday.year - ((day.month, day.day) < (birthday.month, birthday.day))


def overdue_ratio(
    last_order_at: dt.datetime | None, median_gap_days: float | None, *, as_of: dt.datetime | None
) -> float | None:
    """Whole days since the last paid order over the median days between orders, rounded to
    two decimals, as the `overdue_ratio` rule field compares it (None without both)."""
    days = days_since(last_order_at, as_of=as_of)
    if days is None or not median_gap_days:
        return None
    return round(days / median_gap_days, 2)


class DirtyCustomer(models.Model):
    """Customers whose history changed since the last refresh: an append-only log written by
    PostgreSQL triggers on orders, interactions, tickets, surveys and customers (any writer,
    COPY imports and merges included). A refresh reads it to re-aggregate only those customers
    and deletes exactly the rows it read. No foreign key and no uniqueness, so writers never
    wait on each other or on a running refresh."""

    id = models.BigAutoField(primary_key=True)
    customer_id = models.BigIntegerField(_("customer id"))

    class Meta:
        verbose_name = _("changed customer")
        verbose_name_plural = _("changed customers")

    def __str__(self) -> str:
        return f"customer {self.customer_id} changed (#{self.pk})"


class Segment(TimeStampedModel):
    """A named group of customers: built in (RFM, lifecycle, tier, cluster) or rule-defined."""

    name = models.CharField(_("name"), max_length=120)
    slug = models.SlugField(_("slug"), max_length=120, unique=True)
    kind = models.CharField(_("kind"), max_length=16, choices=SegmentKind.choices)
    key = models.CharField(
        _("key"), max_length=32, blank=True, help_text=_("For built-in segments: the value.")
    )
    description = models.TextField(_("description"), blank=True)
    rule = models.JSONField(_("rule"), null=True, blank=True)
    capacity = models.PositiveIntegerField(
        _("capacity"), null=True, blank=True, help_text=_("Keep at most this many members.")
    )
    priority_field = models.CharField(
        _("priority"),
        max_length=32,
        choices=PriorityField.choices,
        default=PriorityField.MONETARY,
    )
    priority_descending = models.BooleanField(_("highest first"), default=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    size = models.PositiveIntegerField(_("size"), default=0)
    last_refreshed_at = models.DateTimeField(_("last refreshed"), null=True, blank=True)

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        ordering = ("kind", "name")
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "key"],
                condition=~Q(kind=SegmentKind.RULE),
                name="segment_builtin_once",
            ),
            models.CheckConstraint(
                name="segment_rule_has_tree",
                condition=~Q(kind=SegmentKind.RULE) | Q(rule__isnull=False),
            ),
        ]

    @property
    def display_name(self) -> str:
        """The name in the active language: a built-in segment still named as it was installed
        shows its label translated; a renamed one, or a rule segment, shows its name."""
        if self.kind == SegmentKind.CLUSTER:
            return cluster_name_display(self.name)
        choices = dict(BUILTIN_SEGMENTS).get(self.kind)
        if choices is None or self.key not in choices.values:
            return self.name
        label = choices(self.key).label
        with translation.override("en"):
            installed = str(label)
        return str(label) if self.name == installed else self.name

    def __str__(self) -> str:
        return self.name


class SegmentMembership(models.Model):
    """A stay of a customer in a segment: open while exited_at is null; history is kept.

    The table is partitioned by `exited_at IS NULL` (migration 0021): the open stays in one
    partition, the closed ones in another, so the open stays' indexes, which the screen-pop,
    the rules and every refresh's diff read, keep the size of the current membership however
    long the history grows. An exit moves its row from the first to the second. The primary
    key is each partition's (ids come from the parent's identity) and `membership_one_open`
    is the open partition's unique index; the model declares both as on a plain table.
    """

    # No index of the foreign keys' own: membership_segment_time leads with the segment,
    # membership_by_customer with the customer, and each index more is written for every one of
    # the hundreds of thousands of entries and exits of a refresh.
    # No foreign-key constraints in the database: see "References of the refresh's tables".
    segment = models.ForeignKey(
        Segment,
        verbose_name=_("segment"),
        on_delete=models.CASCADE,
        related_name="memberships",
        db_index=False,
        db_constraint=False,
    )
    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="segment_memberships",
        db_constraint=False,
        db_index=False,
    )
    entered_at = models.DateTimeField(_("entered at"))
    exited_at = models.DateTimeField(_("exited at"), null=True, blank=True)
    reason = models.CharField(_("why"), max_length=255, blank=True)
    # A run's entries are found by segment and moment (membership_segment_time and the run's
    # snapshots, care.services.events.bulk), its exits by the partial index below: an index on
    # every row's run would be written for each of the millions of entries of a first refresh.
    entered_run = models.ForeignKey(
        RefreshRun,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    exited_run = models.ForeignKey(
        RefreshRun,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )

    class Meta:
        verbose_name = _("segment membership")
        verbose_name_plural = _("segment memberships")
        ordering = ("-entered_at",)
        constraints = [
            models.UniqueConstraint(
                fields=["segment", "customer"],
                condition=Q(exited_at__isnull=True),
                name="membership_one_open",
            ),
        ]
        indexes = [
            # A customer's open memberships (exited_at IS NULL, an index condition) and past
            # stays, in one index: the entries of a refresh write it once, not a partial index
            # of the open ones and another of all of them.
            models.Index(fields=["customer", "exited_at"], name="membership_by_customer"),
            models.Index(fields=["segment", "-entered_at"], name="membership_segment_time"),
            models.Index(
                fields=["exited_run"],
                condition=Q(exited_run__isnull=False),
                name="membership_exited_run",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} in {self.segment_id}"


class SegmentSnapshot(models.Model):
    """A segment's size and movement at one refresh; feeds the trend charts."""

    segment = models.ForeignKey(
        Segment, verbose_name=_("segment"), on_delete=models.CASCADE, related_name="snapshots"
    )
    run = models.ForeignKey(
        RefreshRun, verbose_name=_("refresh"), on_delete=models.CASCADE, related_name="snapshots"
    )
    taken_at = models.DateTimeField(_("taken at"))
    size = models.PositiveIntegerField(_("size"))
    entered = models.PositiveIntegerField(_("entered"))
    exited = models.PositiveIntegerField(_("exited"))

    class Meta:
        verbose_name = _("segment snapshot")
        verbose_name_plural = _("segment snapshots")
        ordering = ("segment", "-taken_at")
        constraints = [
            models.UniqueConstraint(fields=["segment", "run"], name="snapshot_once_per_run")
        ]
        indexes = [models.Index(fields=["segment", "-taken_at"], name="snapshot_segment_time")]

    def __str__(self) -> str:
        return f"{self.segment_id} {self.taken_at:%Y-%m-%d} {self.size}"


class FittedModel(models.Model):
    """What every training of a versioned model records first: its outcome, version and time.

    Stored by segments.services.fits.versioned_fit_store, which also needs an `is_current`
    field on the model. That field, `message` and the one-current constraint are declared by
    each model: abstract fields come first in a model's field order (which the API shows), and
    the constraint names differ.
    """

    status = models.CharField(_("status"), max_length=16, choices=ChurnModelStatus.choices)
    version = models.PositiveIntegerField(_("version"), unique=True)
    trained_at = models.DateTimeField(_("trained at"), auto_now_add=True)

    class Meta:
        abstract = True
        ordering = ("-version",)

    def __str__(self) -> str:
        return f"v{self.version} {self.status}"


class ChurnModel(FittedModel):
    """One training of the churn model: when, on what, how good, and the fitted model."""

    cutoff = models.DateTimeField(_("cut-off"))
    horizon_days = models.PositiveIntegerField(_("horizon (days)"))
    training_rows = models.PositiveIntegerField(_("training rows"), default=0)
    positive_share = models.FloatField(_("churned share"), null=True, blank=True)
    holdout_auc = models.FloatField(_("holdout AUC"), null=True, blank=True)
    features = models.JSONField(_("features"), default=list)
    message = models.TextField(_("message"), blank=True)
    model_blob = models.BinaryField(_("fitted model"), null=True, blank=True, editable=False)
    is_current = models.BooleanField(_("current"), default=False)
    # The fitted estimator once loaded from model_blob, cached on the instance by
    # segments.services.churn; a declaration for the type checker, not a field.
    _estimator: "HistGradientBoostingClassifier"

    class Meta(FittedModel.Meta):
        verbose_name = _("churn model")
        verbose_name_plural = _("churn models")
        constraints = [
            models.UniqueConstraint(
                fields=["is_current"], condition=Q(is_current=True), name="churn_one_current"
            ),
        ]


class ValueModel(FittedModel):
    """One fit of the customer value model: BG/NBD for purchases and Gamma-Gamma for spend per
    purchase (segments.services.value_model), with its sample, parameters and hold-out check.

    `params` holds r, alpha, a, b (BG/NBD, time in days) and p, q, gamma (Gamma-Gamma).
    `holdout` is the check of a fit on the history up to `cutoff` against what the customers
    then bought in (cutoff, as_of]: per number of repeat purchases in calibration, the
    customers, predicted and actual purchases; and the totals.
    """

    as_of = models.DateTimeField(_("history up to"))
    cutoff = models.DateTimeField(_("hold-out from"))
    sample_customers = models.PositiveIntegerField(_("customers in the sample"), default=0)
    repeat_customers = models.PositiveIntegerField(_("repeat buyers in the sample"), default=0)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    log_likelihood = models.JSONField(_("log-likelihood"), default=dict, blank=True)
    holdout = models.JSONField(_("hold-out check"), default=dict, blank=True)
    holdout_error = models.FloatField(_("hold-out error of total purchases"), null=True, blank=True)
    message = models.TextField(_("message"), blank=True)
    is_current = models.BooleanField(_("current"), default=False)

    class Meta(FittedModel.Meta):
        verbose_name = _("value model")
        verbose_name_plural = _("value models")
        constraints = [
            models.UniqueConstraint(
                fields=["is_current"], condition=Q(is_current=True), name="value_one_current"
            ),
        ]


class ClusterProfile(models.Model):
    """A behaviour cluster found at a refresh, described for people."""

    run = models.ForeignKey(
        RefreshRun, verbose_name=_("refresh"), on_delete=models.CASCADE, related_name="clusters"
    )
    number = models.SmallIntegerField(_("cluster"))
    label = models.CharField(_("label"), max_length=120)
    traits = models.JSONField(
        _("traits"), default=list, help_text=_("Trait keys the label is made of.")
    )
    size = models.PositiveIntegerField(_("size"))
    mean_recency_days = models.FloatField(_("mean days since last order"), null=True)
    mean_frequency = models.FloatField(_("mean orders"))
    mean_monetary = models.FloatField(_("mean spend"))
    mean_r = models.FloatField(_("mean R"), null=True)
    mean_f = models.FloatField(_("mean F"), null=True)
    mean_m = models.FloatField(_("mean M"), null=True)
    mean_complaints = models.FloatField(_("mean complaints (90 days)"))
    silhouette = models.FloatField(_("silhouette of the clustering"), null=True)
    # The fitted clustering, so refreshes between refits assign customers to the same centres:
    # this cluster's centre in standardized log features, the standardization, and when the
    # centres were fitted.
    center = models.JSONField(_("centre"), default=list, blank=True)
    scaling = models.JSONField(_("feature scaling"), default=dict, blank=True)
    fitted_at = models.DateTimeField(_("fitted at"), null=True, blank=True)

    class Meta:
        verbose_name = _("cluster profile")
        verbose_name_plural = _("cluster profiles")
        ordering = ("run", "number")
        constraints = [
            models.UniqueConstraint(fields=["run", "number"], name="cluster_once_per_run")
        ]

    def __str__(self) -> str:
        return f"{self.number}: {self.display_label}"

    @property
    def display_label(self) -> str:
        """The label in the active language (stored in English; see segments.cluster_names)."""
        return cluster_name_display(self.label)


# Lengths of a next best action's texts: a line on the agent's card, not a script.
NBA_TEXT_LENGTH = 300


class NextBestAction(TimeStampedModel):
    """A rule of the desk's "what to do": when a customer matches `condition` (a rule tree, as
    rule segments use, segments.rules), the card suggests `action_text` with `reason_text`,
    their placeholders filled from the customer's figures (segments.next_best_actions).
    Active rules are tried by `position`; the card shows the first few that match."""

    key = models.SlugField(
        _("key"),
        max_length=40,
        blank=True,
        help_text=_("For the installed defaults: which one (their texts show translated)."),
    )
    name = models.CharField(_("name"), max_length=120)
    position = models.PositiveIntegerField(
        _("position"), default=100, help_text=_("Lower positions are tried first.")
    )
    is_active = models.BooleanField(_("active"), default=True)
    condition = models.JSONField(_("condition"))
    action_text = models.CharField(_("action"), max_length=NBA_TEXT_LENGTH)
    reason_text = models.CharField(_("reason"), max_length=NBA_TEXT_LENGTH, blank=True)
    channel = models.CharField(
        _("suggested channel"), max_length=16, choices=InteractionChannel.choices, blank=True
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
        verbose_name = _("next best action")
        verbose_name_plural = _("next best actions")
        ordering = ("position", "pk")
        constraints = [
            models.UniqueConstraint(
                fields=["key"], condition=~Q(key=""), name="next_best_action_default_once"
            ),
        ]

    @property
    def display_name(self) -> str:
        """The name in the active language (see `display`)."""
        return self.display("name")

    def display(self, field: str) -> str:
        """`field` ("name", "action_text" or "reason_text") in the active language: an
        installed default still worded as installed shows its translation; anything the admins
        wrote shows as written."""
        return next_best_action_text(key=self.key, field=field, text=getattr(self, field))

    def __str__(self) -> str:
        return self.name


_DEFAULT_NBA_TEXTS = {
    entry["key"]: {name: entry[name] for name in ("name", "action_text", "reason_text")}
    for entry in DEFAULT_NEXT_BEST_ACTIONS
}


def next_best_action_text(*, key: str, field: str, text: str) -> str:
    """What NextBestAction.display says, from the stored values (the desk reads them cached)."""
    default = _DEFAULT_NBA_TEXTS.get(key, {}).get(field)
    if default is None:
        return text
    with translation.override("en"):
        installed = str(default)
    return str(default) if text == installed else text
