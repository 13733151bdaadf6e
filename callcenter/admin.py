"""Django admin of the customer-profile domain.

The admin is a back office for admins, not a way around the services:
- customers are created and edited through `customer_create` / `customer_update` (validated,
  audited, announced); consent flags are read-only and change only through recorded actions;
- activity rows (orders, interactions, tickets, surveys) are read-only here, because their
  services announce the events care rules listen to;
- audit log, consent history, merges and import runs are read-only records;
- merge proposals are decided by actions that call the identity services, after a
  confirmation page, and report what moved;
- exporting and erasing a data subject's personal data are admin-only actions (a permission of
  the action, checked when it runs); erasure asks the admin to type the customer's external id
  (or the number of customers) first.

Lists stay cheap on big tables: related rows come with `list_select_related`, customer
foreign keys use raw id widgets, filters never list distinct values of a big column, and an
unfiltered list of a huge table shows the planner's row estimate instead of counting.
"""

from typing import Any

from django import forms
from django.apps import apps
from django.contrib import admin, messages
from django.core.cache import cache
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Count, F, Lookup, OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse
from django.template import engines
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from callcenter.choices import (
    ConsentChannel,
    ConsentSource,
    ContactKind,
    CustomerKind,
    CustomerStatus,
    MergeProposalStatus,
    Role,
)
from callcenter.errors import ApplicationError
from callcenter.jsoninput import CHECKED_JSON_FORMFIELDS
from callcenter.models import (
    AuditLog,
    ConsentChange,
    ContactPoint,
    Customer,
    CustomerMerge,
    ImportRun,
    Interaction,
    MergeProposal,
    Order,
    SurveyResponse,
    Ticket,
)
from callcenter.phones import normalize_email, try_normalize_phone
from callcenter.roles import MANAGER_ROLES, has_role
from callcenter.services.customers import (
    EDITABLE_FIELDS,
    customer_consent_set,
    customer_create,
    customer_update,
    normalize_contact_value,
    validate_timezone,
)
from callcenter.services.identity import merge_proposal_accept, merge_proposal_dismiss
from callcenter.services.privacy import (
    customer_erase,
    customer_subject_export,
    erasure_confirmation,
    subject_export_json,
)

# Above this many rows an unfiltered changelist shows the planner's estimate (pg_class) instead
# of running COUNT(*) over the whole table on every page view.
ESTIMATED_COUNT_ABOVE = 100_000

# Rows shown in the read-only "recent ..." inlines of a customer.
RECENT_ROWS = 10

# Cities offered by the city filter (the most common ones), recomputed at most this often.
CITY_FILTER_SIZE = 30
CITY_FILTER_CACHE_SECONDS = 3600


class EstimatedCountPaginator(Paginator):
    """Exact counts for filtered lists; the table's row estimate for a huge unfiltered one."""

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if isinstance(queryset, QuerySet) and not queryset.query.where:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                    [queryset.model._meta.db_table],
                )
                row = cursor.fetchone()
            if row and row[0] > ESTIMATED_COUNT_ABOVE:
                return int(row[0])
        return super().count


class BigTableAdmin(admin.ModelAdmin):
    paginator = EstimatedCountPaginator
    formfield_overrides = CHECKED_JSON_FORMFIELDS
    show_full_result_count = False
    list_per_page = 50


