"""The desk's live stream as an async view, through Django's ASGI handler, with real Redis:
who may open it, calls posted through the signed CTI webhook arriving with their SSE ids, the
replay of the calls a reconnecting desk missed (Last-Event-ID), a Redis blip of the process's
shared reader, and the limit of streams per user. Against the real uvicorn process:
tests/callcenter/test_desk_stream_server.py.

Each test runs one scenario in one event loop (`async_to_sync`), as a uvicorn worker runs its
desks. Rows are committed: the handler closes and opens database connections as in production.
"""

import asyncio
import json
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings as django_settings
from django.shortcuts import resolve_url
from django.test import Client
from django.urls import reverse

from callcenter.asgi import application
from callcenter.choices import Role
from callcenter.redis_client import redis_client
from callcenter.services import desk_streams
from callcenter.services.cti import cti_publish
from callcenter.views import desk as desk_views
from tests.callcenter.cti_calls import cti_ring
from tests.callcenter.factories import UserFactory

SECRET = "desk-events-secret"
# A guard against a test waiting forever on a broken stream (not a timing assertion).
GUARD_SECONDS = 20


@pytest.fixture(autouse=True)
def _quick(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.CTI_WEBHOOK_SECRETS = [SECRET]
    monkeypatch.setattr(desk_views, "HEARTBEAT_SECONDS", 0.05)


def _scenario(scenario: Callable[[], Awaitable[None]]) -> None:
    async_to_sync(scenario)()


@dataclass
class Desk:
    """A signed-in browser: its session cookie and its user."""

    session: str
    user_id: int


def _desk(username: str, role: str | None = Role.AGENT) -> Desk:
    user = UserFactory(role=role, username=username)
    client = Client()
    client.force_login(user)
    return Desk(client.cookies[django_settings.SESSION_COOKIE_NAME].value, user.pk)


class Stream:
    """A request to the desk's stream through Django's ASGI handler, as uvicorn makes it: the
    answer's status and headers, then its events one by one (heartbeats skipped). `close()`
    is the browser going away: the server cancels the response, as it does on a disconnect."""

    def __init__(self, session: str, query: str = "", **headers: str) -> None:
        self._sent: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._gone = asyncio.Event()
        self._asked = False
        cookie = f"{django_settings.SESSION_COOKIE_NAME}={session}" if session else ""
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": reverse("desk-events"),
            "raw_path": reverse("desk-events").encode(),
            "root_path": "",
            "query_string": query.encode(),
            "headers": [
                (b"host", b"testserver"),
                (b"cookie", cookie.encode()),
                *((name.lower().encode(), value.encode()) for name, value in headers.items()),
            ],
            "client": ("127.0.0.1", 40000),
            "server": ("testserver", 80),
        }
        self._task = asyncio.create_task(application(scope, self._receive, self._sent.put))
        self.status = 0
        self.headers: dict[str, str] = {}

    async def _receive(self) -> dict[str, Any]:
        if not self._asked:
            self._asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await self._gone.wait()
        return {"type": "http.disconnect"}

    async def start(self) -> "Stream":
        start = await asyncio.wait_for(self._sent.get(), GUARD_SECONDS)
        self.status = start["status"]
        self.headers = {name.decode().lower(): value.decode() for name, value in start["headers"]}
        return self

    async def event(self) -> dict[str, str]:
        """The next event's fields (`id`, `event`, `data`); StopAsyncIteration at the end."""
        while True:
            message = await asyncio.wait_for(self._sent.get(), GUARD_SECONDS)
            chunk = message.get("body", b"").decode()
            if not message.get("more_body"):
                raise StopAsyncIteration
            if not chunk.startswith(":"):
                break
        fields = {}
        for line in chunk.strip().splitlines():
            name, _colon, value = line.partition(": ")
            fields[name] = value
        return fields

    async def ended(self) -> bool:
        """True when the stream ends before another event."""
        try:
            await self.event()
        except StopAsyncIteration:
            return True
        return False

    async def close(self) -> None:
        self._gone.set()
        await asyncio.wait_for(self._task, GUARD_SECONDS)


