"""Who may use which endpoint: a matrix generated from the URL configuration.

Every URL pattern (pages and API, router routes included) must have an entry in EXPECTATIONS
saying, per HTTP method, which callers are let through. A pattern without an entry fails, so a
new endpoint cannot be added without deciding who may use it. Callers: anonymous, a logged-in
user without a call-center role, agent, supervisor, admin (see README, Roles).

"allowed" is any answer that is not an auth refusal (2xx, 3xx, 400, 404, 405, 409...);
"denied" is 401/403, or for pages a redirect of an anonymous visitor to the login page.
"""

import hashlib
import hmac
import json
import time
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

from callcenter.choices import ImportKind, ImportStatus, Role
from callcenter.models import ImportRun, MergeProposal
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
from tests.outreach.factories import CallTaskFactory, CareRuleFactory
from tests.segments.factories import CustomerMetricsFactory, SegmentFactory

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

SKIPPED_PREFIXES = ("admin/", "i18n/", "static/", "media/")
METHODS = ("get", "post", "put", "patch", "delete")


@dataclass(frozen=True)
class Entry:
    """Who may call each method; `pk` names the fixture object filling the URL's pk."""

    methods: dict[str, frozenset[str]]
    pk: str | None = None
    signed: bool = False  # webhooks: public, authenticated by an HMAC signature of the body
    page: bool = False  # HTML page: anonymous callers are redirected to the login page


def _e(pk: str | None = None, **methods: frozenset[str]) -> Entry:
    return Entry(methods=methods, pk=pk)


def _page(pk: str | None = None, **methods: frozenset[str]) -> Entry:
    return Entry(methods=methods, pk=pk, page=True)


