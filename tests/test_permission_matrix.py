"""Who may use which endpoint: a matrix generated from the URL configuration.

Every URL pattern (pages and API, router routes included) must have an entry in the
EXPECTATIONS of one area module in `tests/matrix/` saying, per HTTP method, which callers are
let through. A pattern without an entry fails, so a new endpoint cannot be added without
deciding who may use it. Callers: anonymous, a logged-in user without a call-center role,
agent, supervisor, admin (see README, Roles).

"allowed" is any answer that is not an auth refusal (2xx, 3xx, 400, 404, 405, 409...);
"denied" is 401/403, or for pages a redirect of an anonymous visitor to the login page.
"""

import importlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpResponse
from django.shortcuts import resolve_url
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from callcenter.choices import ImportKind, ImportStatus
from callcenter.models import ImportRun, MergeProposal
from callcenter.signatures import SECRET_SETTINGS
from care.choices import TemplateChannel
from care.models import Event, MessageTemplate
from segments.models import RefreshRun
from tests.callcenter.factories import (
    CustomerFactory,
    InteractionFactory,
    OrderFactory,
    SurveyFactory,
    TicketFactory,
    UserFactory,
)
from tests.matrix import ADMIN, AGENT, ANONYMOUS, CALLERS, NO_ROLE, SUPERVISOR, Entry
from tests.outreach.factories import CallTaskFactory, CareRuleFactory
from tests.segments.factories import CustomerMetricsFactory, SegmentFactory
from tests.signing import signed_headers

MATRIX_AREAS = (
    "core",
    "segments_ui",
    "care_ui",
    "campaigns",
    "outreach_ui",
    "admin_ui",
    "service_reports",
    "tickets_ui",
    "account_reports",
    "service_ui",
)

SKIPPED_PREFIXES = ("admin/", "i18n/", "static/", "media/")
METHODS = ("get", "post", "put", "patch", "delete")
AREAS = [importlib.import_module(f"tests.matrix.{name}") for name in MATRIX_AREAS]


def _merge() -> dict[str, Entry]:
    merged: dict[str, Entry] = {}
    for area in AREAS:
        twice = set(merged) & set(area.EXPECTATIONS)
        assert not twice, f"permission decisions made twice: {sorted(twice)}"
        merged.update(area.EXPECTATIONS)
    return merged


EXPECTATIONS = _merge()


@dataclass(frozen=True)
class Route:
    key: str
    route: str
    methods: frozenset[str] | None  # None when the view does not tell (function views)


def _view_methods(pattern: URLPattern) -> frozenset[str] | None:
    callback = pattern.callback
    actions = getattr(callback, "actions", None)
    if actions:
        return frozenset(actions)
    cls = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if cls is None:
        return None
    return frozenset(m for m in METHODS if m in cls.http_method_names and hasattr(cls, m))


def _walk(resolver: URLResolver, prefix: str = "") -> Iterator[Route]:
    for item in resolver.url_patterns:
        route = prefix + str(item.pattern)
        if route.lstrip("^").startswith(SKIPPED_PREFIXES):
            continue
        if isinstance(item, URLResolver):
            yield from _walk(item, route)
        else:
            yield Route(key=item.name or route, route=route, methods=_view_methods(item))


def _routes() -> list[Route]:
    """One route per URL name (DRF's format-suffix twins share their name and view)."""
    seen: dict[str, Route] = {}
    for route in _walk(get_resolver()):
        seen.setdefault(route.key, route)
    return list(seen.values())


ROUTES = _routes()


def test_every_expectation_names_an_existing_url() -> None:
    keys = {route.key for route in ROUTES}
    stale = sorted(set(EXPECTATIONS) - keys)
    assert not stale, f"permission expectations for URLs that no longer exist: {stale}"


