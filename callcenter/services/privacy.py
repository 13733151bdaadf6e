"""Data-subject rights: export everything we hold about a customer, and erase it.

Subject access (`customer_subject_export`) walks every relation that points at the customer,
found from the model metadata rather than listed by hand, so a model another app adds later is
exported without touching this module: the profile, contact points, orders, interactions,
tickets, surveys, consent history, merges, and the rows of the apps above (segment metrics and
memberships, care events and enrollments, outreach tasks and inbound messages). One query per
relation.

Erasure (`customer_erase`) anonymizes instead of deleting, so that counts, order amounts and
dates (and with them RFM scores and segment statistics) stay right: the name, contact points,
free text, custom attributes, address, birthday, gender and every external id go; what is left
cannot be linked back to the person. Customers merged into the erased one are erased with it. Every
statement is set-based, the whole erasure is one transaction, and running it again changes
nothing. `ERASURE_DECISIONS` names what happens to each relation of callcenter's models; the
apps above register theirs, with the statements that scrub their rows, in `subject_data_parts`
from their `AppConfig.ready()` (`<app>/parts/subject_data.py`), so this module never imports
them. A test fails when a model with a foreign key to Customer appears without a decision.

Both acts are written to the audit log. In the web they are admin-only Django admin actions;
erasure asks for the customer's external id to be typed first (`erasure_confirmation`), as
the `erase_customer` command does.
"""

import datetime as dt
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.db.models import Q, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone
from django.utils.translation import gettext as _

from callcenter.choices import CustomerKind
from callcenter.errors import ApplicationError
from callcenter.extensions import Registry
from callcenter.models import (
    AuditLog,
    ConsentChange,
    ContactPoint,
    Customer,
    CustomerMerge,
    Interaction,
    MergeProposal,
    Order,
    SurveyResponse,
    Ticket,
    TicketUpdate,
)
from callcenter.services.audit import audit_log_record

EXPORT_FORMAT = "callcenter-subject-access/1"
ERASED_NAME = "Erased customer"
ERASED_TEXT = "[erased]"
AUDIT_EXPORT = "customer.subject_export"
AUDIT_ERASE = "customer.erase"

# What erasure does to the rows of every relation of callcenter's models that points at a
# customer, keyed "app_label.model.field" (`relation_key`). "keep": nothing personal is in them
# (numbers, dates, choices); "scrub": free text, addresses and external ids are blanked (see
# _scrub_related); "delete": the rows only identify the person.
ERASURE_DECISIONS: dict[str, str] = {
    "callcenter.customer.merged_into": "scrub",
    # The contacts of an erased business account stay its contacts (the link holds no
    # personal data of the account).
    "callcenter.customer.account": "keep",
    "callcenter.contactpoint.customer": "delete",
    "callcenter.consentchange.customer": "scrub",
    "callcenter.order.customer": "scrub",
    "callcenter.interaction.customer": "scrub",
    "callcenter.ticket.customer": "scrub",
    "callcenter.surveyresponse.customer": "scrub",
    "callcenter.mergeproposal.customer_a": "delete",
    "callcenter.mergeproposal.customer_b": "delete",
    "callcenter.customermerge.survivor": "scrub",
    "callcenter.customermerge.merged": "scrub",
}
ERASURE_ACTIONS = frozenset({"keep", "scrub", "delete"})

# Erases an app's rows of the customers with these ids at this moment; returns how many rows
# each statement changed, by a name for the audit log (0 when they were already erased).
SubjectErase = Callable[[list[int], dt.datetime], dict[str, int]]


@dataclass(frozen=True)
class SubjectData:
    """What an app above callcenter holds about customers: the erasure decision for each of its
    relations to Customer (as in `ERASURE_DECISIONS`) and, when any is not "keep", the
    statements that carry them out, one per relation and set-based, rerun-safe like
    `erase_update`. Export needs nothing: it follows the model metadata."""

    decisions: Mapping[str, str]
    erase: SubjectErase | None = None

    def __post_init__(self) -> None:
        unknown = set(self.decisions.values()) - ERASURE_ACTIONS
        if unknown:
            raise ValueError(f"subject data: unknown erasure decisions {sorted(unknown)}")
        if self.erase is None and set(self.decisions.values()) != {"keep"}:
            raise ValueError("subject data: rows to scrub or delete need an erase function")


