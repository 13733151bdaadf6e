"""Customers, their contact points and consent history."""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from callcenter.choices import (
    AccountRole,
    ConsentChannel,
    ConsentSource,
    ContactKind,
    CustomerKind,
    CustomerStatus,
    Gender,
    Language,
)

from .base import TimeStampedModel


def _default_timezone() -> str:
    return settings.TIME_ZONE


class Customer(TimeStampedModel):
    """A person or a business we serve; the hub every other record hangs from."""

    external_id = models.CharField(
        _("external id"),
        max_length=64,
        unique=True,
        null=True,
        blank=True,
        help_text=_("The id in the system of record; CSV imports upsert by it."),
    )
    kind = models.CharField(
        _("kind"), max_length=16, choices=CustomerKind.choices, default=CustomerKind.PERSON
    )
    status = models.CharField(
        _("status"), max_length=16, choices=CustomerStatus.choices, default=CustomerStatus.ACTIVE
    )
    name = models.CharField(_("name"), max_length=200)
    company_name = models.CharField(_("company name"), max_length=200, blank=True)
    industry = models.CharField(_("industry"), max_length=100, blank=True)
    employee_count = models.PositiveIntegerField(_("employee count"), null=True, blank=True)
    birthday = models.DateField(_("birthday"), null=True, blank=True)
    # Optional; db_default too: the set-based import inserts customers in SQL without naming it.
    gender = models.CharField(
        _("gender"), max_length=8, choices=Gender.choices, blank=True, default="", db_default=""
    )
    city = models.CharField(_("city"), max_length=100, blank=True)
    region = models.CharField(_("region"), max_length=100, blank=True)
    timezone = models.CharField(_("time zone"), max_length=64, default=_default_timezone)
    language = models.CharField(
        _("language"), max_length=16, choices=Language.choices, default=Language.ZH_HANS
    )
    advisor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("dedicated advisor"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="advised_customers",
    )
    sms_opt_out = models.BooleanField(_("SMS opt-out"), default=False)
    call_opt_out = models.BooleanField(_("call opt-out"), default=False)
    email_opt_out = models.BooleanField(_("email opt-out"), default=False)
    # db_default too: the set-based import inserts customers in SQL without naming them.
    wechat_opt_out = models.BooleanField(_("WeChat opt-out"), default=False, db_default=False)
    wecom_opt_out = models.BooleanField(_("WeCom opt-out"), default=False, db_default=False)
    do_not_contact = models.BooleanField(_("do not contact"), default=False)
    consent_updated_at = models.DateTimeField(_("consent changed at"), null=True, blank=True)
    consent_source = models.CharField(
        _("consent changed by"), max_length=16, choices=ConsentSource.choices, blank=True
    )
    attributes = models.JSONField(
        _("custom attributes"),
        default=dict,
        blank=True,
        help_text=_("Free-form attributes, e.g. extra CSV columns."),
    )
    merged_into = models.ForeignKey(
        "self",
        verbose_name=_("merged into"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="absorbed",
    )
    # A person who is a contact of a business account (a customer of kind business).
    account = models.ForeignKey(
        "self",
        verbose_name=_("business account"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="contacts",
    )
    account_role = models.CharField(
        _("role in the account"),
        max_length=16,
        choices=AccountRole.choices,
        blank=True,
        default="",
        db_default="",
    )

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        ordering = ("-id",)
        indexes = [
            GinIndex(name="customer_name_trgm", fields=["name"], opclasses=["gin_trgm_ops"]),
            models.Index(fields=["status", "kind"], name="customer_status_kind"),
            models.Index(fields=["advisor"], name="customer_advisor"),
            models.Index(
                fields=["account"], condition=Q(account__isnull=False), name="customer_account"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                name="customer_business_has_company",
                condition=~Q(kind=CustomerKind.BUSINESS) | ~Q(company_name=""),
            ),
            models.CheckConstraint(
                name="customer_merged_has_target",
                condition=Q(status=CustomerStatus.ACTIVE, merged_into__isnull=True)
                | Q(status=CustomerStatus.MERGED, merged_into__isnull=False),
            ),
            models.CheckConstraint(
                name="customer_external_id_not_blank",
                condition=~Q(external_id=""),
            ),
            models.CheckConstraint(
                name="customer_account_not_self", condition=~Q(account=models.F("id"))
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_business(self) -> bool:
        return self.kind == CustomerKind.BUSINESS


class ContactPoint(TimeStampedModel):
    """One way to reach or recognise a customer: a phone, an email, a WeChat id or an external id.

    Values are stored normalized (phones in E.164, emails lower-cased) so one indexed lookup
    finds the owner; an active phone, email or id belongs to exactly one customer.
    """

    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="contact_points",
    )
    kind = models.CharField(_("kind"), max_length=16, choices=ContactKind.choices)
    system = models.CharField(
        _("system"),
        max_length=50,
        blank=True,
        help_text=_("For external ids: the system that issued the id."),
    )
    value = models.CharField(_("value"), max_length=254, help_text=_("Normalized value."))
    raw_value = models.CharField(_("as entered"), max_length=254, blank=True)
    label = models.CharField(_("label"), max_length=50, blank=True)
    is_primary = models.BooleanField(_("primary"), default=False)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("contact point")
        verbose_name_plural = _("contact points")
        ordering = ("customer_id", "kind", "-is_primary", "id")
        indexes = [models.Index(fields=["kind", "value"], name="contact_kind_value")]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "value"],
                condition=Q(is_active=True) & ~Q(kind=ContactKind.EMAIL) & Q(system=""),
                name="contact_unique_active_value",
                violation_error_message=_("This contact point already belongs to a customer."),
            ),
            models.UniqueConstraint(
                fields=["kind", "system", "value"],
                condition=Q(is_active=True) & ~Q(system=""),
                name="contact_unique_active_external",
            ),
            models.UniqueConstraint(
                fields=["customer", "kind", "system", "value"], name="contact_unique_per_customer"
            ),
            models.CheckConstraint(name="contact_value_not_blank", condition=~Q(value="")),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.value}"


