"""Phone-number normalization: every number is stored and looked up in E.164."""

import phonenumbers
from django.conf import settings


class InvalidPhoneNumber(ValueError):
    """The text is not a valid phone number."""


def normalize_phone(raw: str, region: str | None = None) -> str:
    """Return `raw` in E.164 (`+8613800138000`), reading national numbers in `region`.

    Accepts the forms people and telephony systems send: `13800138000`, `+86 138 0013 8000`,
    `0086-138-0013-8000`, `(010) 6552 9988`. Raises InvalidPhoneNumber for anything that is not
    a valid number.
    """
    text = (raw or "").strip()
    if not text:
        raise InvalidPhoneNumber("empty phone number")
    if text.startswith("00"):
        # International prefix written with 00 instead of +: the parser only knows it
        # when the default region uses 00, so normalize it first.
        text = "+" + text[2:].lstrip()
    try:
        number = phonenumbers.parse(text, region or settings.PHONE_DEFAULT_REGION)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber(f"not a phone number: {raw!r}") from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhoneNumber(f"not a valid phone number: {raw!r}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def try_normalize_phone(raw: str, region: str | None = None) -> str | None:
    """Like normalize_phone, but None for anything invalid (for lookups of caller ids)."""
    try:
        return normalize_phone(raw, region)
    except InvalidPhoneNumber:
        return None


def format_phone(e164: str) -> str:
    """Human-readable international form of a stored number."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def mask_phone(e164: str) -> str:
    """Hide the middle digits, keeping the country code and the last four digits; at least
    three digits are always hidden, so a short number is never shown whole. The SQL twin is
    `callcenter.masking.sql_mask_phone`."""
    if len(e164) <= 7:
        return "*" * len(e164)
    hidden = max(len(e164) - 9, 3)
    return e164[: len(e164) - hidden - 4] + "*" * hidden + e164[-4:]


def normalize_email(raw: str) -> str:
    """Lower-case and trim an email address (the whole address, as mail providers match)."""
    return (raw or "").strip().lower()
