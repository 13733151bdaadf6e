"""A real HTTP server on loopback that behaves like an SMS gateway, for backend tests.

It records every request, deduplicates sends by their Idempotency-Key header (a repeated key
gets the first answer back and is not delivered again), and can be told to answer 500s, 400s
or to stall past the client's timeout.
"""

import base64
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return {key: values[0] for key, values in parse_qs(self.body.decode()).items()}


@dataclass
class Gateway:
    """State shared with the handler threads; the test reads and steers it."""

    url: str = ""
    token: str = "gw-token"
    twilio_sid: str = "AC123"
    twilio_token: str = "tw-secret"
    requests: list[Received] = field(default_factory=list)
    delivered: dict[str, Received] = field(default_factory=dict)
    answers: dict[str, bytes] = field(default_factory=dict)
    # Scripted failures: the next N requests answer this status (or stall when "timeout").
    fail_with: int | str | None = None
    fail_count: int = 0
    stall_seconds: float = 2.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_next(self, count: int, status: int | str = 500) -> None:
        self.fail_with, self.fail_count = status, count

    @property
    def delivery_count(self) -> int:
        return len(self.delivered)


def _handler(gateway: Gateway) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
            return

        def _answer(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:  # noqa: N802 - stdlib hook name
            length = int(self.headers.get("Content-Length", "0"))
            received = Received(self.path, dict(self.headers.items()), self.rfile.read(length))
            with gateway.lock:
                gateway.requests.append(received)
                failure = None
                if gateway.fail_count > 0:
                    gateway.fail_count -= 1
                    failure = gateway.fail_with
            if failure == "timeout":
                time.sleep(gateway.stall_seconds)
                self._answer(504, b"{}")
                return
            if failure is not None:
                self._answer(int(failure), b'{"error": "scripted failure"}')
                return
            if not self._authorized(received):
                self._answer(401, b'{"error": "bad credentials"}')
                return
            key = received.headers.get("Idempotency-Key", "")
            with gateway.lock:
                if key and key in gateway.answers:
                    self._answer(200, gateway.answers[key])
                    return
                message_id = f"msg-{len(gateway.delivered) + 1}"
                is_twilio = received.path.endswith("/Messages.json")
                answer = json.dumps(
                    {"sid": "SM" + message_id} if is_twilio else {"message_id": message_id}
                ).encode()
                gateway.delivered[key or message_id] = received
                gateway.answers[key] = answer
            self._answer(201 if is_twilio else 200, answer)

        def _authorized(self, received: Received) -> bool:
            auth = received.headers.get("Authorization", "")
            if received.path.endswith("/Messages.json"):
                expected = base64.b64encode(
                    f"{gateway.twilio_sid}:{gateway.twilio_token}".encode()
                ).decode()
                return auth == f"Basic {expected}"
            return auth == f"Bearer {gateway.token}"

    return Handler


class GatewayServer:
    """Context manager running a Gateway on 127.0.0.1 with a free port."""

    def __enter__(self) -> Gateway:
        self.gateway = Gateway()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.gateway))
        self.server.daemon_threads = True
        host, port = self.server.server_address[:2]
        self.gateway.url = f"http://{host}:{port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self.gateway

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
