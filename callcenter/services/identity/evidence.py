"""A duplicate proposal's evidence in words, for pages and the API: "Same email w***@x.com"
rather than the finder's `{"kind": "email", "value": ...}`.

A shared phone number or email is masked unless the reader may see contact details in full
(`callcenter.masking.contacts_visible_in_full`), as everywhere else.
"""

from typing import Any

from django.utils.translation import gettext as _

from callcenter.choices import ContactKind
from callcenter.masking import mask_contact
from callcenter.phones import format_phone


def reason_in_words(reason: Any, *, in_full: bool) -> str:
    """One piece of a proposal's evidence as a sentence in the active language."""
    if not isinstance(reason, dict):
        return str(reason)
    kind, value = str(reason.get("kind", "")), str(reason.get("value", ""))
    if kind == ContactKind.PHONE:
        shown = format_phone(value) if in_full else mask_contact(kind, value)
        return _("Same phone number %(value)s") % {"value": shown}
    if kind == ContactKind.EMAIL:
        shown = value if in_full else mask_contact(kind, value)
        return _("Same email %(value)s") % {"value": shown}
    if kind == "name":
        similarity = reason.get("similarity")
        if " ~ " not in value:
            return _("Same name %(value)s") % {"value": value}
        return _("Similar names %(value)s (%(similarity)s alike)") % {
            "value": value,
            "similarity": f"{float(similarity or 0):.0%}",
        }
    words = {
        "birthday": _("Same birthday %(value)s"),
        "company": _("Same company %(value)s"),
        "city": _("Same city %(value)s"),
    }
    if kind in words:
        return words[kind] % {"value": value}
    return f"{kind}: {value}"


def evidence_in_words(reasons: Any, *, in_full: bool) -> list[str]:
    """Every piece of a proposal's evidence (its `reasons`), in the finder's order."""
    if not isinstance(reasons, list):
        return []
    return [reason_in_words(reason, in_full=in_full) for reason in reasons]