async def _open(desk: Desk, query: str = "", **headers: str) -> tuple[Stream, dict[str, str]]:
    """Open the desk's stream and read its `ready`."""
    stream = await Stream(desk.session, query, **headers).start()
    assert stream.status == 200
    ready = await stream.event()
    assert ready["event"] == "ready"
    return stream, ready


def _ring(call_id: str, agent: str) -> dict[str, Any]:
    """A ringing call posted by the telephony integration, signed, through the API."""
    return cti_ring(call_id, agent, secret=SECRET, caller="138 0013 8000")


def test_a_ring_posted_through_the_cti_webhook_reaches_the_desk_with_its_id(
    committed_rows: None,
) -> None:
    desk = _desk("events_agent")

    async def scenario() -> None:
        stream, ready = await _open(desk)
        assert stream.headers["content-type"] == "text/event-stream"
        assert stream.headers["cache-control"] == "no-cache"
        assert stream.headers["x-accel-buffering"] == "no"
        assert desk_streams.desk_event_id_valid(ready["id"])
        assert ready["retry"] == str(desk_views.RETRY_MILLISECONDS)

        posted = await sync_to_async(_ring)("c-live", "events_agent")

        call = await stream.event()
        assert posted["delivered"] == 1
        assert call["event"] == "call"
        assert desk_streams.desk_event_newer(call["id"], ready["id"])
        message = json.loads(call["data"])
        assert {key: message[key] for key in ("event", "call_id", "known")} == {
            "event": "ringing",
            "call_id": "c-live",
            "known": False,
        }
        # the number masked; the card is fetched by the call's reference
        assert message["phone"].endswith("8000")
        assert "*" in message["phone"]
        assert message["call_ref"]
        await stream.close()

    _scenario(scenario)
    # the closed stream no longer counts among the agent's desks
    assert _ring("c-after", "events_agent")["delivered"] == 0


def test_only_staff_open_the_stream_and_anonymous_visitors_go_to_the_login(
    committed_rows: None,
) -> None:
    nobody = _desk("no_role", role=None)
    supervisor = _desk("a_supervisor", role=Role.SUPERVISOR)

    async def scenario() -> None:
        refused = await Stream(nobody.session).start()
        assert refused.status == 403
        anonymous = await Stream("").start()
        assert anonymous.status == 302
        assert anonymous.headers["location"].startswith(resolve_url(django_settings.LOGIN_URL))
        stream, _ready = await _open(supervisor)
        await stream.close()

    _scenario(scenario)


def test_the_wsgi_server_refuses_to_hold_the_stream(committed_rows: None) -> None:
    client = Client()
    client.force_login(UserFactory(role=Role.AGENT, username="wsgi_desk"))

    response = client.get(reverse("desk-events"))

    assert response.status_code == desk_views.MISDIRECTED
    assert not response.streaming


def test_a_reconnecting_desk_gets_the_rings_it_missed_once_and_in_order(
    committed_rows: None,
) -> None:
    desk = _desk("reconnecting")
    user_id = desk.user_id

    async def scenario() -> None:
        stream, ready = await _open(desk)
        await stream.close()
        # while the desk is away, two calls ring
        for call_id in ("missed-1", "missed-2"):
            cti_publish(user_id=user_id, message={"event": "ringing", "call_id": call_id})

        # the browser reconnects with the id of the last event it got: both arrive, in order
        again, _ = await _open(desk, **{"Last-Event-ID": ready["id"]})
        first, second = await again.event(), await again.event()
        assert [json.loads(e["data"])["call_id"] for e in (first, second)] == [
            "missed-1",
            "missed-2",
        ]
        await again.close()

        # the desk's script, opening a new stream, passes the id in the query: only the second
        resumed, _ = await _open(desk, f"last_event_id={first['id']}")
        assert await resumed.event() == second
        # and a live call follows, once
        cti_publish(user_id=user_id, message={"event": "answered", "call_id": "missed-2"})
        live = await resumed.event()
        assert json.loads(live["data"]) == {"event": "answered", "call_id": "missed-2"}
        await resumed.close()

    _scenario(scenario)


