"""Customers and their contact points: edited through the customer services, consent changed
only by recorded actions, searched through indexed lookups."""

from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from callcenter.admin.base import BigTableAdmin
from callcenter.admin.search import contact_values, customer_search_ids
from callcenter.admin.subject_rights import SubjectRightsActions
from callcenter.choices import (
    ConsentChannel,
    ConsentSource,
    ContactKind,
    CustomerKind,
    CustomerStatus,
)
from callcenter.errors import ApplicationError
from callcenter.http import AuthenticatedHttpRequest
from callcenter.models import (
    ContactPoint,
    Customer,
    Interaction,
    Order,
    Ticket,
)
from callcenter.moved_rows import moved_rows_retried
from callcenter.services.customers import (
    EDITABLE_FIELDS,
    customer_consent_set,
    customer_create,
    customer_update,
    normalize_contact_value,
    validate_timezone,
)

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

# Rows shown in the read-only "recent ..." inlines of a customer.
RECENT_ROWS = 10

# Cities offered by the city filter (the most common ones), recomputed at most this often.
CITY_FILTER_SIZE = 30
CITY_FILTER_CACHE_SECONDS = 3600


class CityFilter(admin.SimpleListFilter):
    """The most common cities (never a DISTINCT over the whole customer table per page)."""

    title = gettext_lazy("city")
    parameter_name = "city"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple]:
        def top_cities() -> list[str]:
            return list(
                Customer.objects.exclude(city="")
                .values("city")
                .annotate(customers=Count("id"))
                .order_by("-customers", "city")
                .values_list("city", flat=True)[:CITY_FILTER_SIZE]
            )

        cities: list[str] = (
            cache.get_or_set("admin:customer-cities", top_cities, CITY_FILTER_CACHE_SECONDS) or []
        )
        selected = self.value()
        if selected and selected not in cities:
            cities = [*cities, selected]
        return [(city, city) for city in cities]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(city=self.value()) if self.value() else queryset


class ContactPointForm(forms.ModelForm):
    """Stores values normalized (E.164 phones, lower-case emails), as the services do."""

    class Meta:
        model = ContactPoint
        fields = ("customer", "kind", "system", "value", "label", "is_primary", "is_active")

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        kind, value = data.get("kind"), data.get("value")
        if kind and value:
            try:
                normalized = normalize_contact_value(kind, value)
            except ApplicationError as exc:
                raise forms.ValidationError({"value": exc.message}) from exc
            if "value" in self.changed_data:
                self.instance.raw_value = value.strip()
            data["value"] = normalized
            self.instance.value = normalized
        return data


class ContactPointInline(admin.TabularInline):
    model = ContactPoint
    form = ContactPointForm
    extra = 0
    fields = ("kind", "system", "value", "raw_value", "label", "is_primary", "is_active")
    readonly_fields = ("raw_value",)


class RecentRowsInline(admin.TabularInline):
    """The customer's latest rows of one kind, read-only."""

    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True
    order_field = "-id"
    fields: ClassVar[tuple[str, ...]]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple:
        return self.fields

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request)
        match = request.resolver_match
        object_id = match.kwargs.get("object_id") if match else None
        if not object_id or not str(object_id).isdigit():
            return queryset.none()
        recent = (
            self.model._default_manager.filter(customer_id=int(object_id))
            .order_by(self.order_field, "-id")
            .values("pk")[:RECENT_ROWS]
        )
        return queryset.filter(pk__in=recent)


class RecentOrderInline(RecentRowsInline):
    model = Order
    verbose_name_plural = gettext_lazy("recent orders")
    fields = (
        "external_id",
        "placed_at",
        "amount",
        "currency",
        "category",
        "product",
        "channel",
        "status",
    )
    order_field = "-placed_at"


class RecentTicketInline(RecentRowsInline):
    model = Ticket
    verbose_name_plural = gettext_lazy("recent tickets")
    fields = ("subject", "kind", "status", "priority", "opened_at", "resolved_at")
    order_field = "-opened_at"


class RecentInteractionInline(RecentRowsInline):
    model = Interaction
    verbose_name_plural = gettext_lazy("recent interactions")
    fields = ("occurred_at", "channel", "direction", "reason", "outcome", "sentiment")
    order_field = "-occurred_at"


class CustomerForm(forms.ModelForm):
    class Meta:
        model = Customer
        fields = tuple(sorted(EDITABLE_FIELDS))

    # The same rules customer_create / customer_update apply, as form errors.
    def clean_timezone(self) -> str:
        try:
            return validate_timezone(self.cleaned_data["timezone"])
        except ApplicationError as exc:
            raise forms.ValidationError(exc.message) from exc

    def clean_birthday(self) -> Any:
        birthday = self.cleaned_data.get("birthday")
        if birthday and birthday > timezone.localdate():
            raise forms.ValidationError(_("The birthday is in the future."))
        return birthday

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("kind") == CustomerKind.BUSINESS and not data.get("company_name"):
            self.add_error("company_name", _("A business customer needs a company name."))
        return data


CONSENT_READONLY = (
    "sms_opt_out",
    "call_opt_out",
    "email_opt_out",
    "do_not_contact",
    "wechat_opt_out",
    "wecom_opt_out",
    "consent_updated_at",
    "consent_source",
)


