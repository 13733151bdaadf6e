"""Creating and changing customers, their contact points and their consent."""

import zoneinfo
from datetime import date
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

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
from callcenter.errors import ApplicationError
from callcenter.events import CONSENT_CHANGED, CUSTOMER_CREATED, DomainEvent, emit_events
from callcenter.limits import attributes_problems
from callcenter.models import ConsentChange, ContactPoint, Customer
from callcenter.phones import InvalidPhoneNumber, normalize_email, normalize_phone
from callcenter.services.audit import audit_log_record
from callcenter.services.external_ids import external_id_unique

# The consent flag on Customer that each consent channel switches.
CONSENT_FIELDS = {
    ConsentChannel.SMS: "sms_opt_out",
    ConsentChannel.CALL: "call_opt_out",
    ConsentChannel.EMAIL: "email_opt_out",
    ConsentChannel.ALL: "do_not_contact",
    ConsentChannel.WECHAT: "wechat_opt_out",
    ConsentChannel.WECOM: "wecom_opt_out",
}

# Fields a profile edit may change (consent has its own service so it is always recorded).
EDITABLE_FIELDS = frozenset(
    {
        "external_id",
        "kind",
        "name",
        "company_name",
        "industry",
        "employee_count",
        "birthday",
        "gender",
        "city",
        "region",
        "timezone",
        "language",
        "advisor",
        "attributes",
    }
)


def normalize_contact_value(kind: str, raw: str) -> str:
    """Normalize a contact value of `kind`, raising ApplicationError when it is not valid."""
    text = (raw or "").strip()
    if kind == ContactKind.PHONE:
        try:
            return normalize_phone(text)
        except InvalidPhoneNumber as exc:
            raise ApplicationError(_("Invalid phone number: %(value)s") % {"value": raw}) from exc
    if kind == ContactKind.EMAIL:
        value = normalize_email(text)
        try:
            validate_email(value)
        except ValidationError as exc:
            raise ApplicationError(_("Invalid email address: %(value)s") % {"value": raw}) from exc
        return value
    if kind in (ContactKind.WECHAT, ContactKind.WECOM, ContactKind.EXTERNAL):
        if not text:
            raise ApplicationError(_("The value must not be empty."))
        return text
    raise ApplicationError(_("Unknown contact kind: %(kind)s") % {"kind": kind})


def validate_timezone(name: str) -> str:
    """Return `name` if it is an IANA time zone, else raise ApplicationError."""
    try:
        zoneinfo.ZoneInfo(name)
    # OSError: zoneinfo looks the name up as a file (a very long name is "too long").
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ApplicationError(_("Unknown time zone: %(tz)s") % {"tz": name}) from exc
    return name


def _require_active(customer: Customer) -> None:
    if customer.status != CustomerStatus.ACTIVE:
        raise ApplicationError(
            _("Customer %(id)s was merged into %(target)s; change the survivor instead.")
            % {"id": customer.pk, "target": customer.merged_into_id}
        )


# The largest employee count a profile takes (the largest employers have a few million).
MAX_EMPLOYEE_COUNT = 10_000_000


def _validate_profile(values: dict[str, Any]) -> None:
    if "timezone" in values and values["timezone"]:
        validate_timezone(values["timezone"])
    if "language" in values and values["language"] not in Language.values:
        raise ApplicationError(_("Unknown language: %(lang)s") % {"lang": values["language"]})
    if values.get("gender") and values["gender"] not in Gender.values:
        raise ApplicationError(
            _("Unknown gender: %(gender)s") % {"gender": values["gender"]},
            extra={"field": "gender"},
        )
    if "kind" in values and values["kind"] not in CustomerKind.values:
        raise ApplicationError(_("Unknown customer kind: %(kind)s") % {"kind": values["kind"]})
    employee_count = values.get("employee_count")
    if employee_count is not None and not 0 <= employee_count <= MAX_EMPLOYEE_COUNT:
        raise ApplicationError(
            _("The employee count must be from 0 to %(max)d.") % {"max": MAX_EMPLOYEE_COUNT},
            extra={"field": "employee_count"},
        )
    birthday = values.get("birthday")
    if isinstance(birthday, date) and birthday > timezone.localdate():
        raise ApplicationError(_("The birthday is in the future."))
    kind = values.get("kind")
    if kind == CustomerKind.BUSINESS and not values.get("company_name"):
        raise ApplicationError(_("A business customer needs a company name."))
    attribute_problems = attributes_problems(values.get("attributes") or {})
    if attribute_problems:
        raise ApplicationError("; ".join(attribute_problems))