class ReadOnlyAdmin(BigTableAdmin):
    """A record that is written by services only."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _customer_link(customer: Customer | None) -> str:
    if customer is None:
        return "-"
    url = reverse("admin:callcenter_customer_change", args=[customer.pk])
    return format_html('<a href="{}">#{} {}</a>', url, customer.pk, customer.name)


# --- customers -----------------------------------------------------------------------------


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

        cities = cache.get_or_set("admin:customer-cities", top_cities, CITY_FILTER_CACHE_SECONDS)
        selected = self.value()
        if selected and selected not in cities:
            cities = [*cities, selected]
        return [(city, city) for city in cities]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(city=self.value()) if self.value() else queryset


def _contact_values(term: str) -> set[str]:
    """`term` as typed and normalized as a phone number or an email address."""
    values = {term, normalize_email(term)}
    if any(ch.isdigit() for ch in term):
        phone = try_normalize_phone(term)
        if phone:
            values.add(phone)
    return values


class ILike(Lookup):
    """`column ILIKE pattern`: served by the trigram index on customer.name, which Django's
    icontains (UPPER(column) LIKE UPPER(pattern)) cannot use."""

    lookup_name = "ilike"

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} ILIKE {rhs}", [*lhs_params, *rhs_params]


def _contains_pattern(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _customer_search_ids(term: str) -> QuerySet:
    """Ids of customers whose external id or any contact value equals `term` (in any format)
    or whose name contains it: a union of three indexed lookups, where one OR over them would
    scan the whole customer table."""
    by_contact = ContactPoint.objects.filter(
        kind__in=ContactKind.values, value__in=_contact_values(term)
    )
    by_external_id = Customer.objects.filter(external_id=term)
    by_name = Customer.objects.filter(ILike(F("name"), _contains_pattern(term)))
    return (
        by_contact.order_by()
        .values_list("customer_id", flat=True)
        .union(
            by_external_id.order_by().values_list("pk", flat=True),
            by_name.order_by().values_list("pk", flat=True),
        )
    )


class ContactPointForm(forms.ModelForm):
    """Stores values normalized (E.164 phones, lower-case emails), as the services do."""

    class Meta:
        model = ContactPoint
        fields = ("customer", "kind", "system", "value", "label", "is_primary", "is_active")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
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
    fields = ("external_id", "placed_at", "amount", "currency", "category", "channel", "status")
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
        data = super().clean()
        if data.get("kind") == CustomerKind.BUSINESS and not data.get("company_name"):
            self.add_error("company_name", _("A business customer needs a company name."))
        return data


CONSENT_READONLY = (
    "sms_opt_out",
    "call_opt_out",
    "email_opt_out",
    "do_not_contact",
    "consent_updated_at",
    "consent_source",
)


def _consent_action(channel: str, description: str) -> Any:
    @admin.action(permissions=["change"], description=description)
    def action(modeladmin: "CustomerAdmin", request: HttpRequest, queryset: QuerySet) -> None:
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
class CustomerAdmin(BigTableAdmin):
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
        "export_subject_data",
        "erase_personal_data",
    )

    def has_subject_rights_permission(self, request: HttpRequest) -> bool:
        """Exporting and erasing a data subject's personal data: admins only (README, Roles),
        checked when the action runs, not only by hiding it."""
        return has_role(request.user, (Role.ADMIN,))

    @admin.action(
        permissions=["subject_rights"],
        description=gettext_lazy("Export all personal data (subject access, admins, audited)"),
    )
    def export_subject_data(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse:
        exports = [
            customer_subject_export(customer=customer, actor=request.user, via="admin")
            for customer in queryset.order_by("pk")
        ]
        payload = exports[0] if len(exports) == 1 else exports
        name = f"customer-{exports[0]['customer']['id']}" if len(exports) == 1 else "customers"
        response = HttpResponse(
            subject_export_json(payload), content_type="application/json; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="{name}-personal-data.json"'
        return response

    @admin.action(
        permissions=["subject_rights"],
        description=gettext_lazy("Erase personal data (anonymize, admins, audited)"),
    )
    def erase_personal_data(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        customers = list(queryset.order_by("pk"))
        expected = erasure_confirmation(customers)
        typed = request.POST.get("confirmation")
        if request.POST.get("post") != "yes" or (typed or "").strip() != expected:
            return self._confirm_erasure(request, customers, expected, typed)
        for customer in customers:
            customer_erase(customer=customer, actor=request.user, via="admin")
        self.message_user(
            request,
            ngettext(
                "%(count)d customer erased; the act is in the audit log.",
                "%(count)d customers erased; the acts are in the audit log.",
                len(customers),
            )
            % {"count": len(customers)},
            messages.SUCCESS,
        )
        return None

    def _confirm_erasure(
        self, request: HttpRequest, customers: list[Customer], expected: str, typed: str | None
    ) -> HttpResponse:
        if len(customers) == 1:
            prompt = _("To confirm, type the customer's external id (or number): %(text)s") % {
                "text": expected
            }
        else:
            prompt = _("To confirm, type how many customers will be erased: %(text)s") % {
                "text": expected
            }
        context = {
            **self.admin_site.each_context(request),
            "title": _("Erase these customers' personal data?"),
            "opts": self.model._meta,
            "question": _(
                "Names, contact points, notes and other free text, custom attributes, "
                "addresses, birthdays and external ids are erased for good; only anonymous "
                "figures (order amounts and dates, counts) stay. This cannot be undone."
            ),
            "lines": [f"#{customer.pk} {customer.name}" for customer in customers],
            "selected": [customer.pk for customer in customers],
            "prompt": prompt,
            "typed": typed or "",
            "error": _("The text you typed does not match; nothing was erased.")
            if typed is not None
            else "",
            "confirm_label": _("Erase for good"),
            "cancel_label": _("No, take me back"),
        }
        html = engines["django"].from_string(ERASE_CONFIRM_TEMPLATE).render(context, request)
        return HttpResponse(html)

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
        return queryset.filter(pk__in=_customer_search_ids(term)), False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.merged_into_id is not None:
            return False
        return super().has_change_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: Customer, form: Any, change: bool) -> None:
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
        return queryset.filter(kind__in=ContactKind.values, value__in=_contact_values(term)), False


# --- activity (read-only: written by the services that announce events) ---------------------


class ActivityAdmin(BigTableAdmin):
    raw_id_fields = ("customer",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=gettext_lazy("customer"), ordering="customer__name")
    def customer_link(self, obj: Any) -> str:
        return _customer_link(obj.customer)


@admin.register(Order)
class OrderAdmin(ActivityAdmin):
    list_display = (
        "external_id",
        "customer_link",
        "placed_at",
        "amount",
        "currency",
        "status",
        "category",
        "channel",
    )
    list_filter = ("status", "placed_at")
    search_fields = ("=external_id", "=customer__external_id")
    list_select_related = ("customer",)


@admin.register(Interaction)
class InteractionAdmin(ActivityAdmin):
    list_display = (
        "occurred_at",
        "customer_link",
        "channel",
        "direction",
        "agent",
        "duration_seconds",
        "sentiment",
        "reason",
    )
    list_filter = ("channel", "direction", "occurred_at")
    search_fields = ("=external_id", "=customer__external_id")
    list_select_related = ("customer", "agent")
    autocomplete_fields = ("agent",)


@admin.register(Ticket)
class TicketAdmin(ActivityAdmin):
    list_display = (
        "subject",
        "customer_link",
        "kind",
        "status",
        "priority",
        "assignee",
        "opened_at",
        "resolved_at",
    )
    list_filter = ("kind", "status", "priority", "opened_at")
    search_fields = ("=external_id", "=customer__external_id", "subject")
    list_select_related = ("customer", "assignee")
    autocomplete_fields = ("assignee",)


@admin.register(SurveyResponse)
class SurveyResponseAdmin(ActivityAdmin):
    list_display = ("responded_at", "customer_link", "kind", "score", "ticket")
    list_filter = ("kind", "score", "responded_at")
    search_fields = ("=external_id", "=customer__external_id")
    list_select_related = ("customer", "ticket")
    raw_id_fields = ("customer", "ticket")


# --- records (read-only) -------------------------------------------------------------------


@admin.register(ConsentChange)
class ConsentChangeAdmin(ReadOnlyAdmin):
    list_display = ("changed_at", "customer", "channel", "opted_out", "source", "changed_by")
    list_filter = ("channel", "opted_out", "source", "changed_at")
    search_fields = ("=customer__external_id",)
    list_select_related = ("customer", "changed_by")


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyAdmin):
    list_display = ("at", "action", "actor", "object_type", "object_id")
    list_filter = ("action", "object_type", "at")
    search_fields = ("=object_id", "=action")
    list_select_related = ("actor",)


@admin.register(CustomerMerge)
class CustomerMergeAdmin(ReadOnlyAdmin):
    list_display = ("merged_at", "survivor", "merged", "merged_by", "moved_summary", "proposal")
    list_filter = ("merged_at",)
    search_fields = ("=survivor__external_id", "=merged__external_id", "survivor__name")
    list_select_related = ("survivor", "merged", "merged_by", "proposal")

    @admin.display(description=gettext_lazy("moved rows"))
    def moved_summary(self, obj: CustomerMerge) -> str:
        return describe_moved(obj.moved)


@admin.register(ImportRun)
class ImportRunAdmin(ReadOnlyAdmin):
    list_display = (
        "started_at",
        "kind",
        "file_name",
        "status",
        "rows",
        "created",
        "updated",
        "seconds",
        "started_by",
    )
    list_filter = ("kind", "status", "started_at")
    search_fields = ("file_name",)
    list_select_related = ("started_by",)


# --- merge proposals -----------------------------------------------------------------------


def describe_moved(moved: dict[str, int]) -> str:
    """'3 orders, 2 contact points, ...' from a merge's per-table counts (non-zero only)."""
    parts = []
    for key, count in moved.items():
        if not count:
            continue
        label, _sep, note = key.partition(":")
        try:
            model = apps.get_model(".".join(label.split(".")[:2]))
            name = str(model._meta.verbose_name_plural)
        except (LookupError, ValueError):
            name = label
        if label.count(".") == 2:
            name = f"{name} ({label.rsplit('.', 1)[1]})"
        if note:
            name = f"{name} [{note.replace('_', ' ')}]"
        parts.append(f"{count} {name}")
    return ", ".join(parts) or _("nothing")


