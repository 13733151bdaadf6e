"""Who sees customers' contact details in full, and what everybody else sees instead.

One policy, decided here and applied wherever contact details leave the server: the API's
serializers, the screen-pop statement (inside PostgreSQL, with the same rules written as SQL),
the pages and the outreach tasks. Supervisors and admins see phone numbers, emails and ids in
full; agents see them masked and never the value as it was typed (`raw_value`). An agent who
must dial a number reveals it explicitly: one contact point, with a reason, audited and
rate-limited (`callcenter.services.customer_access.contact_point_reveal`).

The masks keep enough to tell numbers apart on a call (country code and last four digits, an
email's first letter and domain, an id's ends) and hide the rest. Each mask is idempotent:
masking a masked value gives the same text, so a page may mask what the statement masked.
"""

from django.contrib.auth.models import AnonymousUser, User

from callcenter.choices import ContactKind
from callcenter.phones import mask_phone
from callcenter.roles import MANAGER_ROLES, has_role

# Identifiers this short are hidden whole; longer ones keep two characters at each end.
IDENTIFIER_HIDDEN_WHOLE = 6
IDENTIFIER_KEPT = 2
EMAIL_HIDDEN = "***"


def contacts_visible_in_full(user: User | AnonymousUser) -> bool:
    """True when `user` may see contact details in full: supervisors and admins. Agents (and
    anyone else) see them masked."""
    return has_role(user, MANAGER_ROLES)


def mask_identifier(value: str) -> str:
    """A WeChat or external id with its middle hidden (short ones hidden whole)."""
    if len(value) <= IDENTIFIER_HIDDEN_WHOLE:
        return "*" * len(value)
    hidden = len(value) - 2 * IDENTIFIER_KEPT
    return value[:IDENTIFIER_KEPT] + "*" * hidden + value[-IDENTIFIER_KEPT:]


def mask_email(value: str) -> str:
    """An email's first letter and its domain: `w***@example.com`."""
    at = value.find("@")
    if at < 1:
        return mask_identifier(value)
    return value[0] + EMAIL_HIDDEN + value[at:]


def mask_contact(kind: str, value: str) -> str:
    """A contact point's value masked by its kind."""
    if not value:
        return value
    if kind == ContactKind.PHONE:
        return mask_phone(value)
    if kind == ContactKind.EMAIL:
        return mask_email(value)
    return mask_identifier(value)


def mask_address(value: str) -> str:
    """An address an outreach task was sent to, whatever its channel: an email when it has an
    `@`, a phone number when it is E.164, else an id."""
    if "@" in value:
        return mask_email(value)
    if value.startswith("+") and value[1:].isdigit():
        return mask_phone(value)
    return mask_identifier(value)


def contact_for(user: User | AnonymousUser, kind: str, value: str) -> str:
    """`value` as `user` may see it."""
    return value if contacts_visible_in_full(user) else mask_contact(kind, value)


# --- the same masks in SQL, for statements that build JSON in PostgreSQL ----------------------


def sql_mask_phone(value: str) -> str:
    """SQL of `mask_phone` for the text expression `value`."""
    hidden = f"greatest(length({value}) - 9, 3)"
    return (
        f"CASE WHEN length({value}) <= 7 THEN repeat('*', length({value})) "
        f"ELSE left({value}, length({value}) - {hidden} - 4) || repeat('*', {hidden}) "
        f"|| right({value}, 4) END"
    )


def sql_mask_identifier(value: str) -> str:
    """SQL of `mask_identifier` for the text expression `value`."""
    return (
        f"CASE WHEN length({value}) <= {IDENTIFIER_HIDDEN_WHOLE} "
        f"THEN repeat('*', length({value})) "
        f"ELSE left({value}, {IDENTIFIER_KEPT}) "
        f"|| repeat('*', length({value}) - {2 * IDENTIFIER_KEPT}) "
        f"|| right({value}, {IDENTIFIER_KEPT}) END"
    )


def sql_mask_email(value: str) -> str:
    """SQL of `mask_email` for the text expression `value`."""
    return (
        f"CASE WHEN strpos({value}, '@') > 1 THEN left({value}, 1) || '{EMAIL_HIDDEN}' "
        f"|| substr({value}, strpos({value}, '@')) ELSE {sql_mask_identifier(value)} END"
    )


def sql_mask_contact(kind: str, value: str) -> str:
    """SQL of `mask_contact` for the kind and value expressions of a contact point."""
    return (
        f"CASE WHEN {value} = '' THEN {value} "
        f"WHEN {kind} = '{ContactKind.PHONE.value}' THEN {sql_mask_phone(value)} "
        f"WHEN {kind} = '{ContactKind.EMAIL.value}' THEN {sql_mask_email(value)} "
        f"ELSE {sql_mask_identifier(value)} END"
    )


def sql_contact_for(full: str, kind: str, value: str) -> str:
    """SQL of `contact_for`: `value` in full when the boolean expression `full` (a bound
    parameter, so one statement serves every role) is true, else masked by `kind`."""
    return f"CASE WHEN {full} THEN {value} ELSE {sql_mask_contact(kind, value)} END"
