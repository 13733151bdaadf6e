"""What a page's element ids must satisfy: each id once (a repeated id makes a label, an
`aria-labelledby`, an htmx target or a test's locator find the wrong element), and every
`<label for>` naming an element of the page. Used by the page tests and, through the browser's
DOM, by the browser tests."""

from collections import Counter
from html.parser import HTMLParser


class _Ids(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: Counter[str] = Counter()
        self.label_targets: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name == "id" and value:
                self.ids[value] += 1
            elif name == "for" and tag == "label" and value:
                self.label_targets.append(value)


def id_problems(html: str) -> dict[str, list[str]]:
    """The ids used more than once, and the `label for` targets no element has (empty lists
    when the page is sound). `<template>` contents count: htmx moves them into the page."""
    parser = _Ids()
    parser.feed(html)
    return {
        "duplicate_ids": sorted(key for key, count in parser.ids.items() if count > 1),
        "labels_without_target": sorted(set(parser.label_targets) - set(parser.ids)),
    }


NO_ID_PROBLEMS: dict[str, list[str]] = {"duplicate_ids": [], "labels_without_target": []}
