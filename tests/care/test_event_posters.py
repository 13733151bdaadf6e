"""Who may post which event to POST /api/events/ (care.services.events.EVENT_POSTERS), and
idempotency keys that belong to the client that sent them.

An agent once enrolled customers in proactive care plans (SMS, calls) by posting first_order
or survey_submitted; one client could also take a key another would use."""

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from rest_framework.test import APIClient

from callcenter.choices import Role
from care.choices import EventType
from care.models import Enrollment, Event
from care.services.events import EVENT_POSTERS, SIGNED_INTEGRATION
from care.services.rules import care_rule_activate, care_rule_create
from care.services.templates import template_create
from outreach.models import OutreachTask
from tests.callcenter.factories import CustomerFactory, UserFactory
from tests.signing import signed_headers

pytestmark = pytest.mark.django_db

URL = "/api/events/"
SECRET = "events-integration-secret"
INTEGRATION = "integration"
POSTERS = (Role.AGENT.value, Role.SUPERVISOR.value, Role.ADMIN.value, INTEGRATION)


@pytest.fixture
def post(settings: Any) -> Callable[..., Any]:
    """POST an event as a user of a role (its token) or as the signed events integration."""
    settings.EVENTS_WEBHOOK_SECRETS = [SECRET]
    users: dict[str, Any] = {}

    def _post(
        poster: str,
        body: dict[str, Any],
        *,
        key: str = "k-1",
        user: Any = None,
        timestamp: int | None = None,
    ) -> Any:
        client = APIClient()
        body = {**body, "idempotency_key": key}
        if poster == INTEGRATION:
            raw = APIClient()._encode_data(body, format="json")[0]
            return client.post(
                URL,
                raw,
                content_type="application/json",
                **signed_headers(raw, secret=SECRET, path=URL, timestamp=timestamp),
            )
        if user is None:
            if poster not in users:
                users[poster] = UserFactory(role=poster, username=f"poster_{poster}")
            user = users[poster]
        client.force_authenticate(user)
        return client.post(URL, body, format="json")

    return _post


def _allowed(poster: str, event_type: str) -> bool:
    wanted = SIGNED_INTEGRATION if poster == INTEGRATION else poster
    return wanted in EVENT_POSTERS[event_type]


def test_the_table_decides_every_event_type() -> None:
    assert set(EVENT_POSTERS) == set(EventType.values)


def test_agents_may_post_no_event_type_and_none_of_the_proactive_ones() -> None:
    assert not any(Role.AGENT.value in posters for posters in EVENT_POSTERS.values())


@pytest.mark.parametrize("event_type", EventType.values)
@pytest.mark.parametrize("poster", POSTERS)
def test_each_poster_posts_exactly_the_types_the_table_allows(
    post: Callable[..., Any], poster: str, event_type: str
) -> None:
    customer = CustomerFactory()

    response = post(poster, {"type": event_type, "customer_id": customer.pk})

    if _allowed(poster, event_type):
        assert response.status_code == 201, response.content
        assert Event.objects.filter(type=event_type, customer=customer).count() == 1
    else:
        assert response.status_code == 403, response.content
        assert response.json()["detail"]
        assert not Event.objects.exists()


@pytest.mark.parametrize("event_type", [EventType.FIRST_ORDER, EventType.SURVEY_SUBMITTED])
def test_an_agent_cannot_enroll_customers_in_proactive_plans(
    post: Callable[..., Any], event_type: str, django_capture_on_commit_callbacks: Any
) -> None:
    # given an active rule that sends an SMS on this event
    sms = template_create(name="Hi", channel="sms", variants={"en": {"body": "Hi"}})
    rule = care_rule_create(
        name="Proactive",
        trigger_type=event_type,
        trigger_params={},
        steps=[{"channel": "sms", "template_id": sms.pk, "sla_minutes": 30}],
    )
    care_rule_activate(rule=rule)
    customer, control = CustomerFactory.create_batch(2)
    payload = {"kind": "nps", "score": 3} if event_type == EventType.SURVEY_SUBMITTED else {}

    # when an agent posts it (and, to show the rule is live, the integration for another)
    with django_capture_on_commit_callbacks(execute=True):
        by_agent = post(
            Role.AGENT.value, {"type": event_type, "customer_id": customer.pk, "payload": payload}
        )
        by_integration = post(
            INTEGRATION, {"type": event_type, "customer_id": control.pk, "payload": payload}
        )

    # then the agent is refused with a clear message, and nothing is written or sent
    assert by_agent.status_code == 403
    assert by_agent.json() == {"detail": "Your role may not post events."}
    assert not Event.objects.filter(customer=customer).exists()
    assert not Enrollment.objects.filter(customer=customer).exists()
    assert not OutreachTask.objects.filter(customer=customer).exists()
    assert by_integration.status_code == 201
    assert Enrollment.objects.filter(customer=control).count() == 1


