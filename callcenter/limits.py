"""Size limits of free text and of customers' custom attributes, shared by the CSV import, the
API and the forms, so one customer or one ticket cannot grow without bound whichever way it is
written.

Free text (ticket descriptions, interaction notes, survey comments) has no column limit in the
database; FREE_TEXT_MAX_LENGTH keeps it to what a person writes. Custom attributes are limited
by settings (CUSTOMER_ATTRIBUTES_MAX_KEYS, CUSTOMER_ATTRIBUTE_KEY_MAX_LENGTH,
CUSTOMER_ATTRIBUTE_VALUE_MAX_LENGTH): every customer read carries its attributes, so their
number and size set what a page of customers weighs.
"""

import json
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

# Characters of a ticket description, an interaction's notes or a survey comment: several
# pages of text, far beyond a call note, well below what would weigh on a customer's page.
FREE_TEXT_MAX_LENGTH = 10_000


@dataclass(frozen=True)
class AttributeLimits:
    """How many custom attributes a customer may have, and how long their names and values
    may be (a value that is not text counts by the length of its JSON)."""

    max_keys: int
    key_max_length: int
    value_max_length: int


def attribute_limits() -> AttributeLimits:
    """The limits configured in settings."""
    return AttributeLimits(
        max_keys=settings.CUSTOMER_ATTRIBUTES_MAX_KEYS,
        key_max_length=settings.CUSTOMER_ATTRIBUTE_KEY_MAX_LENGTH,
        value_max_length=settings.CUSTOMER_ATTRIBUTE_VALUE_MAX_LENGTH,
    )


def too_many_attributes_message(count: int, limits: AttributeLimits) -> str:
    return _("%(count)s custom attributes; a customer may have at most %(max)s") % {
        "count": count,
        "max": limits.max_keys,
    }


def attribute_key_message(key: str, limits: AttributeLimits) -> str:
    return _('attribute name "%(key)s…" is longer than %(max)s characters') % {
        "key": key[:40],
        "max": limits.key_max_length,
    }


def attribute_value_message(key: str, limits: AttributeLimits) -> str:
    return _('the value of attribute "%(key)s" is longer than %(max)s characters') % {
        "key": key[: limits.key_max_length],
        "max": limits.value_max_length,
    }


def attributes_problems(values: dict[str, Any]) -> list[str]:
    """What makes `values` (a customer's whole attributes) exceed the limits; empty if none."""
    limits = attribute_limits()
    if len(values) > limits.max_keys:
        return [too_many_attributes_message(len(values), limits)]
    problems = []
    for key, value in values.items():
        if len(key) > limits.key_max_length:
            problems.append(attribute_key_message(key, limits))
            continue
        size = len(value) if isinstance(value, str) else len(json.dumps(value, default=str))
        if size > limits.value_max_length:
            problems.append(attribute_value_message(key, limits))
    return problems
