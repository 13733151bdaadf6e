"""A part an upper app adds to a page of a lower app: its template and the context to show it.

The page's registries (callcenter/extensions.py) hand back `PagePart`s; the page's template
shows each with the `page_part` tag (callcenter.templatetags.crm), which renders the part's
template with the part's context over the page's own.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PagePart:
    """A template (named as for `{% include %}`) and the context it is rendered with."""

    template: str
    context: Mapping[str, Any]