@pytest.fixture
def objects(db: None) -> dict[str, Any]:
    """Users of every kind and one real object of every kind a URL can point at."""
    users: dict[str, AbstractBaseUser | None] = {ANONYMOUS: None}
    users[NO_ROLE] = UserFactory(username="matrix_norole")
    for role in (AGENT, SUPERVISOR, ADMIN):
        users[role] = UserFactory(username=f"matrix_{role}", role=role)
    customer = CustomerFactory()
    CustomerMetricsFactory(customer=customer)
    other = CustomerFactory()
    template = MessageTemplate.objects.create(
        name="Matrix", slug="matrix", channel=TemplateChannel.SMS
    )
    ids = {
        "customer": customer.pk,
        "order": OrderFactory(customer=customer).pk,
        "interaction": InteractionFactory(customer=customer).pk,
        "ticket": TicketFactory(customer=customer).pk,
        "survey": SurveyFactory(customer=customer).pk,
        "segment": SegmentFactory().pk,
        "rule": CareRuleFactory().pk,
        "template": template.pk,
        "event": Event.objects.create(
            type="inactivity",
            customer=customer,
            idempotency_key="matrix",
            occurred_at=timezone.now(),
        ).pk,
        "task": CallTaskFactory(customer=customer, assignee=users[AGENT]).pk,
        "import_run": ImportRun.objects.create(
            kind=ImportKind.CUSTOMERS, file_name="c.csv", status=ImportStatus.SUCCEEDED
        ).pk,
        "merge_proposal": MergeProposal.objects.create(
            customer_a=customer, customer_b=other, score=0.9, reasons=[]
        ).pk,
        "refresh_run": RefreshRun.objects.create(as_of=timezone.now(), window_days=365).pk,
    }
    for area in AREAS:
        extra = getattr(area, "extra_objects", None)
        if extra is not None:
            ids.update(extra({"users": users, "ids": ids}))
    return {"users": users, "ids": ids}


MATRIX_SECRETS = {integration: f"matrix-{integration}-secret" for integration in SECRET_SETTINGS}


def _is_login_redirect(response: HttpResponse) -> bool:
    if response.status_code not in (301, 302):
        return False
    location = urlsplit(response["Location"])
    return location.path == resolve_url(settings.LOGIN_URL) and "next=" in location.query


def _denied(response: HttpResponse, *, caller: str, entry: Entry) -> bool:
    if response.status_code in (401, 403):
        return True
    return caller == ANONYMOUS and entry.page and _is_login_redirect(response)


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.key)
def test_permission_matrix(
    route: Route, caller: str, objects: dict[str, Any], settings: Any
) -> None:
    entry = EXPECTATIONS.get(route.key)
    assert entry is not None, (
        f"new endpoint without a permission decision: {route.key} ({route.route}); "
        "add it to EXPECTATIONS of its area in tests/matrix/"
    )
    undecided = sorted((route.methods or frozenset()) - set(entry.methods))
    assert not undecided, (
        f"new endpoint without a permission decision: {route.key} {undecided} ({route.route})"
    )
    for integration, secret in MATRIX_SECRETS.items():
        setattr(settings, SECRET_SETTINGS[integration], [secret])
    client = Client()
    user = objects["users"][caller]
    if user is not None:
        client.force_login(user)
    kwargs = entry.url_kwargs(objects["ids"])
    url = reverse(route.key, kwargs=kwargs)

    failures = []
    for method, allowed_callers in entry.methods.items():
        body = b"{}"
        extra = (
            signed_headers(
                body, secret=MATRIX_SECRETS[entry.signed], path=urlsplit(url).path, method=method
            )
            if entry.signed
            else {}
        )
        if method == "get":
            response = client.get(url, **extra)
        else:
            response = getattr(client, method)(
                url, data=body, content_type="application/json", **extra
            )
        expected = "allowed" if caller in allowed_callers else "denied"
        if response.status_code >= 500:
            failures.append(f"{method.upper()} {url}: server error {response.status_code}")
            continue
        actual = "denied" if _denied(response, caller=caller, entry=entry) else "allowed"
        if actual != expected:
            failures.append(
                f"{method.upper()} {url} as {caller}: expected {expected}, "
                f"got {actual} ({response.status_code})"
            )
        elif method == "get" and actual == "allowed" and response.status_code == 404:
            # The fixtures provide every object a URL points at: a 404 on a read means the
            # matrix is not exercising the view.
            failures.append(f"GET {url} as {caller}: 404 {json.dumps(entry.pk)}")
    assert not failures, "\n".join(failures)
