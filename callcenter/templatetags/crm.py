"""Filters for the customer pages: contact details by role, sentiment badges, avatar initials;
the tag that shows an upper app's part of a page."""

import json
from typing import Any

from django import template
from django.template import Context
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from callcenter.choices import ContactKind
from callcenter.masking import mask_contact
from callcenter.page_parts import PagePart
from callcenter.phones import format_phone, mask_phone
from callcenter.services.identity.evidence import reason_in_words

register = template.Library()

# Sentiment at or below this reads as negative, at or above the positive one as positive.
NEGATIVE_SENTIMENT = -0.3
POSITIVE_SENTIMENT = 0.3


@register.filter
def phone(value: str | None, in_full: bool) -> str:
    """A stored E.164 number in full (`in_full`: callcenter.masking.contacts_visible_in_full)
    or masked (agents)."""
    if not value:
        return ""
    return format_phone(value) if in_full else mask_phone(value)


@register.filter
def contact(point: Any, in_full: bool) -> str:
    """A contact point's value (a model or a screen-pop dict) in full (`in_full`, phones
    formatted) or masked by its kind. Masking a value the screen-pop already masked changes
    nothing."""
    kind, value = (
        (point["kind"], point["value"])
        if isinstance(point, dict)
        else (
            point.kind,
            point.value,
        )
    )
    if not in_full:
        return mask_contact(kind, value)
    return format_phone(value) if kind == ContactKind.PHONE else value


@register.filter
def merge_reason(reason: Any, in_full: bool) -> str:
    """One reason of a duplicate proposal in words ("Same email w***@example.com"), a shared
    phone number or email masked unless `in_full`."""
    return reason_in_words(reason, in_full=in_full)


@register.simple_tag
def sentiment_badge(score: float | None) -> SafeString | str:
    """A coloured badge for an interaction's sentiment score (-1 .. 1)."""
    if score is None:
        return ""
    if score <= NEGATIVE_SENTIMENT:
        css, label = "badge-red", _("Negative")
    elif score >= POSITIVE_SENTIMENT:
        css, label = "badge-green", _("Positive")
    else:
        css, label = "badge-gray", _("Neutral")
    return format_html(
        '<span class="badge {}" title="{}">{} {}</span>',
        css,
        _("Sentiment"),
        label,
        f"{score:+.2f}",
    )


@register.filter
def initials(name: str | None) -> str:
    """One character for a Chinese name, two initials for a Latin one (for the avatar)."""
    words = (name or "").split()
    if not words:
        return "?"
    if not words[0].isascii():
        return words[0][0]
    return "".join(word[0] for word in words[:2]).upper()


@register.filter
def attribute_value(value: object) -> str:
    """A custom attribute as text: strings as they are, anything else as compact JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


@register.filter
def duration(seconds: int | None) -> str:
    """Seconds as `m:ss` (or `h:mm:ss` from one hour on)."""
    total = int(seconds or 0)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes}:{secs:02d}"


@register.simple_tag(takes_context=True)
def page_part(context: Context, part: PagePart) -> SafeString:
    """An upper app's part of this page (callcenter.page_parts): its template rendered with the
    part's context over the page's, so it also sees the page's own variables (the customer,
    `contacts_in_full`, the CSRF token)."""
    assert context.template is not None  # a tag always renders inside a template
    shown = context.template.engine.get_template(part.template)
    with context.push(part.context):
        return shown.render(context)