# Filled by the apps above in their AppConfig.ready(); run in order after callcenter's own rows.
subject_data_parts: Registry[SubjectData] = Registry("subject data")


def erasure_decisions() -> dict[str, str]:
    """What erasure does to every relation to Customer: callcenter's and the registered apps'."""
    decisions = dict(ERASURE_DECISIONS)
    for part in subject_data_parts:
        decisions.update(part.decisions)
    return decisions


def customer_relations() -> list[models.ForeignKey | models.OneToOneField]:
    """Every concrete foreign key (or one-to-one) of any model that points at Customer."""
    return [
        relation.field
        for relation in Customer._meta.get_fields(include_hidden=True)
        if isinstance(relation, models.ManyToOneRel)
        and relation.auto_created
        and not relation.concrete
    ]


def relation_key(field: models.Field) -> str:
    return f"{field.model._meta.label_lower}.{field.name}"


def customer_find(identifier: str | int) -> Customer:
    """The customer with this id or external id (ApplicationError when there is none)."""
    text = str(identifier).strip()
    query = Q(external_id=text)
    if text.isdigit():
        query |= Q(pk=int(text))
    customer = Customer.objects.filter(query).order_by("pk").first()
    if customer is None:
        raise ApplicationError(_("No customer with id or external id “%(id)s”.") % {"id": text})
    return customer


def erasure_confirmation(customers: list[Customer]) -> str:
    """What a person must type to confirm erasing `customers`: the customer's external id (or
    its number, without one), or for several customers how many they are."""
    if len(customers) == 1:
        return customers[0].external_id or str(customers[0].pk)
    return str(len(customers))


def _rows(queryset: models.QuerySet) -> list[dict[str, Any]]:
    return list(queryset.order_by("pk").values())


def customer_subject_export(
    *, customer: Customer, actor: User | None = None, via: str = "command"
) -> dict[str, Any]:
    """Everything we hold about `customer`, as JSON-ready data; audited."""
    related: dict[str, list[dict[str, Any]]] = {}
    for field in customer_relations():
        rows = _rows(field.model._default_manager.filter(**{field.name: customer.pk}))
        related[relation_key(field)] = rows
    export = {
        "format": EXPORT_FORMAT,
        "generated_at": timezone.now(),
        "customer": Customer.objects.filter(pk=customer.pk).values().get(),
        "related": related,
        "audit_log": _rows(
            AuditLog.objects.filter(object_type="customer", object_id=str(customer.pk))
        ),
    }
    with transaction.atomic():
        audit_log_record(
            actor=actor,
            action=AUDIT_EXPORT,
            object_type="customer",
            object_id=customer.pk,
            data={"via": via, "rows": {key: len(rows) for key, rows in related.items() if rows}},
        )
    return export


def subject_export_json(export: dict[str, Any] | list[dict[str, Any]]) -> str:
    """The export (or several, as a list) as indented JSON text (dates ISO 8601, amounts as
    strings)."""
    return json.dumps(export, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2)


@dataclass(frozen=True)
class ErasureResult:
    customer_ids: list[int]
    changed: dict[str, int]


def _with_absorbed(customer_id: int) -> list[int]:
    """The customer and every customer merged into it, directly or through others."""
    ids, frontier = {customer_id}, {customer_id}
    while frontier:
        frontier = (
            set(Customer.objects.filter(merged_into__in=frontier).values_list("pk", flat=True))
            - ids
        )
        ids |= frontier
    return sorted(ids)


def customer_erase(
    *, customer: Customer, actor: User | None = None, via: str = "command"
) -> ErasureResult:
    """Anonymize `customer` (and the customers merged into it) in one transaction; audited.
    Idempotent: a second run finds nothing left to change."""
    with transaction.atomic():
        Customer.objects.select_for_update().filter(pk=customer.pk).get()
        ids = _with_absorbed(customer.pk)
        now = timezone.now()
        changed = _erase_customers(ids, now)
        changed.update(_scrub_related(ids, now))
        for part in subject_data_parts:
            if part.erase is not None:
                changed.update(part.erase(ids, now))
        changed = {key: count for key, count in changed.items() if count}
        audit_log_record(
            actor=actor,
            action=AUDIT_ERASE,
            object_type="customer",
            object_id=customer.pk,
            data={"via": via, "customers": ids, "changed": changed},
        )
    return ErasureResult(customer_ids=ids, changed=changed)