@transaction.atomic
def contact_point_add(
    *,
    customer: Customer,
    kind: str,
    value: str,
    system: str = "",
    label: str = "",
    is_primary: bool = False,
) -> ContactPoint:
    """Attach a contact point; refuses one that already belongs to another active customer."""
    _require_active(customer)
    normalized = normalize_contact_value(kind, value)
    existing = ContactPoint.objects.filter(
        kind=kind, system=system, value=normalized, is_active=True
    ).first()
    if existing is not None:
        if existing.customer_id == customer.pk:
            return existing
        if kind != ContactKind.EMAIL:
            raise ApplicationError(
                _("%(value)s already belongs to customer %(customer)s.")
                % {"value": normalized, "customer": existing.customer_id},
                extra={"conflict_customer_id": existing.customer_id},
            )
    if is_primary:
        ContactPoint.objects.filter(customer=customer, kind=kind, is_primary=True).update(
            is_primary=False
        )
    elif not ContactPoint.objects.filter(customer=customer, kind=kind, is_active=True).exists():
        is_primary = True
    try:
        with transaction.atomic():
            point, _created = ContactPoint.objects.update_or_create(
                customer=customer,
                kind=kind,
                system=system,
                value=normalized,
                defaults={
                    "raw_value": value.strip(),
                    "label": label,
                    "is_primary": is_primary,
                    "is_active": True,
                },
            )
    except IntegrityError as exc:
        raise ApplicationError(
            _("%(value)s already belongs to another customer.") % {"value": normalized}
        ) from exc
    return point


@transaction.atomic
def contact_point_deactivate(*, point: ContactPoint) -> ContactPoint:
    """Keep a contact point for history but stop matching it (e.g. a number given up)."""
    point.is_active = False
    point.is_primary = False
    point.save(update_fields=["is_active", "is_primary", "updated_at"])
    return point


@transaction.atomic
def customer_create(
    *,
    name: str,
    kind: str = CustomerKind.PERSON,
    phones: list[str] | None = None,
    emails: list[str] | None = None,
    wechat_ids: list[str] | None = None,
    created_by: User | None = None,
    **fields: Any,
) -> Customer:
    """Create a customer with its contact points; every value is validated first."""
    unknown = set(fields) - EDITABLE_FIELDS
    if unknown:
        raise ApplicationError(
            _("Unknown fields: %(fields)s") % {"fields": ", ".join(sorted(unknown))}
        )
    if not (name or "").strip():
        raise ApplicationError(_("The name must not be empty."))
    values = {"kind": kind, **fields}
    _validate_profile(values)
    if not values.get("external_id"):
        values["external_id"] = None
    with external_id_unique(model=Customer, external_id=values["external_id"]):
        customer = Customer.objects.create(name=name.strip(), **values)
    for kind_, raws in (
        (ContactKind.PHONE, phones),
        (ContactKind.EMAIL, emails),
        (ContactKind.WECHAT, wechat_ids),
    ):
        for index, raw in enumerate(raws or []):
            contact_point_add(customer=customer, kind=kind_, value=raw, is_primary=index == 0)
    emit_events([DomainEvent(type=CUSTOMER_CREATED, customer_id=customer.pk)])
    if created_by is not None:
        audit_log_record(
            actor=created_by,
            action="customer.create",
            object_type="customer",
            object_id=customer.pk,
        )
    return customer


def _check_kind_keeps_account_links(customer: Customer, kind: str) -> None:
    """Refuse a change of kind that would break an account link: a contact must stay a
    person, an account with contacts must stay a business."""
    if kind == customer.kind:
        return
    if customer.account_id is not None and kind != CustomerKind.PERSON:
        raise ApplicationError(
            _("This customer is a contact of a business account; take it off the account first."),
            extra={"field": "kind"},
        )
    if (
        kind != CustomerKind.BUSINESS
        and customer.contacts.filter(status=CustomerStatus.ACTIVE).exists()
    ):
        raise ApplicationError(
            _("This business account has contacts; remove them first."), extra={"field": "kind"}
        )


@transaction.atomic
def customer_update(
    *, customer: Customer, updated_by: User | None = None, **fields: Any
) -> Customer:
    """Change profile fields of an active customer."""
    _require_active(customer)
    unknown = set(fields) - EDITABLE_FIELDS
    if unknown:
        raise ApplicationError(
            _("Unknown fields: %(fields)s") % {"fields": ", ".join(sorted(unknown))}
        )
    merged_view = {
        "kind": customer.kind,
        "company_name": customer.company_name,
        **fields,
    }
    _validate_profile(merged_view)
    _check_kind_keeps_account_links(customer, fields.get("kind", customer.kind))
    if "name" in fields and not (fields["name"] or "").strip():
        raise ApplicationError(_("The name must not be empty."))
    for key, value in fields.items():
        setattr(customer, key, value)
    if "external_id" in fields and not fields["external_id"]:
        customer.external_id = None
    with external_id_unique(
        model=Customer, external_id=customer.external_id, exclude_pk=customer.pk
    ):
        customer.save()
    if updated_by is not None:
        audit_log_record(
            actor=updated_by,
            action="customer.update",
            object_type="customer",
            object_id=customer.pk,
            data={"fields": sorted(fields)},
        )
    return customer


