"""The desk's live streams against a real gunicorn (gunicorn.conf.py: 2 workers x 64 threads,
production settings): 200 streams from many agents leave the API answering, and one agent's
fourth stream closes its first, whichever process holds it."""

import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token

from callcenter.choices import Role
from callcenter.services.desk_streams import desk_stream_process_limit
from tests.callcenter.factories import UserFactory
from tests.servers import gunicorn_server

WORKERS = 2
THREADS = 64  # gunicorn.conf.py's default
STREAMS = 200
# Each agent opens up to their own limit, so only the per-process limit can refuse streams.
AGENTS = -(-STREAMS // 3)
# How long /healthz and the screen-pop may take while the streams are open (they answer in
# milliseconds; without the limits they waited until a stream ended, minutes later).
QUICK_SECONDS = 2.0
READ_TIMEOUT = 20


@dataclass
class Stream:
    """A desk stream opened over a raw socket, as a browser's EventSource holds it."""

    sock: socket.socket
    reader: BinaryIO
    status: int
    headers: dict[str, str] = field(default_factory=dict)

    def read_until(self, marker: bytes) -> bool:
        """Read the body until `marker`; False if the stream ends first."""
        for line in self.reader:
            if marker in line:
                return True
            if line == b"0\r\n":  # the last chunk: the server ended the stream
                return False
        return False

    def ended(self) -> bool:
        """True when the server ends the stream before sending anything but heartbeats."""
        return not self.read_until(b"event: ")

    def close(self) -> None:
        self.reader.close()
        self.sock.close()


def _request(port: int, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", "X-Forwarded-Proto: https"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _open_stream(port: int, session: str) -> Stream:
    sock = socket.create_connection(("127.0.0.1", port), timeout=READ_TIMEOUT)
    sock.sendall(
        _request(port, "/desk/events/", {"Cookie": f"sessionid={session}", "Accept": "*/*"})
    )
    reader = sock.makefile("rb")
    status = int(reader.readline().split()[1])
    headers = {}
    for line in iter(reader.readline, b"\r\n"):
        name, _, value = line.decode().partition(":")
        headers[name.lower()] = value.strip()
    return Stream(sock, reader, status, headers)


def _timed_get(port: int, path: str, headers: dict[str, str]) -> tuple[int, float]:
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=READ_TIMEOUT) as sock:
        sock.sendall(_request(port, path, {**headers, "Connection": "close"}))
        status = int(sock.makefile("rb").readline().split()[1])
    return status, time.monotonic() - started


def _session(user: Any) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


@pytest.fixture
def agents(committed_rows: None) -> list[str]:
    """Session keys of AGENTS logged-in agents."""
    return [_session(UserFactory(role=Role.AGENT, username=f"flood{n}")) for n in range(AGENTS)]


@pytest.fixture
def server(agents: list[str], tmp_path: Path) -> Iterator[int]:
    with gunicorn_server(tmp_path / "gunicorn.log", env={"WEB_CONCURRENCY": str(WORKERS)}) as port:
        yield port


def test_two_hundred_streams_leave_healthz_and_the_screenpop_answering(
    server: int, agents: list[str]
) -> None:
    token = Token.objects.create(user=UserFactory(role=Role.AGENT, username="pbx_flood"))
    limit = WORKERS * desk_stream_process_limit(threads=THREADS)
    assert limit < WORKERS * THREADS

    # when 200 streams open, three per agent
    streams = [_open_stream(server, agents[n // 3]) for n in range(STREAMS)]
    try:
        live = [stream for stream in streams if stream.status == 200]
        refused = [stream for stream in streams if stream.status != 200]

        # then at most the processes' limits are live; the others were told to come back later
        assert 0 < len(live) <= limit
        assert {stream.status for stream in refused} == {503}
        assert all(int(stream.headers["retry-after"]) > 0 for stream in refused)
        assert all(stream.read_until(b"event: ready") for stream in live)
        # and the API answers quickly all the while
        answers = [
            _timed_get(server, path, headers)
            for _ in range(10)
            for path, headers in (
                ("/healthz", {}),
                ("/api/screenpop/?phone=13800138000", {"Authorization": f"Token {token.key}"}),
            )
        ]
        assert {status for status, _seconds in answers} == {200}
        slowest = max(seconds for _status, seconds in answers)
        assert slowest < QUICK_SECONDS, f"{len(live)} streams open; slowest answer {slowest:.3f} s"
    finally:
        for stream in streams:
            stream.close()


def test_the_fourth_stream_of_an_agent_closes_the_first_in_any_process(
    server: int, agents: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from callcenter.views import desk as desk_views

    monkeypatch.setattr(desk_views, "POLL_SECONDS", 0.05)
    session = agents[0]
    # given a stream held by this test's own process and two by the server's workers
    here = Client()
    here.cookies[settings.SESSION_COOKIE_NAME] = session
    first = here.get(reverse("desk-events"))
    first_chunks = iter(first.streaming_content)
    assert b"event: ready" in next(first_chunks)
    second, third = (_open_stream(server, session) for _ in range(2))
    assert second.read_until(b"event: ready")
    assert third.read_until(b"event: ready")

    # when the agent opens a fourth on the server, then a fifth
    fourth = _open_stream(server, session)
    assert fourth.read_until(b"event: ready")
    replaced = next(chunk for chunk in first_chunks if not chunk.startswith(b":"))
    fifth = _open_stream(server, session)
    try:
        # then the oldest stream, in the other process, is told so and ends; then the next one
        assert replaced.startswith(b"event: replaced\n")
        assert list(first_chunks) == []
        assert fifth.read_until(b"event: ready")
        assert second.read_until(b"event: replaced")
        assert second.ended()
        # and the three newest stay open (no event for them within a poll or two)
        for stream in (third, fourth, fifth):
            stream.sock.settimeout(1.5)
            with pytest.raises(TimeoutError):
                stream.read_until(b"event: replaced")
    finally:
        first.close()
        for stream in (second, third, fourth, fifth):
            stream.close()
