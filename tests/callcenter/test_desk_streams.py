"""Limits on the desk's live streams: a few per user (the oldest is told it was replaced), and
per process fewer than its threads (beyond that 503 with Retry-After). The same limits against
a real gunicorn: tests/callcenter/test_desk_streams_gunicorn.py.

Rows are committed: a stream closes its database connection, as it does in production.
"""

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from callcenter.choices import Role
from callcenter.redis_client import redis_client
from callcenter.services import desk_streams
from callcenter.services.desk_streams import (
    desk_stream_process_limit,
    desk_stream_slots,
    desk_stream_slots_configure,
)
from callcenter.views import desk as desk_views
from tests.callcenter.factories import UserFactory


@pytest.fixture(autouse=True)
def _fast_streams(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(desk_views, "POLL_SECONDS", 0.05)
    monkeypatch.setattr(desk_views, "STREAM_SECONDS", 30)
    yield
    desk_stream_slots_configure(threads=64)


def _desk(username: str) -> Client:
    client = Client()
    client.force_login(UserFactory(role=Role.AGENT, username=username))
    client.user_id = int(client.session["_auth_user_id"])
    return client


def _open(client: Client) -> tuple[Any, Iterator[bytes]]:
    """Open a stream and read its `ready` (it then counts among the user's streams)."""
    response = client.get(reverse("desk-events"))
    assert response.status_code == 200
    chunks = iter(response.streaming_content)
    assert b"event: ready" in next(chunks)
    return response, chunks


def _next_event(chunks: Iterator[bytes]) -> str:
    return next(chunk for chunk in chunks if not chunk.startswith(b":")).decode()


def test_a_fourth_stream_of_one_user_closes_the_oldest(committed_rows: None, settings: Any) -> None:
    # given three open desks of one agent and one of another agent
    assert settings.DESK_STREAMS_PER_USER == 3
    agent = _desk("streamer")
    other = _desk("bystander")
    streams = [_open(agent) for _ in range(3)]
    other_response, other_chunks = _open(other)

    # when the agent opens a fourth
    fourth, fourth_chunks = _open(agent)

    # then the oldest is told it was replaced and ends; the others keep listening
    first_response, first_chunks = streams[0]
    assert _next_event(first_chunks) == 'event: replaced\ndata: {"reason": "replaced"}\n\n'
    assert list(first_chunks) == []
    first_response.close()
    key = desk_streams.STREAMS_KEY_PREFIX + str(agent.user_id)
    assert redis_client().zcard(key) == 3
    assert b"event: replaced" not in next(other_chunks, b"")
    for response in [*(response for response, _ in streams[1:]), fourth, other_response]:
        response.close()
    assert redis_client().zcard(key) == 0


def test_the_stream_limit_per_user_is_a_setting(committed_rows: None, settings: Any) -> None:
    settings.DESK_STREAMS_PER_USER = 1
    agent = _desk("single")
    first, first_chunks = _open(agent)

    second, _ = _open(agent)

    assert "event: replaced" in _next_event(first_chunks)
    first.close()
    second.close()


def test_beyond_the_process_limit_a_stream_gets_503_and_a_slot_frees_on_close(
    committed_rows: None, settings: Any
) -> None:
    # given a process of 4 threads: streams may take 2 of them, whatever the users
    settings.DESK_STREAM_RESERVED_THREADS = 16
    slots = desk_stream_slots_configure(threads=4)
    assert slots.limit == 2
    held = [_open(_desk(f"user{n}")) for n in range(2)]

    # when a third user opens a stream
    late = _desk("late")
    refused = late.get(reverse("desk-events"))

    # then it is refused with a time to retry, and taking a slot back lets it in
    assert refused.status_code == 503
    assert int(refused["Retry-After"]) > 0
    assert slots.used == 2
    held[0][0].close()
    assert slots.used == 1
    response, _ = _open(late)
    response.close()
    held[1][0].close()
    assert desk_stream_slots().used == 0


def test_a_stream_never_read_still_gives_its_slot_back(committed_rows: None) -> None:
    slots = desk_stream_slots_configure(threads=64)

    response = _desk("quick").get(reverse("desk-events"))
    assert slots.used == 1
    response.close()

    assert slots.used == 0


@pytest.mark.parametrize(
    ("threads", "reserved", "limit"),
    [(64, 16, 48), (128, 16, 112), (16, 16, 8), (8, 16, 4), (2, 16, 1)],
)
def test_streams_leave_the_reserved_threads_and_at_least_half(
    settings: Any, threads: int, reserved: int, limit: int
) -> None:
    settings.DESK_STREAM_RESERVED_THREADS = reserved

    assert desk_stream_process_limit(threads=threads) == limit


def test_the_defaults_keep_a_hundred_agents_live_on_two_workers() -> None:
    # gunicorn.conf.py's defaults on two cores: 2 workers of 64 threads
    assert 2 * desk_stream_process_limit(threads=64) >= 100