@transaction.atomic
def customer_consent_set(
    *,
    customer: Customer,
    channel: str,
    opted_out: bool,
    source: str,
    changed_by: User | None = None,
    note: str = "",
) -> bool:
    """Set one opt-out flag, recording when, how and by whom. Returns False if unchanged."""
    if channel not in CONSENT_FIELDS:
        raise ApplicationError(_("Unknown consent channel: %(channel)s") % {"channel": channel})
    if source not in ConsentSource.values:
        raise ApplicationError(_("Unknown consent source: %(source)s") % {"source": source})
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    _require_active(customer)
    field = CONSENT_FIELDS[ConsentChannel(channel)]
    if getattr(customer, field) == opted_out:
        return False
    now = timezone.now()
    setattr(customer, field, opted_out)
    customer.consent_updated_at = now
    customer.consent_source = source
    customer.save(update_fields=[field, "consent_updated_at", "consent_source", "updated_at"])
    ConsentChange.objects.create(
        customer=customer,
        channel=channel,
        opted_out=opted_out,
        source=source,
        changed_by=changed_by if changed_by is not None and changed_by.is_authenticated else None,
        changed_at=now,
        note=note,
    )
    audit_log_record(
        actor=changed_by,
        action="consent.change",
        object_type="customer",
        object_id=customer.pk,
        data={"channel": channel, "opted_out": opted_out, "source": source},
    )
    emit_events(
        [
            DomainEvent(
                type=CONSENT_CHANGED,
                customer_id=customer.pk,
                payload={"channel": channel, "opted_out": opted_out, "source": source},
            )
        ]
    )
    return True


@transaction.atomic
def customer_account_set(
    *,
    customer: Customer,
    account: Customer | None,
    role: str = "",
    changed_by: User | None = None,
) -> Customer:
    """Make `customer` a contact of the business `account` with `role`, or (account None) no
    longer a contact of any; audited. Only an active person can be a contact, only of an active
    business customer other than itself. Both are locked (in id order) so a concurrent merge
    cannot leave a contact pointing at a tombstone."""
    given = customer
    ids = sorted({customer.pk, account.pk} if account is not None else {customer.pk})
    locked = {
        c.pk: c for c in Customer.objects.select_for_update().filter(pk__in=ids).order_by("pk")
    }
    customer = locked[customer.pk]
    _require_active(customer)
    previous = (customer.account_id, customer.account_role)
    if account is None:
        if role:
            raise ApplicationError(
                _("A role needs a business account."), extra={"field": "account_role"}
            )
        customer.account = None
        customer.account_role = ""
    else:
        if account.pk not in locked:
            raise ApplicationError(_("The business account does not exist."))
        account = locked[account.pk]
        if account.pk == customer.pk:
            raise ApplicationError(
                _("A customer cannot be a contact of itself."), extra={"field": "account"}
            )
        if customer.kind != CustomerKind.PERSON:
            raise ApplicationError(
                _("Only a person can be a contact of a business account."),
                extra={"field": "account"},
            )
        if account.kind != CustomerKind.BUSINESS:
            raise ApplicationError(
                _("Customer %(id)s is not a business account.") % {"id": account.pk},
                extra={"field": "account"},
            )
        if account.status != CustomerStatus.ACTIVE:
            raise ApplicationError(
                _("Customer %(id)s was merged into %(target)s; use the survivor instead.")
                % {"id": account.pk, "target": account.merged_into_id},
                extra={"field": "account"},
            )
        role = role or AccountRole.OTHER
        if role not in AccountRole.values:
            raise ApplicationError(
                _("Unknown role in the account: %(role)s") % {"role": role},
                extra={"field": "account_role"},
            )
        customer.account = account
        customer.account_role = role
    # The caller's instance too, so a later save of it does not undo the link.
    given.account_id, given.account_role = customer.account_id, customer.account_role
    if (customer.account_id, customer.account_role) == previous:
        return customer
    customer.save(update_fields=["account", "account_role", "updated_at"])
    audit_log_record(
        actor=changed_by,
        action="customer.account",
        object_type="customer",
        object_id=customer.pk,
        data={
            "account_id": customer.account_id,
            "account_role": customer.account_role,
            "previous_account_id": previous[0],
            "previous_account_role": previous[1],
        },
    )
    return customer