def test_a_new_desk_starts_from_now_and_a_bad_last_event_id_is_ignored(
    committed_rows: None,
) -> None:
    desk = _desk("fresh_desk")
    user_id = desk.user_id

    async def scenario() -> None:
        cti_publish(user_id=user_id, message={"event": "ringing", "call_id": "before"})
        stream, _ready = await _open(desk, **{"Last-Event-ID": "not-an-id"})
        cti_publish(user_id=user_id, message={"event": "ringing", "call_id": "after"})
        assert json.loads((await stream.event())["data"])["call_id"] == "after"
        await stream.close()

    _scenario(scenario)


def _kill_hub_connection() -> int:
    """CLIENT KILL this process's shared reader connection(s); returns how many."""
    name = f"{desk_streams.HUB_CLIENT_NAME}-{os.getpid()}"
    clients = [c for c in redis_client().client_list() if c.get("name") == name]
    for client in clients:
        redis_client().client_kill_filter(_id=client["id"])
    return len(clients)


def test_a_redis_blip_of_the_shared_reader_loses_no_ring(committed_rows: None) -> None:
    desk = _desk("blip_desk")
    user_id = desk.user_id

    async def scenario() -> None:
        stream, _ready = await _open(desk)
        hub = desk_streams.desk_hub()
        assert hub.listeners == 1
        # a call logged while pub/sub could not carry it (only the log holds it) ...
        redis_client().xadd(
            desk_streams.EVENTS_KEY_PREFIX + str(user_id),
            {"m": json.dumps({"event": "ringing", "call_id": "during-blip"})},
        )
        # ... and the reader's connection is killed: it connects again and the desk catches up
        assert _kill_hub_connection() == 1
        caught_up = await stream.event()
        assert json.loads(caught_up["data"])["call_id"] == "during-blip"
        # live calls flow again over the new connection, once each
        cti_publish(user_id=user_id, message={"event": "ringing", "call_id": "after-blip"})
        assert json.loads((await stream.event())["data"])["call_id"] == "after-blip"
        await stream.close()
        assert hub.listeners == 0

    _scenario(scenario)


def test_a_fourth_stream_of_one_user_closes_the_oldest(committed_rows: None, settings: Any) -> None:
    assert settings.DESK_STREAMS_PER_USER == 3
    agent = _desk("streamer")
    other = _desk("bystander")
    key = desk_streams.STREAMS_KEY_PREFIX + str(agent.user_id)

    async def scenario() -> None:
        streams = [(await _open(agent))[0] for _ in range(3)]
        bystander, _ = await _open(other)

        fourth, _ = await _open(agent)

        # the oldest is told it was replaced and ends; the others keep listening
        assert await streams[0].event() == {"event": "replaced", "data": '{"reason": "replaced"}'}
        assert await streams[0].ended()
        assert redis_client().zcard(key) == 3
        cti_publish(user_id=other.user_id, message={"event": "ringing", "call_id": "other"})
        assert (await bystander.event())["event"] == "call"
        for stream in [*streams[1:], fourth, bystander]:
            await stream.close()
        assert redis_client().zcard(key) == 0

    _scenario(scenario)


def test_the_stream_limit_per_user_is_a_setting(committed_rows: None, settings: Any) -> None:
    settings.DESK_STREAMS_PER_USER = 1
    agent = _desk("single")

    async def scenario() -> None:
        first, _ = await _open(agent)
        second, _ = await _open(agent)
        assert (await first.event())["event"] == "replaced"
        await second.close()

    _scenario(scenario)


def test_a_stream_ends_after_its_time_so_the_browser_reconnects(
    committed_rows: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(desk_views, "STREAM_SECONDS", 0.2)
    desk = _desk("short_stream")

    async def scenario() -> None:
        stream, _ = await _open(desk)
        assert await stream.ended()
        assert desk_streams.desk_hub().listeners == 0

    _scenario(scenario)
