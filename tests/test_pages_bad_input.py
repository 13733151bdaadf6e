"""Property-based pass over the pages: every page an admin or an agent may open (the URL
configuration, through the permission matrix's routes and fixture objects), called with
generated query strings, must never answer a server error (5xx).

The query parameters are the ones pages read (search, paging, periods, filters, cursors,
version numbers, dates) and unknown ones; their values are any text (NUL characters
included), numbers of any size, digits that are not ASCII digits and dates far out of range.
Examples per page and role: PAGES_FUZZ_EXAMPLES (default 15); the same examples every run.
"""

import os
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.matrix import ADMIN, AGENT
from tests.test_permission_matrix import EXPECTATIONS, ROUTES, objects  # noqa: F401 - fixture

EXAMPLES_PER_PAGE = int(os.environ.get("PAGES_FUZZ_EXAMPLES", "15"))

PAGE_ROUTES = [
    route
    for route in ROUTES
    if route.key in EXPECTATIONS
    and EXPECTATIONS[route.key].page
    and "get" in EXPECTATIONS[route.key].methods
    and route.key != "desk-events"  # a live stream that never ends
]

PARAMETERS = (
    "q", "page", "days", "r", "f", "queue", "agent", "show", "before", "from", "to", "kind",
    "sort", "phone", "call_id", "role", "status", "actor", "date_from", "date_to", "customer",
    "next", "cursor", "segment", "rule", "template", "language", "run", "unknown",
)  # fmt: skip
ODD_VALUES = (
    "²",  # a digit to str.isdigit(), not to int()
    "٣",  # an Arabic-Indic three
    "9" * 5000,  # beyond int()'s digit limit
    "99999999999999999999",  # beyond bigint
    "-1",
    "1e999",
    "NaN",
    "0001-01-01",
    "9999-12-31",
    "2024-02-30",
    "2024-02-04T00:28:14+19:06",
    "/%2e%2e/admin/",
)
VALUES = st.one_of(
    st.text(max_size=30),
    st.integers().map(str),
    st.sampled_from(ODD_VALUES),
)
QUERIES = st.dictionaries(st.sampled_from(PARAMETERS), VALUES, max_size=4)


@pytest.mark.parametrize(
    ("route", "role"),
    [
        pytest.param(route, role, id=f"{route.key}-{role}")
        for route in PAGE_ROUTES
        for role in (ADMIN, AGENT)
        if role in EXPECTATIONS[route.key].methods["get"]
    ],
)
def test_no_generated_query_causes_a_server_error(
    route: Any,
    role: str,
    objects: dict[str, Any],  # noqa: F811 - the imported fixture
) -> None:
    entry = EXPECTATIONS[route.key]
    client = Client(raise_request_exception=False)
    client.force_login(objects["users"][role])
    url = reverse(route.key, kwargs=entry.url_kwargs(objects["ids"]))

    @settings(
        max_examples=EXAMPLES_PER_PAGE,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(query=QUERIES)
    def check(query: dict[str, str]) -> None:
        response = client.get(f"{url}?{urlencode(query)}")
        assert response.status_code < 500, f"GET {url}?{urlencode(query)}"

    check()


# Requests found answering 500 (by the pass above or by hand), each with the answer it gets now.
FIXED_EXAMPLES = [
    ("get", "/queues/?queue=%C2%B2", None, 200),
    ("get", "/queues/?agent=%C2%B2", None, 200),
    ("get", "/care/effectiveness/?days=%C2%B2", None, 200),
    ("get", "/manage/audit/?date_from=0001-01-01&date_to=9999-12-31", None, 200),
    ("get", "/manage/audit/?customer=%C2%B2", None, 200),
    ("get", "/duplicates/?page=%C2%B2", None, 200),
    ("post", "/duplicates/{proposal}/merge/", {"keep": "²"}, 404),
    ("post", "/care/templates/preview/", {"template_pk": "²", "customer_id": "²"}, 200),
    ("post", "/manage/settings/", {"section": "guardrails", "inactivity_days": "²"}, 400),
    ("get", "/import/?run=%C2%B2", None, 200),
    ("get", "/import/?run=99999999999999999999", None, 200),
    ("post", "/customers/{customer}/reveal/", {"contact_point": "²", "reason": "a callback"}, 400),
]


@pytest.mark.parametrize(("method", "url", "data", "status"), FIXED_EXAMPLES)
def test_fixed_examples_get_their_answer(
    client: Client,
    objects: dict[str, Any],  # noqa: F811 - the imported fixture
    method: str,
    url: str,
    data: dict[str, str] | None,
    status: int,
) -> None:
    client.force_login(objects["users"][ADMIN])
    url = url.format(customer=objects["ids"]["customer"], proposal=objects["ids"]["merge_proposal"])

    response = client.get(url) if method == "get" else client.post(url, data)

    assert response.status_code == status