def _consent_action(channel: str, description: "StrOrPromise") -> Any:
    @admin.action(permissions=["change"], description=description)
    def action(
        modeladmin: "CustomerAdmin", request: AuthenticatedHttpRequest, queryset: QuerySet
    ) -> None:
        changed = 0
        for customer in queryset.filter(status=CustomerStatus.ACTIVE):
            changed += customer_consent_set(
                customer=customer,
                channel=channel,
                opted_out=True,
                source=ConsentSource.ADMIN,
                changed_by=request.user,
                note=_("Set in the admin."),
            )
        modeladmin.message_user(
            request,
            ngettext(
                "%(count)d customer opted out (%(channel)s), recorded in the consent history.",
                "%(count)d customers opted out (%(channel)s), recorded in the consent history.",
                changed,
            )
            % {"count": changed, "channel": ConsentChannel(channel).label},
            messages.SUCCESS,
        )

    action.__name__ = f"opt_out_{channel}"
    return action


@admin.register(Customer)
class CustomerAdmin(SubjectRightsActions, BigTableAdmin):
    form = CustomerForm
    list_display = (
        "name",
        "external_id",
        "kind",
        "status",
        "city",
        "primary_phone",
        "advisor",
        "do_not_contact",
        "created_at",
    )
    list_filter = (
        "kind",
        "status",
        CityFilter,
        "sms_opt_out",
        "call_opt_out",
        "email_opt_out",
        "do_not_contact",
        "wechat_opt_out",
        "wecom_opt_out",
        "language",
        "created_at",
    )
    # Searching is done by get_search_results (name, external id, any contact value in any
    # format); these declare the search box and serve the autocomplete widgets.
    search_fields = ("name", "=external_id", "=contact_points__value")
    list_select_related = ("advisor",)
    autocomplete_fields = ("advisor",)
    readonly_fields = (
        *CONSENT_READONLY,
        "status",
        "merged_into",
        "created_at",
        "updated_at",
    )
    fieldsets = (
        (None, {"fields": ("name", "kind", "external_id", "status", "merged_into")}),
        (
            gettext_lazy("Profile"),
            {
                "fields": (
                    "birthday",
                    "city",
                    "region",
                    "timezone",
                    "language",
                    "advisor",
                    "attributes",
                )
            },
        ),
        (
            gettext_lazy("Business"),
            {"fields": ("company_name", "industry", "employee_count")},
        ),
        (
            gettext_lazy("Consent (changed only through recorded actions)"),
            {"fields": CONSENT_READONLY},
        ),
        (gettext_lazy("Record"), {"fields": ("created_at", "updated_at")}),
    )
    inlines = (ContactPointInline, RecentOrderInline, RecentTicketInline, RecentInteractionInline)
    actions = (
        _consent_action(ConsentChannel.SMS, gettext_lazy("Opt out of SMS (recorded)")),
        _consent_action(ConsentChannel.CALL, gettext_lazy("Opt out of calls (recorded)")),
        _consent_action(ConsentChannel.EMAIL, gettext_lazy("Opt out of email (recorded)")),
        _consent_action(ConsentChannel.ALL, gettext_lazy("Do not contact at all (recorded)")),
        _consent_action(ConsentChannel.WECHAT, gettext_lazy("Opt out of WeChat (recorded)")),
        _consent_action(ConsentChannel.WECOM, gettext_lazy("Opt out of WeCom (recorded)")),
        "export_subject_data",
        "erase_personal_data",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Customer]:
        phone = (
            ContactPoint.objects.filter(
                customer_id=OuterRef("pk"), kind=ContactKind.PHONE, is_active=True
            )
            .order_by("-is_primary", "id")
            .values("value")[:1]
        )
        return super().get_queryset(request).annotate(primary_phone_value=Subquery(phone))

    @admin.display(description=gettext_lazy("phone"))
    def primary_phone(self, obj: Customer) -> str:
        return getattr(obj, "primary_phone_value", None) or "-"

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(pk__in=customer_search_ids(term)), False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.merged_into_id is not None:
            return False
        return super().has_change_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: Customer, form: Any, change: bool) -> None:
        assert isinstance(request.user, User)  # the admin site admits signed-in staff only
        fields = {
            name: form.cleaned_data[name] for name in form.changed_data if name in EDITABLE_FIELDS
        }
        # Through the services, so the change is validated, audited and announced (a created
        # customer triggers the "new customer" care); the form already checked their rules.
        if change:
            customer_update(customer=obj, updated_by=request.user, **fields)
            return
        fields = {k: v for k, v in fields.items() if k not in ("name", "kind")}
        created = customer_create(name=obj.name, kind=obj.kind, created_by=request.user, **fields)
        obj.pk = created.pk
        obj._state.adding = False
        obj._state.db = created._state.db

    # A deletion cascades to the customer's segment memberships, whose rows a running refresh
    # may be moving between partitions (callcenter.moved_rows).
    def delete_model(self, request: HttpRequest, obj: Customer) -> None:
        moved_rows_retried(partial(super().delete_model, request, obj))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Customer]) -> None:
        moved_rows_retried(partial(super().delete_queryset, request, queryset))


@admin.register(ContactPoint)
class ContactPointAdmin(BigTableAdmin):
    form = ContactPointForm
    list_display = ("value", "kind", "system", "customer", "is_primary", "is_active", "label")
    list_filter = ("kind", "is_active", "is_primary")
    search_fields = ("=value",)
    list_select_related = ("customer",)
    raw_id_fields = ("customer",)
    readonly_fields = ("raw_value", "created_at", "updated_at")

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(kind__in=ContactKind.values, value__in=contact_values(term)), False
