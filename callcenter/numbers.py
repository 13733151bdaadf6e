"""Whole numbers typed by people (query parameters, form fields), read the one way that cannot
fail.

`str.isdigit()` is true for "²" and "٣", `int()` takes "٣" but not "²", nor more than 4,300
digits, and a number past 2**63 overflows a bigint column: checking with one and converting
with the other let such text through to a server error.
"""

# Digits of the largest number read as an id (a bigint holds up to 19).
MAX_DIGITS = 18


def whole_number(text: object, *, max_digits: int = MAX_DIGITS) -> int | None:
    """`text` as a non-negative int when it is 1 to `max_digits` ASCII digits, else None."""
    if not isinstance(text, str) or not 0 < len(text) <= max_digits:
        return None
    if not (text.isascii() and text.isdigit()):
        return None
    return int(text)
