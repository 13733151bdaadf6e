"""CTI call events: authentication (the telephony integration's signature for any agent, a
user's token or session only for itself), bad input, and the message reaching the agent's desk
over Redis pub/sub (the stream itself: tests/callcenter/test_desk_events.py)."""

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from callcenter.choices import Role
from callcenter.models import AgentProfile
from callcenter.redis_client import redis_client
from callcenter.services.cti import cti_call_event, cti_call_ref_phone
from callcenter.services.desk_streams import agent_channel, desk_event_split
from tests.callcenter.factories import CustomerFactory, PhoneFactory, UserFactory
from tests.signing import signed_headers

URL = "/api/cti/call-events/"
SECRET = "cti-test-secret"
SMS_SECRET = "sms-gateway-secret"
# Published by the test after its requests (see `subscriber`); no entry id starts so.
NOTHING_MORE = b"nothing-more"


@pytest.fixture(autouse=True)
def _secrets(settings: Any) -> None:
    settings.CTI_WEBHOOK_SECRETS = [SECRET]
    settings.SMS_WEBHOOK_SECRETS = [SMS_SECRET]


@pytest.fixture
def agent(db: None) -> Any:
    user = UserFactory(role=Role.AGENT, username="desk_agent")
    AgentProfile.objects.create(user=user, extension="8001")
    return user


@pytest.fixture
def caller(db: None) -> Any:
    customer = CustomerFactory(name="王芳")
    PhoneFactory(customer=customer, value="+8613800138000")
    return customer


@pytest.fixture
def subscriber(agent: Any) -> Iterator[Callable[[], dict[str, Any] | None]]:
    """A subscription to the agent's channel; call it to read the next message published so
    far, or None when there is none.

    The endpoint publishes before it answers, and Redis delivers a channel's messages in the
    order they were published: so a marker published now arrives after every message the
    requests made, and reading it first proves there was none, without waiting for a timeout.
    """
    channel = agent_channel(agent.pk)
    pubsub = redis_client().pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(channel)
    pubsub.get_message(timeout=1)  # the subscribe confirmation

    def _next() -> dict[str, Any] | None:
        redis_client().publish(channel, NOTHING_MORE)
        deadline = time.monotonic() + 30
        while (message := pubsub.get_message(timeout=1)) is None:
            assert time.monotonic() < deadline, "not even the marker arrived"
        if message["data"] == NOTHING_MORE:
            return None
        return json.loads(desk_event_split(message["data"])[1])

    yield _next
    pubsub.close()


def _signed(body: bytes, *, secret: str = SECRET, stamp: str | None = None) -> dict[str, str]:
    return signed_headers(body, secret=secret, path=URL, timestamp=stamp)


def _post_signed(body: dict[str, str], **sign: str) -> Any:
    raw = json.dumps(body).encode()
    return APIClient().post(URL, raw, content_type="application/json", **_signed(raw, **sign))


def _body(**overrides: str) -> dict[str, str]:
    return {
        "event": "ringing",
        "call_id": "call-1",
        "caller": "138 0013 8000",
        "agent": "desk_agent",
    } | overrides


def test_the_signed_telephony_integration_pops_any_agents_desk(
    agent: Any, caller: Any, subscriber: Callable
) -> None:
    response = _post_signed(_body())

    assert response.status_code == 202, response.content
    assert response.json() == {
        "event": "ringing",
        "call_id": "call-1",
        "phone": "+8613800138000",
        "known": True,
        "customer_id": caller.pk,
        "name": "王芳",
        "agent": "desk_agent",
        # the agent has no desk open (this test listens on the channel, as a desk server does)
        "delivered": 0,
    }
    message = subscriber()
    # the desk gets the number masked, and a reference to fetch the card by, never the number
    call_ref = message.pop("call_ref")
    assert message == {
        "event": "ringing",
        "call_id": "call-1",
        "phone": "+8613*****8000",
        "known": True,
        "customer_id": caller.pk,
        "name": "王芳",
    }
    assert cti_call_ref_phone(user_id=agent.pk, ref=call_ref) == "+8613800138000"
    assert cti_call_ref_phone(user_id=agent.pk + 1, ref=call_ref) is None


@pytest.mark.parametrize("role", [Role.AGENT, Role.SUPERVISOR, Role.ADMIN])
@pytest.mark.parametrize("named", ["desk_agent", "8001", "nobody-here"])
def test_a_user_token_cannot_post_for_another_agent(
    agent: Any, caller: Any, subscriber: Callable, role: str, named: str
) -> None:
    # given a colleague's token (an agent can name the admin the same way)
    colleague = UserFactory(role=role, username="colleague")
    token = Token.objects.create(user=colleague)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")

    response = client.post(URL, _body(agent=named), format="json")

    assert response.status_code == 403
    assert "only for itself" in response.json()["detail"]
    assert subscriber() is None


