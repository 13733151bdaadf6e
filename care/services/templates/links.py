"""Finding the web links of a rendered message, so each can be replaced by a tracked short link.

Outreach replaces every http(s) link of an SMS or email body with a per-recipient short link
`<TRACKED_LINK_BASE_URL>/l/<token>` when it sends (outreach.services.links); the template
preview shows a link of the same length, so the SMS length and parts it counts are those of
the text that goes out. The token is random and says nothing about the customer.
"""

import re
from collections.abc import Callable

from django.conf import settings

# A link ends at the first character that cannot be part of a URL (a space, a quote, `<`, or
# any non-ASCII character such as Chinese punctuation: "请访问https://x.cn/a。" ends at "。").
_LINK = re.compile(r"https?://[A-Za-z0-9\-._~:/?#\[\]@!$&()*+,;=%]+", re.IGNORECASE)
# Punctuation that ends a sentence rather than the link ("see https://x.cn/a.").
_TRAILING = ".,;:!?)]'"
# Longest target URL kept (a longer one stays in the text as written). Links are ASCII, and an
# email's entities only shrink when read, so a kept target fits its unique index entry.
MAX_LINK_LENGTH = 2000
# Characters of a token (secrets.token_urlsafe(8) gives 11).
TOKEN_LENGTH = 11
SAMPLE_TOKEN = "x" * TOKEN_LENGTH
# Characters of a survey token (secrets.token_urlsafe(16) gives 22): an ask is answered
# without logging in, so its token is longer than a link's.
SURVEY_TOKEN_LENGTH = 22
SAMPLE_SURVEY_TOKEN = "x" * SURVEY_TOKEN_LENGTH


def tracked_link_base() -> str:
    """The base of tracked links, without a trailing slash."""
    return str(settings.TRACKED_LINK_BASE_URL).rstrip("/")


def tracked_link_url(token: str) -> str:
    """The short link of a token."""
    return f"{tracked_link_base()}/l/{token}"


def survey_link_url(token: str) -> str:
    """The one-question satisfaction page of a survey ask (outreach.SurveyAsk)."""
    return f"{tracked_link_base()}/s/{token}"


def survey_link_sample() -> str:
    """What `{{ survey_link }}` renders to before outreach puts the ask's own token in it at
    send time: a link of the same length, so previews count the SMS as it is sent."""
    return survey_link_url(SAMPLE_SURVEY_TOKEN)


def message_links(text: str) -> list[str]:
    """The http(s) links of `text` to track, in order of first appearance, each once (links
    already tracked, and links longer than MAX_LINK_LENGTH, are left alone)."""
    found: dict[str, None] = {}
    for match in _LINK.finditer(text):
        url = match.group(0).rstrip(_TRAILING)
        if _trackable(url):
            found.setdefault(url, None)
    return list(found)


def _trackable(url: str) -> bool:
    # Our own short links and survey links are already per recipient.
    own = (f"{tracked_link_base()}/l/", f"{tracked_link_base()}/s/")
    return "://" in url and len(url) <= MAX_LINK_LENGTH and not url.startswith(own)


def message_links_replace(text: str, replacement: Callable[[str], str | None]) -> str:
    """`text` with each trackable link replaced by `replacement(url)` (kept when it is None)."""

    def substitute(match: re.Match[str]) -> str:
        whole = match.group(0)
        url = whole.rstrip(_TRAILING)
        if not _trackable(url):
            return whole
        new = replacement(url)
        return whole if new is None else new + whole[len(url) :]

    return _LINK.sub(substitute, text)


def message_links_sample(text: str) -> str:
    """`text` as it will be sent, with sample short links in place of its links (the preview's
    length and SMS parts count them as sent)."""
    return message_links_replace(text, lambda _url: tracked_link_url(SAMPLE_TOKEN))