def customer_erased_at(customer: Customer) -> dt.datetime | None:
    """When the customer was last erased (from the audit log), or None."""
    return (
        AuditLog.objects.filter(
            action=AUDIT_ERASE, object_type="customer", object_id=str(customer.pk)
        )
        .order_by("-at")
        .values_list("at", flat=True)
        .first()
    )


def erase_update(queryset: models.QuerySet, unless: Q, **values: Any) -> int:
    """UPDATE the rows not already in the erased state `unless` (so a rerun reports nothing)."""
    return queryset.exclude(unless).update(**values)


def _erase_customers(ids: list[int], now: dt.datetime) -> dict[str, int]:
    customers = Customer.objects.filter(pk__in=ids)
    erased = Q(
        name=ERASED_NAME,
        external_id__isnull=True,
        industry="",
        employee_count__isnull=True,
        birthday__isnull=True,
        gender="",
        city="",
        region="",
        attributes={},
        advisor__isnull=True,
        do_not_contact=True,
        sms_opt_out=True,
        call_opt_out=True,
        email_opt_out=True,
        wechat_opt_out=True,
        wecom_opt_out=True,
    ) & (Q(company_name="") | Q(kind=CustomerKind.BUSINESS, company_name=ERASED_TEXT))
    profile: dict[str, Any] = {
        "name": ERASED_NAME,
        "external_id": None,
        "industry": "",
        "employee_count": None,
        "birthday": None,
        "gender": "",
        "city": "",
        "region": "",
        "attributes": {},
        "advisor": None,
        # Nobody may contact an erased customer: there is nobody left to contact.
        "do_not_contact": True,
        "sms_opt_out": True,
        "call_opt_out": True,
        "email_opt_out": True,
        "wechat_opt_out": True,
        "wecom_opt_out": True,
        "updated_at": now,
    }
    count = erase_update(
        customers.filter(kind=CustomerKind.BUSINESS), erased, company_name=ERASED_TEXT, **profile
    )
    count += erase_update(
        customers.exclude(kind=CustomerKind.BUSINESS), erased, company_name="", **profile
    )
    return {"customers": count}


def _scrub_related(ids: list[int], now: dt.datetime) -> dict[str, int]:
    """Erase the rows of callcenter's relations to these customers."""
    erased_id = Concat(Value("erased-"), Cast("pk", models.CharField()))
    return {
        "contact_points": ContactPoint.objects.filter(customer_id__in=ids).delete()[0],
        "merge_proposals": MergeProposal.objects.filter(
            Q(customer_a_id__in=ids) | Q(customer_b_id__in=ids)
        ).delete()[0],
        "consent_changes": erase_update(
            ConsentChange.objects.filter(customer_id__in=ids), Q(note=""), note=""
        ),
        # Amounts, dates, categories and statuses stay: they are the aggregates. The order's
        # id in the shop system would link back to the person.
        "orders": erase_update(
            Order.objects.filter(customer_id__in=ids),
            Q(external_id__startswith="erased-"),
            external_id=erased_id,
        ),
        "interactions": erase_update(
            Interaction.objects.filter(customer_id__in=ids),
            Q(external_id__isnull=True, reason="", notes="", outcome=""),
            external_id=None,
            reason="",
            notes="",
            outcome="",
            updated_at=now,
        ),
        "tickets": erase_update(
            Ticket.objects.filter(customer_id__in=ids),
            Q(external_id__isnull=True, subject=ERASED_TEXT, description=""),
            external_id=None,
            subject=ERASED_TEXT,
            description="",
            updated_at=now,
        ),
        # What was said to and by the customer in the tickets' history.
        "ticket_updates": erase_update(
            TicketUpdate.objects.filter(ticket__customer_id__in=ids), Q(text=""), text=""
        ),
        "survey_responses": erase_update(
            SurveyResponse.objects.filter(customer_id__in=ids),
            Q(external_id__isnull=True, comment=""),
            external_id=None,
            comment="",
            updated_at=now,
        ),
        "merges": erase_update(
            CustomerMerge.objects.filter(Q(survivor_id__in=ids) | Q(merged_id__in=ids)),
            Q(snapshot={}),
            snapshot={},
        ),
    }
