"""The customer search of the admin: a name, an external id or a contact value in any format."""

from typing import Any

from django.db.models import F, Lookup, QuerySet

from callcenter.choices import ContactKind
from callcenter.models import (
    ContactPoint,
    Customer,
)
from callcenter.phones import normalize_email, try_normalize_phone


def contact_values(term: str) -> set[str]:
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

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, tuple[str | int, ...]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} ILIKE {rhs}", (*lhs_params, *rhs_params)


def contains_pattern(term: str) -> str:
    """An ILIKE pattern matching `term` anywhere, its wildcards escaped."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def customer_search_ids(term: str) -> QuerySet:
    """Ids of customers whose external id or any contact value equals `term` (in any format)
    or whose name contains it: a union of three indexed lookups, where one OR over them would
    scan the whole customer table."""
    by_contact = ContactPoint.objects.filter(
        kind__in=ContactKind.values, value__in=contact_values(term)
    )
    by_external_id = Customer.objects.filter(external_id=term)
    by_name = Customer.objects.filter(ILike(F("name"), contains_pattern(term)))
    return (
        by_contact.order_by()
        .values_list("customer_id", flat=True)
        .union(
            by_external_id.order_by().values_list("pk", flat=True),
            by_name.order_by().values_list("pk", flat=True),
        )
    )
