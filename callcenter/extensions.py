"""Extension points: how a page or duty in a lower app gets parts from the apps above it.

The apps are layered (callcenter < segments < care < outreach, see docs/architecture.md): an app
imports only the apps below it. Where a lower app owns a page or a duty that shows or touches the
data of upper apps (the agent desk, the customer page, the settings page, the user form, subject
export and erasure), it declares a `Registry` here or beside the page, and each upper app fills
it in its `AppConfig.ready()`. The lower app then iterates the registry without naming the
upper apps.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass
class Registry(Generic[T]):
    """Named parts, kept in (order, name) order; registering a name again replaces it, so
    `ready()` running twice (tests, autoreload) is harmless."""

    purpose: str
    _parts: dict[str, tuple[int, T]] = field(default_factory=dict)

    def register(self, name: str, part: T, *, order: int = 100) -> None:
        """Add or replace the part called `name`; lower `order` comes first."""
        if not name:
            raise ValueError(f"{self.purpose}: a part needs a name")
        self._parts[name] = (order, part)

    def unregister(self, name: str) -> None:
        """Remove a part (tests that check a page without it)."""
        self._parts.pop(name, None)

    def items(self) -> list[tuple[str, T]]:
        """(name, part) pairs in order."""
        ranked = sorted(self._parts.items(), key=lambda item: (item[1][0], item[0]))
        return [(name, part) for name, (_order, part) in ranked]

    def get(self, name: str) -> T | None:
        """The part called `name`, or None."""
        entry = self._parts.get(name)
        return entry[1] if entry else None

    def __iter__(self) -> Iterator[T]:
        return (part for _name, part in self.items())

    def __len__(self) -> int:
        return len(self._parts)
