"""The only tags and filters message templates may use (the builtins of care's own engine).

Django's default tags and filters are not loaded: no `{% load %}`, `{% include %}`,
`{% autoescape off %}`, `|safe` or `|escapejs`, nothing that reads files, settings or marks text
as safe. `if` is allowed so a text can leave out a missing ticket or order.

Filters that take a number take it written in the text, within bounds
(`filter_argument_error`): `floatformat:99999999` failed every send of its template and
`floatformat:999999` rendered a text of a megabyte.
"""

import re
from collections.abc import Callable
from typing import Any

from django.template import Library, Variable, defaultfilters, defaulttags
from django.utils.translation import gettext as _

register = Library()

register.tag("if", defaulttags.do_if)

SAFE_FILTERS = (
    "default",
    "upper",
    "lower",
    "title",
    "capfirst",
    "truncatechars",
    "floatformat",
)
for _name in SAFE_FILTERS:
    register.filter(_name, getattr(defaultfilters, _name))

# Decimal places `floatformat` may be asked for (negative: only when the number has decimals).
MAX_FLOATFORMAT_PLACES = 10
# Characters `truncatechars` may keep: a message body is at most 5,000 characters.
MAX_TRUNCATECHARS = 5000

# floatformat's argument written as text: places, then `g` (grouping) and/or `u` (unlocalized).
_FLOATFORMAT_TEXT = re.compile(r"(-?\d+)?(?:g|u|gu|ug)")


def _whole_number(argument: Any) -> int | None:
    if isinstance(argument, bool):
        return None
    if isinstance(argument, int):
        return argument
    if isinstance(argument, str) and re.fullmatch(r"-?\d{1,9}", argument):
        return int(argument)
    return None


def _floatformat_error(argument: Any) -> str | None:
    places = _whole_number(argument)
    if places is None and isinstance(argument, str):
        match = _FLOATFORMAT_TEXT.fullmatch(argument)
        if match is not None:
            places = _whole_number(match.group(1) or "-1")
    if places is not None and abs(places) <= MAX_FLOATFORMAT_PLACES:
        return None
    return _(
        "floatformat takes a whole number of decimal places from -%(max)d to %(max)d "
        '(optionally followed by g or u, in quotes: floatformat:"2g"), not %(argument)s'
    ) % {"max": MAX_FLOATFORMAT_PLACES, "argument": str(argument)[:20]}


def _truncatechars_error(argument: Any) -> str | None:
    length = _whole_number(argument)
    if length is not None and 1 <= length <= MAX_TRUNCATECHARS:
        return None
    return _(
        "truncatechars takes a whole number of characters from 1 to %(max)d, not %(argument)s"
    ) % {
        "max": MAX_TRUNCATECHARS,
        "argument": str(argument)[:20],
    }


# The filters whose argument is checked, with the check (a message when refused, else None).
_ARGUMENT_CHECKS: dict[str, Callable[[Any], str | None]] = {
    "floatformat": _floatformat_error,
    "truncatechars": _truncatechars_error,
}
_FILTER_NAMES = {function: name for name, function in register.filters.items()}


def filter_argument_error(function: Callable, argument: Any, *, is_variable: bool) -> str | None:
    """Why the argument of a parsed filter is refused, or None. `function`, `argument` and
    `is_variable` are as Django's template parser leaves them in `FilterExpression.filters`
    (a number is a Variable with a literal; a quoted text is the text itself). Numbers must be
    written in the text, not taken from a placeholder whose value nobody checked."""
    name = _FILTER_NAMES.get(function, getattr(function, "__name__", ""))
    check = _ARGUMENT_CHECKS.get(name)
    if check is None:
        return None
    if is_variable and isinstance(argument, Variable) and argument.lookups is None:
        is_variable, argument = False, argument.literal
    if is_variable:
        return _("%(filter)s takes a number written in the text, not a placeholder") % {
            "filter": name
        }
    return check(argument)
