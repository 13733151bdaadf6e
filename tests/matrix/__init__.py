"""Permission decisions, per area: which callers may call each method of each URL.

Each module in this package holds the decisions of one area in `EXPECTATIONS` and may define
`extra_objects(base)` returning more fixture objects (name -> pk) its URLs point at. The test
`tests/test_permission_matrix.py` merges them and fails on a URL without a decision.
"""

from dataclasses import dataclass
from typing import Any

from callcenter.choices import Role

ANONYMOUS = "anonymous"
NO_ROLE = "no_role"
AGENT = Role.AGENT.value
SUPERVISOR = Role.SUPERVISOR.value
ADMIN = Role.ADMIN.value
CALLERS = (ANONYMOUS, NO_ROLE, AGENT, SUPERVISOR, ADMIN)

PUBLIC = frozenset(CALLERS)
LOGGED_IN = frozenset({NO_ROLE, AGENT, SUPERVISOR, ADMIN})
STAFF = frozenset({AGENT, SUPERVISOR, ADMIN})
MANAGERS = frozenset({SUPERVISOR, ADMIN})
ADMINS = frozenset({ADMIN})


@dataclass(frozen=True)
class Entry:
    """Who may call each method; `pk` names the fixture object filling the URL's pk."""

    methods: dict[str, frozenset[str]]
    pk: str | None = None
    # Webhooks: public, authenticated by the signature of this integration (callcenter.choices
    # Integration); empty for the rest.
    signed: str = ""
    page: bool = False  # HTML page: anonymous callers are redirected to the login page
    kwarg: str = "pk"  # the URL's keyword argument `pk` fills (e.g. "token")
    # More keyword arguments of the URL: (argument, fixture object whose value fills it).
    more_kwargs: tuple[tuple[str, str], ...] = ()

    def url_kwargs(self, ids: dict[str, Any]) -> dict[str, Any]:
        """The URL's keyword arguments from the fixture's objects (`ids`)."""
        kwargs = {self.kwarg: ids[self.pk]} if self.pk else {}
        kwargs.update({name: ids[key] for name, key in self.more_kwargs})
        return kwargs


def _e(pk: str | None = None, **methods: frozenset[str]) -> Entry:
    return Entry(methods=methods, pk=pk)


def _page(pk: str | None = None, **methods: frozenset[str]) -> Entry:
    return Entry(methods=methods, pk=pk, page=True)