def test_a_refusal_names_the_type_and_writes_nothing(post: Callable[..., Any]) -> None:
    customer = CustomerFactory()

    supervisor = post(Role.SUPERVISOR.value, {"type": "first_order", "customer_id": customer.pk})
    computed = post(Role.ADMIN.value, {"type": "birthday", "customer_id": customer.pk})

    assert supervisor.status_code == 403
    assert supervisor.json()["detail"] == "Your role may not post first_order events."
    assert computed.status_code == 403
    assert "recorded by this product itself" in computed.json()["detail"]
    assert not Event.objects.exists()


def test_a_refused_signed_request_may_be_sent_again_as_it_was(
    post: Callable[..., Any], settings: Any
) -> None:
    customer = CustomerFactory()
    raw = b'{"type": "birthday", "customer_id": %d, "idempotency_key": "b"}' % customer.pk
    headers = signed_headers(raw, secret=SECRET, path=URL)
    client = APIClient()

    first = client.post(URL, raw, content_type="application/json", **headers)
    again = client.post(URL, raw, content_type="application/json", **headers)

    # refused for its type both times, not as a replay
    assert (first.status_code, again.status_code) == (403, 403)
    assert "replay" not in again.json()["detail"]


class TestIdempotencyKeysPerClient:
    def test_the_same_key_from_two_clients_records_two_events(
        self, post: Callable[..., Any]
    ) -> None:
        customer = CustomerFactory()
        body = {"type": "external", "customer_id": customer.pk}
        other_admin = UserFactory(role=Role.ADMIN, username="other_admin")

        by_admin = post(Role.ADMIN.value, body, key="order-1")
        by_other_admin = post(Role.ADMIN.value, body, key="order-1", user=other_admin)
        by_integration = post(INTEGRATION, body, key="order-1")

        assert [r.status_code for r in (by_admin, by_other_admin, by_integration)] == [201] * 3
        assert len({r.json()["id"] for r in (by_admin, by_other_admin, by_integration)}) == 3
        assert Event.objects.filter(idempotency_key="order-1").count() == 3

    def test_a_key_taken_by_another_client_is_no_conflict(self, post: Callable[..., Any]) -> None:
        # given another client used the key for an event of another customer
        first, second = CustomerFactory.create_batch(2)
        other_admin = UserFactory(role=Role.ADMIN, username="other_admin")
        post(Role.ADMIN.value, {"type": "external", "customer_id": first.pk}, key="shared")

        mine = post(
            Role.ADMIN.value,
            {"type": "external", "customer_id": second.pk},
            key="shared",
            user=other_admin,
        )

        assert mine.status_code == 201
        assert mine.json()["customer_id"] == second.pk

    def test_the_same_key_twice_from_one_client_is_idempotent(
        self, post: Callable[..., Any]
    ) -> None:
        first, second = CustomerFactory.create_batch(2)

        created = post(INTEGRATION, {"type": "external", "customer_id": first.pk}, key="x")
        # the integration retries: the same request, signed again a second later
        again = post(
            INTEGRATION,
            {"type": "external", "customer_id": first.pk},
            key="x",
            timestamp=int(time.time()) + 1,
        )
        other = post(INTEGRATION, {"type": "external", "customer_id": second.pk}, key="x")

        assert (created.status_code, again.status_code, other.status_code) == (201, 200, 409)
        assert again.json()["id"] == created.json()["id"]
        assert created.json()["client"] == "integration:events"
        assert Event.objects.count() == 1


def test_the_readme_shows_the_same_table() -> None:
    readme = (Path(django_settings.BASE_DIR) / "README.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^ *\| `(\w+)` \| ([^|]+) \|", readme, flags=re.MULTILINE))
    names = {
        Role.SUPERVISOR.value: "supervisors",
        Role.ADMIN.value: "admins",
        SIGNED_INTEGRATION: "signed integration",
    }
    expected = {
        event_type: ", ".join(names[p] for p in names if p in posters) or "nobody"
        for event_type, posters in EVENT_POSTERS.items()
    }

    assert {t: rows.get(t, "").strip() for t in expected} == expected