EXPECTATIONS: dict[str, Entry] = {
    # Public by design: health carries no data; login/logout; the API description.
    "healthz": _e(get=PUBLIC),
    "login": _e(get=PUBLIC, post=PUBLIC, put=PUBLIC),
    "logout": _e(post=PUBLIC),
    "api-schema": _e(get=PUBLIC),
    "api-docs": _e(get=PUBLIC),
    # The browsable API root lists URL names only (DRF default: any logged-in user).
    "api-root": _e(get=LOGGED_IN),
    # Webhooks: no user, a valid signature of the body is the credential.
    "api-outreach-receipts": Entry(methods={"post": PUBLIC}, signed=True),
    "api-outreach-inbound-sms": Entry(methods={"post": PUBLIC}, signed=True),
    # Pages.
    "home": _page(get=STAFF),
    "import-csv": _page(get=MANAGERS, post=MANAGERS),
    "customer-search": _page(get=STAFF),
    "customer-detail": _page("customer", get=STAFF),
    "customer-timeline": _page("customer", get=STAFF),
    # Customer profiles and history.
    "api-customer-list": _e(get=STAFF, post=STAFF),
    "api-customer-detail": _e("customer", get=STAFF, put=STAFF, patch=STAFF),
    "api-customer-consent": _e("customer", post=STAFF),
    "api-customer-contact-points": _e("customer", post=STAFF),
    "api-order-list": _e(get=STAFF, post=ADMINS),
    "api-order-detail": _e("order", get=STAFF),
    "api-interaction-list": _e(get=STAFF, post=STAFF),
    "api-interaction-detail": _e("interaction", get=STAFF),
    "api-ticket-list": _e(get=STAFF, post=STAFF),
    "api-ticket-detail": _e("ticket", get=STAFF),
    "api-ticket-resolve": _e("ticket", post=STAFF),
    "api-survey-list": _e(get=STAFF, post=ADMINS),
    "api-survey-detail": _e("survey", get=STAFF),
    "api-screenpop": _e(get=STAFF),
    # Imports and merges: supervisors and admins.
    "api-import-list": _e(get=MANAGERS, post=MANAGERS),
    "api-import-detail": _e("import_run", get=MANAGERS),
    "api-customer-merge": _e("customer", post=MANAGERS),
    "api-merge-proposal-list": _e(get=MANAGERS),
    "api-merge-proposal-merge": _e("merge_proposal", post=MANAGERS),
    "api-merge-proposal-dismiss": _e("merge_proposal", post=MANAGERS),
    # Segments: everyone reads segments and a customer's scores; supervisors manage, export.
    "api-segments": _e(get=STAFF, post=MANAGERS),
    "api-segment": _e("segment", get=STAFF, patch=MANAGERS, delete=MANAGERS),
    "api-segment-preview": _e(post=MANAGERS),
    "api-segment-fields": _e(get=MANAGERS),
    "api-segment-members": _e("segment", get=MANAGERS),
    "api-segment-snapshots": _e("segment", get=STAFF),
    "api-segment-export": _e("segment", get=MANAGERS),
    "api-metrics-export": _e(get=MANAGERS),
    "api-segment-refresh": _e(post=MANAGERS),
    "api-refresh-runs": _e(get=MANAGERS),
    "api-refresh-run": _e("refresh_run", get=MANAGERS),
    "api-clusters": _e(get=STAFF),
    "api-churn-model": _e(get=STAFF, post=MANAGERS),
    "api-customer-segments": _e("customer", get=STAFF),
    "api-customer-metrics": _e("customer", get=STAFF),
    # Care: supervisors read, admins change; any role (integrations) may report an event.
    "api-care-rules": _e(get=MANAGERS, post=ADMINS),
    "api-care-rule": _e("rule", get=MANAGERS, patch=ADMINS),
    "api-care-rule-activate": _e("rule", post=ADMINS),
    "api-care-rule-deactivate": _e("rule", post=ADMINS),
    "api-care-rule-versions": _e("rule", get=MANAGERS),
    "api-care-rule-diff": _e("rule", get=MANAGERS),
    "api-care-templates": _e(get=MANAGERS, post=ADMINS),
    "api-care-template": _e("template", get=MANAGERS, patch=ADMINS, delete=ADMINS),
    "api-care-template-preview": _e(post=ADMINS),
    "api-care-enrollments": _e(get=MANAGERS),
    "api-care-settings": _e(get=MANAGERS, patch=ADMINS),
    "api-events": _e(get=MANAGERS, post=STAFF),
    "api-event": _e("event", get=MANAGERS),
    # Outreach: agents work their tasks; supervisors see all queues and reassign.
    "api-outreach-tasks": _e(get=STAFF, post=STAFF),
    "api-outreach-task": _e("task", get=STAFF),
    "api-outreach-task-claim": _e("task", post=STAFF),
    "api-outreach-task-complete": _e("task", post=STAFF),
    "api-outreach-task-reschedule": _e("task", post=STAFF),
    "api-outreach-tasks-reassign": _e(post=MANAGERS),
    "api-outreach-my-queue": _e(get=STAFF),
    "api-outreach-queues": _e(get=MANAGERS),
}


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
    return {"users": users, "ids": ids}


def _sign(body: bytes) -> dict[str, str]:
    stamp = str(int(time.time()))
    digest = hmac.new(
        settings.OUTREACH_WEBHOOK_SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256
    )
    return {"HTTP_X_TIMESTAMP": stamp, "HTTP_X_SIGNATURE": digest.hexdigest()}


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
        "add it to EXPECTATIONS in tests/test_permission_matrix.py"
    )
    undecided = sorted((route.methods or frozenset()) - set(entry.methods))
    assert not undecided, (
        f"new endpoint without a permission decision: {route.key} {undecided} ({route.route})"
    )
    settings.OUTREACH_WEBHOOK_SECRET = "matrix-secret"
    client = Client()
    user = objects["users"][caller]
    if user is not None:
        client.force_login(user)
    kwargs = {"pk": objects["ids"][entry.pk]} if entry.pk else {}
    url = reverse(route.key, kwargs=kwargs)

    failures = []
    for method, allowed_callers in entry.methods.items():
        body = b"{}"
        extra = _sign(body) if entry.signed else {}
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