class ConsentChange(models.Model):
    """An entry of the consent history: who or what changed which opt-out, and when."""

    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="consent_changes",
    )
    channel = models.CharField(_("channel"), max_length=16, choices=ConsentChannel.choices)
    opted_out = models.BooleanField(_("opted out"))
    source = models.CharField(_("source"), max_length=16, choices=ConsentSource.choices)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("changed by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    changed_at = models.DateTimeField(_("changed at"), db_index=True)
    note = models.CharField(_("note"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("consent change")
        verbose_name_plural = _("consent changes")
        ordering = ("-changed_at", "-id")
        indexes = [models.Index(fields=["customer", "-changed_at"], name="consent_customer_time")]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.channel} opted_out={self.opted_out}"


class AgentProfile(models.Model):
    """Call-center facts about a user: telephony extension, seniority, daily task limit."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="agent_profile",
    )
    extension = models.CharField(_("extension"), max_length=32, unique=True, null=True, blank=True)
    is_senior = models.BooleanField(_("senior agent"), default=False)
    daily_task_limit = models.PositiveSmallIntegerField(
        _("call tasks per day"), null=True, blank=True, help_text=_("Empty: the care default.")
    )
    is_available = models.BooleanField(_("available"), default=True)
    # Routing: what the agent can handle (languages, products, industries, "vip"), how many
    # open tickets they carry at most, and the team their scorecard is compared with.
    skills = ArrayField(
        models.CharField(max_length=50),
        verbose_name=_("skills"),
        default=list,
        blank=True,
        help_text=_("E.g. en, zh-hans, vip, industry:retail, product:broadband."),
    )
    ticket_capacity = models.PositiveSmallIntegerField(
        _("open tickets at most"), null=True, blank=True, help_text=_("Empty: no limit.")
    )
    team = models.CharField(_("team"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("agent profile")
        verbose_name_plural = _("agent profiles")

    def __str__(self) -> str:
        return f"{self.user} ({self.extension or '-'})"
