"""SLA policies, the business calendars they count in, and each ticket's SLA clock."""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from callcenter.generated import generated_text
from callcenter.models import Ticket, TimeStampedModel


def _default_timezone() -> str:
    return settings.TIME_ZONE


class BusinessCalendar(TimeStampedModel):
    """When the clock of an SLA runs: business hours per weekday in a time zone, minus the
    public holidays of the shared holiday calendar (`callcenter.CalendarDay`, with its make-up
    working days) when `follows_public_holidays`, minus or plus this calendar's own dates
    (`BusinessCalendarDate`). `hours` maps a weekday ("0" Monday .. "6" Sunday) to a list of
    ["HH:MM", "HH:MM"] intervals; a missing weekday is closed."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    timezone = models.CharField(_("time zone"), max_length=64, default=_default_timezone)
    hours = models.JSONField(_("business hours"), default=dict)
    follows_public_holidays = models.BooleanField(_("closed on public holidays"), default=True)
    version = models.PositiveIntegerField(_("version"), default=1)

    class Meta:
        verbose_name = _("business calendar")
        verbose_name_plural = _("business calendars")
        ordering = ("name",)

    def __str__(self) -> str:
        return generated_text(self.name)


class BusinessCalendarDate(TimeStampedModel):
    """A date an admin sets on one calendar: closed (a company day off) or open with its own
    hours (e.g. a Saturday worked)."""

    calendar = models.ForeignKey(
        BusinessCalendar,
        verbose_name=_("calendar"),
        on_delete=models.CASCADE,
        related_name="dates",
    )
    day = models.DateField(_("date"))
    is_open = models.BooleanField(_("open"), default=False)
    hours = models.JSONField(
        _("hours"), default=list, blank=True, help_text=_('Open days: [["09:00", "18:00"]].')
    )
    reason = models.CharField(_("reason"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("calendar date")
        verbose_name_plural = _("calendar dates")
        ordering = ("calendar", "day")
        constraints = [
            models.UniqueConstraint(fields=["calendar", "day"], name="business_date_once")
        ]

    def __str__(self) -> str:
        return f"{self.calendar_id} {self.day}"


class SlaPolicy(TimeStampedModel):
    """Promised response and resolution times for the tickets it matches.

    Policies are tried in `position` order; the first active one whose every non-empty
    condition holds applies (an empty list matches anything). Targets are minutes of the
    calendar's business time, or of calendar time (24x7) when there is no calendar."""

    name = models.CharField(_("name"), max_length=100)
    position = models.PositiveIntegerField(_("order"), default=100)
    is_active = models.BooleanField(_("active"), default=True)
    version = models.PositiveIntegerField(_("version"), default=1)
    ticket_kinds = ArrayField(
        models.CharField(max_length=16), verbose_name=_("ticket kinds"), default=list, blank=True
    )
    priorities = ArrayField(
        models.CharField(max_length=16), verbose_name=_("priorities"), default=list, blank=True
    )
    channels = ArrayField(
        models.CharField(max_length=16), verbose_name=_("channels"), default=list, blank=True
    )
    customer_kinds = ArrayField(
        models.CharField(max_length=16),
        verbose_name=_("customer kinds"),
        default=list,
        blank=True,
    )
    value_tiers = ArrayField(
        models.CharField(max_length=16), verbose_name=_("value tiers"), default=list, blank=True
    )
    lifecycle_stages = ArrayField(
        models.CharField(max_length=16),
        verbose_name=_("lifecycle stages"),
        default=list,
        blank=True,
    )
    segments = models.ManyToManyField(
        "segments.Segment", verbose_name=_("segments"), blank=True, related_name="+"
    )
    calendar = models.ForeignKey(
        BusinessCalendar,
        verbose_name=_("business calendar"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="policies",
        help_text=_("Empty: the clock runs around the clock (24x7)."),
    )
    first_response_minutes = models.PositiveIntegerField(
        _("first response within (minutes)"), null=True, blank=True
    )
    next_response_minutes = models.PositiveIntegerField(
        _("next response within (minutes)"), null=True, blank=True
    )
    resolution_minutes = models.PositiveIntegerField(
        _("resolution within (minutes)"), null=True, blank=True
    )
    warn_at_percent = models.PositiveSmallIntegerField(
        _("warn at (% of the time used)"), default=75
    )
    escalate_reassign = models.BooleanField(
        _("at a breach, reassign to a colleague with room"), default=True
    )
    escalate_notify = models.BooleanField(_("at a breach, notify supervisors"), default=True)

    class Meta:
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")
        ordering = ("position", "id")
        constraints = [
            models.CheckConstraint(
                name="sla_warn_percent_range",
                condition=Q(warn_at_percent__gte=1, warn_at_percent__lte=99),
            ),
        ]

    def __str__(self) -> str:
        return generated_text(self.name)


class SlaPolicyVersion(models.Model):
    """A frozen copy of a policy; every change makes a new one (as care rules' versions)."""

    policy = models.ForeignKey(
        SlaPolicy, verbose_name=_("policy"), on_delete=models.CASCADE, related_name="versions"
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

    class Meta:
        verbose_name = _("SLA policy version")
        verbose_name_plural = _("SLA policy versions")
        ordering = ("policy", "-version")
        constraints = [
            models.UniqueConstraint(fields=["policy", "version"], name="sla_policy_version_once")
        ]

    def __str__(self) -> str:
        return f"{self.policy_id} v{self.version}"


class TicketSla(models.Model):
    """A ticket's SLA clock under the policy that matched it when it opened.

    Due moments are stored (computed in the calendar's business time when the clock starts or
    resumes), so lists, the sweep and reports read them without calendar arithmetic. While the
    ticket waits on the customer the clock is paused (`paused_at`); on resuming, the due moments
    still open move by the business time the pause took. `*_at` met moments are when the
    target was met; `*_breached_at` when the sweep found it missed; `warned_at` and
    `escalated_at` are set once each by the sweep."""

    ticket = models.OneToOneField(
        Ticket,
        verbose_name=_("ticket"),
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="sla",
    )
    policy = models.ForeignKey(
        SlaPolicy,
        verbose_name=_("SLA policy"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="tickets",
    )
    policy_version = models.PositiveIntegerField(_("policy version"), null=True, blank=True)
    first_response_due_at = models.DateTimeField(_("first response due"), null=True, blank=True)
    first_response_at = models.DateTimeField(_("first response at"), null=True, blank=True)
    first_response_breached_at = models.DateTimeField(
        _("first response breached at"), null=True, blank=True
    )
    next_response_due_at = models.DateTimeField(_("next response due"), null=True, blank=True)
    next_response_breached_at = models.DateTimeField(
        _("next response breached at"), null=True, blank=True
    )
    resolution_due_at = models.DateTimeField(_("resolution due"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    resolution_breached_at = models.DateTimeField(
        _("resolution breached at"), null=True, blank=True
    )
    paused_at = models.DateTimeField(_("paused since"), null=True, blank=True)
    # Business minutes the clock has been paused so far (taken times leave them out).
    paused_minutes = models.PositiveIntegerField(_("paused (minutes)"), default=0)
    # When warn_at_percent of each target's time is used, stored (and moved) with its due
    # moment, so the sweep's warning is a plain comparison.
    first_response_warn_at = models.DateTimeField(
        _("first response warning at"), null=True, blank=True
    )
    next_response_warn_at = models.DateTimeField(
        _("next response warning at"), null=True, blank=True
    )
    resolution_warn_at = models.DateTimeField(_("resolution warning at"), null=True, blank=True)
    warned_at = models.DateTimeField(_("warned at"), null=True, blank=True)
    escalated_at = models.DateTimeField(_("escalated at"), null=True, blank=True)
    # Business minutes from opening to the first response and to resolution (reports'
    # percentiles), written when each is met.
    first_response_minutes = models.PositiveIntegerField(
        _("first response took (minutes)"), null=True, blank=True
    )
    resolution_minutes = models.PositiveIntegerField(
        _("resolution took (minutes)"), null=True, blank=True
    )

    class Meta:
        verbose_name = _("ticket SLA")
        verbose_name_plural = _("ticket SLAs")
        indexes = [
            # The sweep: open clocks by their next due moment.
            models.Index(
                fields=["resolution_due_at"],
                condition=Q(resolved_at__isnull=True, paused_at__isnull=True),
                name="ticket_sla_open_resolution",
            ),
            models.Index(
                fields=["first_response_due_at"],
                condition=Q(first_response_at__isnull=True, paused_at__isnull=True),
                name="ticket_sla_open_first",
            ),
            models.Index(fields=["policy", "resolution_due_at"], name="ticket_sla_policy"),
            models.Index(
                fields=["resolution_warn_at"],
                condition=Q(warned_at__isnull=True, resolved_at__isnull=True),
                name="ticket_sla_open_warning",
            ),
        ]

    def __str__(self) -> str:
        return f"SLA of ticket {self.ticket_id}"
