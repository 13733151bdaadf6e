"""JSON from clients (API bodies, JSON form fields), decoded with the limits the database and
the decoder need.

PostgreSQL refuses NUL characters in text and jsonb, Python's decoder recurses once per nesting
level, and a number such as `1e999` decodes to infinity, which jsonb cannot hold. Each of these
would fail only when the value reaches the database or the decoder's recursion limit, as a
server error. `json_loads_checked` refuses them up front with a message that says which limit
the input broke; the API's parser (`callcenter.parsers`), the JSON fields of the pages' forms
and of the admin (`CheckedJSONFormField`) use it.
"""

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.forms.fields import InvalidJSONInput
from django.utils.translation import gettext as _

# Deepest nesting of arrays and objects accepted. The deepest legitimate documents are rule
# trees (six levels of groups, two JSON levels each, inside a rule definition) at about 16.
MAX_JSON_DEPTH = 32


class JSONInputError(ValueError):
    """Client JSON that is well-formed or not, but that nothing may store or decode."""


def _not_finite(text: str) -> JSONInputError:
    return JSONInputError(
        _("JSON numbers must be finite: %(number)s is not allowed.") % {"number": text[:40]}
    )


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise _not_finite(text)
    return number


def _refuse_constant(name: str) -> None:
    raise _not_finite(name)


def json_value_check(value: Any) -> None:
    """Raise JSONInputError when a decoded document nests deeper than MAX_JSON_DEPTH or holds
    a NUL character in a string or an object key."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise JSONInputError(
                    _("JSON may be nested at most %(max)d levels deep.") % {"max": MAX_JSON_DEPTH}
                )
            children: Iterable[Any]
            if isinstance(item, dict):
                if any("\x00" in key for key in item):
                    raise JSONInputError(_("JSON keys must not contain NUL (\\u0000) characters."))
                children = item.values()
            else:
                children = item
            stack.extend((child, depth + 1) for child in children)
        elif isinstance(item, str) and "\x00" in item:
            raise JSONInputError(_("JSON strings must not contain NUL (\\u0000) characters."))


def json_loads_checked(text: str | bytes) -> Any:
    """Decode client JSON; raise JSONInputError (a ValueError) when it is not valid JSON or
    breaks one of the limits above."""
    try:
        value = json.loads(text, parse_float=_finite_float, parse_constant=_refuse_constant)
    except RecursionError as exc:
        raise JSONInputError(
            _("JSON may be nested at most %(max)d levels deep.") % {"max": MAX_JSON_DEPTH}
        ) from exc
    except JSONInputError:
        raise
    except ValueError as exc:
        raise JSONInputError(_("Not valid JSON: %(error)s") % {"error": exc}) from exc
    json_value_check(value)
    return value


class CheckedJSONFormField(forms.JSONField):
    """A JSON form field that refuses what `json_loads_checked` refuses, as a form error."""

    def to_python(self, value: Any) -> Any:
        if not self.disabled and isinstance(value, str) and value not in self.empty_values:
            try:
                json_loads_checked(value)
            except JSONInputError as exc:
                raise ValidationError(str(exc), code="invalid") from exc
        return super().to_python(value)

    def bound_data(self, data: Any, initial: Any) -> Any:
        """Redisplay refused input as typed (Django's own decoder would recurse too deep)."""
        if self.disabled or not isinstance(data, str):
            return super().bound_data(data, initial)
        try:
            json_loads_checked(data)
        except JSONInputError:
            return InvalidJSONInput(data)
        return super().bound_data(data, initial)


# `formfield_overrides` of admin classes that edit JSON fields.
CHECKED_JSON_FORMFIELDS: Mapping[type[models.Field], Mapping[str, Any]] = {
    models.JSONField: {"form_class": CheckedJSONFormField}
}