def test_a_user_token_posts_for_itself_by_name_or_extension(
    agent: Any, caller: Any, subscriber: Callable
) -> None:
    token = Token.objects.create(user=agent)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")

    by_name = client.post(URL, _body(), format="json")
    by_extension = client.post(URL, _body(agent="8001", call_id="call-2"), format="json")

    assert (by_name.status_code, by_extension.status_code) == (202, 202)
    assert subscriber()["call_id"] == "call-1"
    assert subscriber()["call_id"] == "call-2"


def test_the_agent_may_be_named_by_extension_and_unknown_callers_are_not_errors(
    agent: Any, subscriber: Callable, api_as: Callable
) -> None:
    response = api_as(agent).post(
        URL, _body(agent="8001", caller="+86 139 0000 0000"), format="json"
    )

    assert response.status_code == 202
    assert response.json()["known"] is False
    assert response.json()["customer_id"] is None
    assert subscriber()["phone"] == "+8613*****0000"


def test_a_signed_request_needs_no_user_and_a_replay_is_refused(
    agent: Any, caller: Any, subscriber: Callable
) -> None:
    body = json.dumps(_body()).encode()
    headers = _signed(body)
    client = APIClient()

    first = client.post(URL, body, content_type="application/json", **headers)
    replay = client.post(URL, body, content_type="application/json", **headers)

    assert first.status_code == 202
    assert subscriber()["customer_id"] == caller.pk
    assert replay.status_code == 403
    assert "replay" in replay.json()["detail"]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"secret": "wrong-secret"},
        {"stamp": "1000000000"},
        {"secret": SMS_SECRET},
    ],
    ids=["unsigned", "bad-signature", "stale-timestamp", "sms-gateway-secret"],
)
def test_anonymous_unsigned_or_badly_signed_requests_are_refused(
    agent: Any, subscriber: Callable, headers: dict[str, str]
) -> None:
    body = json.dumps(_body()).encode()
    extra = _signed(body, **headers) if headers else {}

    response = APIClient().post(URL, body, content_type="application/json", **extra)

    assert response.status_code in (401, 403)
    assert subscriber() is None


def test_a_user_without_a_role_is_refused(agent: Any, api_as: Callable) -> None:
    response = api_as(UserFactory(username="nobody")).post(URL, _body(), format="json")

    assert response.status_code == 403


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"event": "ringing"}, "call_id"),
        (_body(event="dialing"), "event"),
        (_body(caller="not a number"), "caller"),
        (_body(agent="nobody-here"), "agent"),
        (_body(caller=""), "caller"),
    ],
    ids=["missing-fields", "unknown-event", "invalid-caller", "unknown-agent", "empty-caller"],
)
def test_bad_input_is_a_400_naming_the_field(
    agent: Any, subscriber: Callable, body: dict[str, str], field: str
) -> None:
    response = _post_signed(body)

    assert response.status_code == 400
    assert field in response.json()
    assert subscriber() is None


def test_an_agent_without_an_open_desk_still_gets_a_202(agent: Any, api_as: Callable) -> None:
    response = api_as(agent).post(URL, _body(), format="json")

    assert response.status_code == 202
    assert response.json()["delivered"] == 0


def test_a_call_event_takes_one_query_per_lookup_and_one_redis_round_trip(
    agent: Any, caller: Any, subscriber: Callable, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under a saturated web tier every round trip waits its turn again: the agent comes with
    its roles in one query, the caller in one, and the call's reference is stored by the
    script that publishes the event."""
    # The first call loads the publishing script into Redis; the calls after it do not.
    cti_call_event(
        event="ringing", call_id="warm-up", caller="13800138000", agent="8001", posted_by=None
    )
    commands: list[str] = []
    execute = redis.Redis.execute_command

    def counted(client: redis.Redis, *args: Any, **options: Any) -> Any:
        commands.append(str(args[0]))
        return execute(client, *args, **options)

    with monkeypatch.context() as patch, CaptureQueriesContext(connection) as queries:
        patch.setattr(redis.Redis, "execute_command", counted)
        answer = cti_call_event(
            event="ringing", call_id="c1", caller="13800138000", agent="8001", posted_by=None
        )

    assert len(queries) == 2, [query["sql"] for query in queries]
    assert commands == ["EVALSHA"]
    assert (answer["agent"], answer["customer_id"]) == ("desk_agent", caller.pk)
    assert subscriber()["call_id"] == "warm-up"
    message = subscriber()
    assert message["call_id"] == "c1"
    assert cti_call_ref_phone(user_id=agent.pk, ref=message["call_ref"]) == "+8613800138000"


def test_only_staff_open_the_event_stream(client: Client, db: None) -> None:
    client.force_login(UserFactory(username="nobody"))

    assert client.get(reverse("desk-events")).status_code == 403
