"""Finding customers: by name, phone in any format, external id or email."""

from django.db.models import Q, QuerySet

from callcenter.choices import ContactKind, CustomerStatus
from callcenter.models import ContactPoint, Customer
from callcenter.phones import normalize_email, try_normalize_phone


def customer_search(query: str) -> QuerySet[Customer]:
    """Active customers matching `query`.

    A query that reads as a phone number (any format) matches the normalized number exactly; an
    email matches exactly; otherwise it matches the external id or any contact id exactly, or
    the name by substring (served by the trigram index on name).
    """
    text = (query or "").strip()
    customers = Customer.objects.filter(status=CustomerStatus.ACTIVE)
    if not text:
        return customers.none()
    phone = try_normalize_phone(text) if any(ch.isdigit() for ch in text) else None
    if phone:
        owner_ids = ContactPoint.objects.filter(
            kind=ContactKind.PHONE, value=phone, is_active=True
        ).values("customer_id")
        return customers.filter(Q(pk__in=owner_ids) | Q(external_id=text))
    if "@" in text:
        owner_ids = ContactPoint.objects.filter(
            kind=ContactKind.EMAIL, value=normalize_email(text), is_active=True
        ).values("customer_id")
        return customers.filter(pk__in=owner_ids)
    contact_ids = ContactPoint.objects.filter(
        kind__in=(ContactKind.WECHAT, ContactKind.WECOM, ContactKind.EXTERNAL),
        value=text,
        is_active=True,
    ).values("customer_id")
    return customers.filter(
        Q(external_id=text)
        | Q(pk__in=contact_ids)
        | Q(name__icontains=text)
        | Q(company_name__icontains=text)
    )
