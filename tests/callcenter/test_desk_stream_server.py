"""The desk's live stream against the real ASGI server: docker-compose.yml's `stream` command
(uvicorn, callcenter.asgi, production settings), a desk opened over a raw socket as a
browser's EventSource holds it, rings posted through the signed CTI webhook. Across a Redis
blip of the server's shared reader and across a restart of the server no ring is lost.
"""

import json
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import pytest
from django.conf import settings
from django.test import Client

from callcenter.choices import Role
from callcenter.redis_client import redis_client
from callcenter.services.desk_streams import HUB_CLIENT_NAME
from tests.callcenter.cti_calls import cti_ring
from tests.callcenter.factories import UserFactory
from tests.servers import free_port, uvicorn_server

SECRET = "stream-server-secret"
# A guard against a broken stream hanging the test (not a timing assertion).
READ_TIMEOUT = 20


@dataclass
class Stream:
    """A desk stream over a raw socket: its status, then its events."""

    sock: socket.socket
    reader: BinaryIO
    status: int

    def event(self) -> dict[str, str]:
        """The next event's fields (`id`, `event`, `data`), heartbeats and chunk sizes
        skipped."""
        fields: dict[str, str] = {}
        for raw in self.reader:
            line = raw.decode().rstrip("\r\n")
            if not line:
                if "event" in fields:
                    return fields
                fields = {}
                continue
            name, colon, value = line.partition(": ")
            if colon and name in ("id", "event", "data", "retry"):
                fields[name] = value
        raise AssertionError("the stream ended")

    def close(self) -> None:
        self.reader.close()
        self.sock.close()


def _open(port: int, session: str, last_event_id: str = "") -> Stream:
    sock = socket.create_connection(("127.0.0.1", port), timeout=READ_TIMEOUT)
    headers = [
        "GET /desk/events/ HTTP/1.1",
        "Host: 127.0.0.1",
        "X-Forwarded-Proto: https",
        "Accept: text/event-stream",
        f"Cookie: {settings.SESSION_COOKIE_NAME}={session}",
    ]
    if last_event_id:
        headers.append(f"Last-Event-ID: {last_event_id}")
    sock.sendall(("\r\n".join(headers) + "\r\n\r\n").encode())
    reader = sock.makefile("rb")
    status = int(reader.readline().split()[1])
    for line in iter(reader.readline, b"\r\n"):
        assert line, "the server closed the connection"
    return Stream(sock, reader, status)


def _ring(call_id: str, agent: str) -> dict[str, Any]:
    return cti_ring(call_id, agent, secret=SECRET)


def _call_id(event: dict[str, str]) -> str:
    assert event["event"] == "call"
    return json.loads(event["data"])["call_id"]


def _kill_reader_connection(process: subprocess.Popen) -> None:
    """CLIENT KILL the server's one pub/sub connection (by its name), as a Redis blip would."""
    name = f"{HUB_CLIENT_NAME}-{process.pid}"
    clients = [c for c in redis_client().client_list() if c.get("name") == name]
    assert len(clients) == 1
    redis_client().client_kill_filter(_id=clients[0]["id"])


@pytest.fixture
def desk(committed_rows: None, settings: Any) -> tuple[str, str]:
    """An agent's user name and session."""
    settings.CTI_WEBHOOK_SECRETS = [SECRET]
    client = Client()
    client.force_login(UserFactory(role=Role.AGENT, username="asgi_desk"))
    return "asgi_desk", client.cookies[settings.SESSION_COOKIE_NAME].value


def test_a_ring_reaches_the_desk_and_none_is_lost_across_a_blip_and_a_restart(
    desk: tuple[str, str], tmp_path: Path
) -> None:
    agent, session = desk
    port = free_port()
    log = tmp_path / "uvicorn.log"
    with uvicorn_server(log, port=port) as (_port, process):
        # a desk is open on the stream server; a ring posted through the CTI path reaches it
        stream = _open(port, session)
        assert stream.status == 200
        assert stream.event()["event"] == "ready"
        assert _ring("before-blip", agent)["delivered"] == 1
        assert _call_id(stream.event()) == "before-blip"

        # when Redis drops the server's reader connection, a ring right then still arrives, once
        _kill_reader_connection(process)
        _ring("during-blip", agent)
        during = stream.event()
        assert _call_id(during) == "during-blip"
        _ring("after-blip", agent)
        assert _call_id(stream.event()) == "after-blip"
        last_seen = during["id"]
    stream.close()

    # while the server restarts, a call rings; the browser reconnects with Last-Event-ID
    _ring("while-down", agent)
    with uvicorn_server(log, port=port):
        again = _open(port, session, last_event_id=last_seen)
        assert again.status == 200
        assert again.event()["event"] == "ready"
        # the call after the last one it had seen, then the one it missed, in order
        assert [_call_id(again.event()), _call_id(again.event())] == ["after-blip", "while-down"]
        again.close()