CONFIRM_TEMPLATE = """{% extends "admin/base_site.html" %}
{% block content %}
<p>{{ question }}</p>
<ul>{% for line in lines %}<li>{{ line }}</li>{% endfor %}</ul>
<form method="post">{% csrf_token %}
{% for pk in selected %}<input type="hidden" name="_selected_action" value="{{ pk }}">{% endfor %}
<input type="hidden" name="action" value="{{ action }}">
<input type="hidden" name="post" value="yes">
<input type="submit" value="{{ confirm_label }}">
<a href="" class="button cancel-link">{{ cancel_label }}</a>
</form>
{% endblock %}
"""


ERASE_CONFIRM_TEMPLATE = """{% extends "admin/base_site.html" %}
{% block content %}
<p>{{ question }}</p>
<ul>{% for line in lines %}<li>{{ line }}</li>{% endfor %}</ul>
<form method="post">{% csrf_token %}
{% for pk in selected %}<input type="hidden" name="_selected_action" value="{{ pk }}">{% endfor %}
<input type="hidden" name="action" value="erase_personal_data">
<input type="hidden" name="post" value="yes">
{% if error %}<p class="errornote">{{ error }}</p>{% endif %}
<p><label for="erase-confirmation">{{ prompt }}</label></p>
<p><input type="text" id="erase-confirmation" name="confirmation" value="{{ typed }}"
  autocomplete="off" required autofocus></p>
<input type="submit" value="{{ confirm_label }}">
<a href="" class="button cancel-link">{{ cancel_label }}</a>
</form>
{% endblock %}
"""


@admin.register(MergeProposal)
class MergeProposalAdmin(BigTableAdmin):
    list_display = (
        "id",
        "customer_a_link",
        "customer_b_link",
        "score",
        "reason_summary",
        "status",
        "decided_by",
        "created_at",
    )
    list_filter = ("status", "created_at")
    search_fields = (
        "customer_a__name",
        "customer_b__name",
        "=customer_a__external_id",
        "=customer_b__external_id",
    )
    list_select_related = ("customer_a", "customer_b", "decided_by")
    raw_id_fields = ("customer_a", "customer_b")
    readonly_fields = (
        "customer_a",
        "customer_b",
        "score",
        "reasons",
        "status",
        "decided_by",
        "decided_at",
        "created_at",
        "updated_at",
    )
    actions = ("merge_keep_a", "merge_keep_b", "dismiss")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_decide_permission(self, request: HttpRequest) -> bool:
        return self.has_change_permission(request) and has_role(request.user, MANAGER_ROLES)

    @admin.display(description=gettext_lazy("customer A"), ordering="customer_a_id")
    def customer_a_link(self, obj: MergeProposal) -> str:
        return _customer_link(obj.customer_a)

    @admin.display(description=gettext_lazy("customer B"), ordering="customer_b_id")
    def customer_b_link(self, obj: MergeProposal) -> str:
        return _customer_link(obj.customer_b)

    @admin.display(description=gettext_lazy("reasons"))
    def reason_summary(self, obj: MergeProposal) -> str:
        return "; ".join(f"{r.get('kind')}: {r.get('value')}" for r in obj.reasons or [])

    @admin.action(permissions=["decide"], description=gettext_lazy("Merge, keeping customer A"))
    def merge_keep_a(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return self._merge(request, queryset, keep="a")

    @admin.action(permissions=["decide"], description=gettext_lazy("Merge, keeping customer B"))
    def merge_keep_b(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return self._merge(request, queryset, keep="b")

    @admin.action(permissions=["decide"], description=gettext_lazy("Dismiss (not duplicates)"))
    def dismiss(self, request: HttpRequest, queryset: QuerySet) -> None:
        dismissed = 0
        for proposal in queryset.filter(status=MergeProposalStatus.OPEN):
            merge_proposal_dismiss(proposal=proposal, user=request.user)
            dismissed += 1
        self.message_user(
            request,
            ngettext(
                "%(count)d proposal dismissed; it will not be proposed again.",
                "%(count)d proposals dismissed; they will not be proposed again.",
                dismissed,
            )
            % {"count": dismissed},
            messages.SUCCESS,
        )

    def _merge(self, request: HttpRequest, queryset: QuerySet, *, keep: str) -> HttpResponse | None:
        proposals = list(
            queryset.filter(status=MergeProposalStatus.OPEN)
            .select_related("customer_a", "customer_b")
            .order_by("pk")
        )
        if not proposals:
            self.message_user(request, _("No open proposal was selected."), messages.WARNING)
            return None
        if request.POST.get("post") != "yes":
            return self._confirm(request, proposals, keep=keep)
        for proposal in proposals:
            # An earlier merge of this batch may have re-pointed or closed this proposal.
            proposal.refresh_from_db()
            if proposal.status != MergeProposalStatus.OPEN:
                continue
            survivor_id = proposal.customer_a_id if keep == "a" else proposal.customer_b_id
            try:
                record = merge_proposal_accept(
                    proposal=proposal, survivor_id=survivor_id, user=request.user
                )
            except ApplicationError as exc:
                self.message_user(
                    request,
                    _("Proposal %(id)s was not merged: %(error)s")
                    % {"id": proposal.pk, "error": exc.message},
                    messages.ERROR,
                )
                continue
            self.message_user(
                request,
                _(
                    "Merged customer #%(merged)s “%(merged_name)s” into #%(survivor)s "
                    "“%(survivor_name)s”: moved %(moved)s."
                )
                % {
                    "merged": record.merged_id,
                    "merged_name": record.merged.name,
                    "survivor": record.survivor_id,
                    "survivor_name": record.survivor.name,
                    "moved": describe_moved(record.moved),
                },
                messages.SUCCESS,
            )
        return None

    def _confirm(
        self, request: HttpRequest, proposals: list[MergeProposal], *, keep: str
    ) -> HttpResponse:
        lines = []
        for proposal in proposals:
            survivor, merged = (
                (proposal.customer_a, proposal.customer_b)
                if keep == "a"
                else (proposal.customer_b, proposal.customer_a)
            )
            lines.append(
                _(
                    "Keep #%(survivor)s “%(survivor_name)s” (%(survivor_ext)s) and fold "
                    "#%(merged)s “%(merged_name)s” (%(merged_ext)s) into it; score %(score).2f."
                )
                % {
                    "survivor": survivor.pk,
                    "survivor_name": survivor.name,
                    "survivor_ext": survivor.external_id or "-",
                    "merged": merged.pk,
                    "merged_name": merged.name,
                    "merged_ext": merged.external_id or "-",
                    "score": proposal.score,
                }
            )
        context = {
            **self.admin_site.each_context(request),
            "title": _("Merge customers?"),
            "opts": self.model._meta,
            "question": _(
                "Every order, interaction, ticket, survey, consent entry and contact point of "
                "the folded customer moves to the kept one. The folded customer stays as a "
                "merged record. Continue?"
            ),
            "lines": lines,
            "selected": [p.pk for p in proposals],
            "action": request.POST.get("action", f"merge_keep_{keep}"),
            "confirm_label": _("Yes, merge them"),
            "cancel_label": _("No, take me back"),
        }
        html = engines["django"].from_string(CONFIRM_TEMPLATE).render(context, request)
        return HttpResponse(html)
