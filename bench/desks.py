"""A thousand live desks: ring-to-desk latency at the client, and what open desks cost the API.

    python bench/desks.py [--desks 1000] [--rate 50] [--seconds 15] [--customers 50000] [--reuse]

The screen-pop benchmark's database (built here under DESKS_DB, default bench_desks, with
`--customers`), plus `--desks` agent users, each with a signed-in session. The servers run as
production does: gunicorn with gunicorn.conf.py for pages and the API, and the desk's stream
server (uvicorn, callcenter.asgi, one process) beside it. A client process holds the desks:
asyncio on raw sockets, one connection per desk as a browser's EventSource holds it. It posts
calls at `--rate` per second to random agents through the real signed CTI webhook (gunicorn).
Latency is measured at the client on one clock, from the post sent to the `call` event received
by the desk (ring to desk: the message the page pops the card with). With `--cards` each desk
also fetches the rendered card (`/desk/card/?call=`) as the page does, and without desks the
agent looks it up by hand (`?phone=`), post -> card received. Meanwhile `wrk` loads the
screen-pop API as bench/screenpop.py does: paced at `--pop-rate` (latency), /healthz paced,
then saturated (capacity); the latencies are also split by the calls posted in the paced and
in the saturated runs.

Conditions in the same run, each with calls posted at `--rate`, in the order A B B A so a
machine that drifts during the run (others' load, warming caches) weighs on both alike, then
for each further round of `--rounds` (default 2) the same four reversed and again (B A A B,
named `<condition>_round<n>`):
  - without_desks, then without_desks_again last: no desk open (the calls go to agents with
    none);
  - with_desks, then with_desks_again: `--desks` desks open on the stream server;
  - threaded_baseline: the threaded stream this replaced (the code at BASELINE_COMMIT, taken
    from git), `--desks` desks opened on gunicorn: how many it holds, what the others get,
    and what happens to /healthz and the screen-pop meanwhile.
Before each condition the stream server is left to finish the last one's desks (closing a
thousand streams takes it seconds), and each condition records the CPU time the stream server
and the desk client used (what the open desks cost the machine beside the API). Ratios are the
mean of every with-desks condition over the mean of every without (targets: ring to desk p99 <
200 ms and every call delivered once in each; screen-pop throughput and paced p99 within 10%),
beside the spread of the paced p99 within each side (`paced_p99_spread`: the run's own noise,
which a ratio inside it does not resolve). Prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import platform
import random
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# Its own database, so the screen-pop benchmark's is not touched (read by bench.screenpop).
os.environ.setdefault("SCREENPOP_DB", os.environ.get("DESKS_DB", "bench_desks"))

from bench import screenpop  # noqa: E402 - needs the project root on the path and SCREENPOP_DB

# The last commit with the threaded stream (one gunicorn thread per open desk).
BASELINE_COMMIT = "bd2098417c5a0135f1a1b4fbf74897d4767e502b"
SECRET = "bench-desks-cti-secret"  # noqa: S105 - the benchmark's own servers only
CTI_PATH = "/api/cti/call-events/"
USER_PREFIX = "bench_desk_"
TARGET_RING_TO_CARD_P99_MS = 200
TARGET_SCREENPOP_RATIO = 0.10
# Desks opened at once while connecting (a browser fleet does not arrive in one instant).
OPEN_CONCURRENCY = 100
# After the last call is posted, how long the client waits for the last cards.
DRAIN_SECONDS = 3


def _percentiles(values: list[float]) -> dict[str, float | int]:
    if not values:
        return {"count": 0}
    ordered = sorted(values)

    def at(share: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 1)

    return {
        "count": len(ordered),
        "p50": at(0.50),
        "p95": at(0.95),
        "p99": at(0.99),
        "max": round(ordered[-1], 1),
    }


# --- the client process: desks, calls, cards ----------------------------------------------


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    status = int((await reader.readline()).split()[1])
    headers = {}
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _colon, value = line.decode().partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers


async def _chunks(reader: asyncio.StreamReader) -> Any:
    """The chunks of a chunked HTTP body."""
    while True:
        size = int((await reader.readline()).split(b";")[0], 16)
        if size == 0:
            return
        chunk = await reader.readexactly(size)
        await reader.readexactly(2)
        yield chunk


class Client:
    """The desks and the calls of one condition (see the module docstring)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        sessions = json.loads(Path(args.sessions).read_text())
        self.sessions = sessions[: args.desks]
        self.agents = {entry["username"]: entry["session"] for entry in sessions}
        self.open_status: dict[int, int] = {}
        self.ready = 0
        self.posted: dict[str, int] = {}
        # (post time in ns, milliseconds) of each call: event received, card received.
        self.event_ms: list[tuple[int, float]] = []
        self.card_ms: list[tuple[int, float]] = []
        self.post_ms: list[float] = []
        self.card_errors = 0
        self.post_errors = 0
        self.reconnects = 0
        self.seen: set[str] = set()
        self.duplicates = 0
        self._ready_event = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()

    def _request(self, path: str, session: str = "", extra: str = "") -> bytes:
        cookie = f"Cookie: sessionid={session}\r\n" if session else ""
        return (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-Proto: https\r\n"
            f"{cookie}{extra}\r\n"
        ).encode()

    async def desk(self, index: int, session: str, gate: asyncio.Semaphore) -> None:
        last_id = ""
        first = True
        while True:
            async with gate if first else _null():
                try:
                    reader, writer = await asyncio.open_connection(
                        "127.0.0.1", self.args.stream_port
                    )
                    resume = f"Last-Event-ID: {last_id}\r\n" if last_id else ""
                    writer.write(
                        self._request(
                            "/desk/events/", session, resume + "Accept: text/event-stream\r\n"
                        )
                    )
                    status, _headers = await _read_head(reader)
                except OSError:
                    status = 0
                self.open_status[index] = status
                if status != 200:
                    if first:
                        self._count_ready()
                    return
            try:
                async for chunk in _chunks(reader):
                    text = chunk.decode()
                    fields = dict(
                        line.split(": ", 1) for line in text.strip().splitlines() if ": " in line
                    )
                    last_id = fields.get("id", last_id)
                    if fields.get("event") == "ready" and first:
                        first = False
                        self._count_ready()
                    elif fields.get("event") == "call":
                        self._ring(json.loads(fields["data"]), session)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                pass
            writer.close()
            # The stream ended (its time, a restart): reconnect as EventSource does.
            self.reconnects += 1
            await asyncio.sleep(0.5)

    def _count_ready(self) -> None:
        self.ready += 1
        if self.ready >= len(self.sessions):
            self._ready_event.set()

    def _ring(self, call: dict[str, Any], session: str) -> None:
        received = time.monotonic_ns()
        call_id = call["call_id"]
        if call_id in self.seen:
            self.duplicates += 1
            return
        self.seen.add(call_id)
        posted = self.posted.get(call_id)
        if posted is None:
            return
        self.event_ms.append((posted, (received - posted) / 1e6))
        if self.args.cards:
            path = f"/desk/card/?call={call['call_ref']}&call_id={call['call_id']}"
            task = asyncio.create_task(self._card(path, session, posted))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _card(self, path: str, session: str, posted: int) -> None:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.args.web_port)
            writer.write(self._request(path, session, "Connection: close\r\n"))
            status, _headers = await _read_head(reader)
            await reader.read()
            writer.close()
        except OSError:
            status = 0
        if status == 200:
            self.card_ms.append((posted, (time.monotonic_ns() - posted) / 1e6))
        else:
            self.card_errors += 1

    async def post(self, number: int) -> None:
        call_id = f"bench-{number}"
        agent = random.choice(list(self.agents))  # noqa: S311 - a load pattern, not a secret
        body = json.dumps(
            {"event": "ringing", "call_id": call_id, "caller": "13900000001", "agent": agent}
        ).encode()
        stamp = str(int(time.time()))
        message = f"{stamp}.POST.{CTI_PATH}.".encode() + body
        signature = hmac.new(SECRET.encode(), message, hashlib.sha256).hexdigest()
        request = (
            f"POST {CTI_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-Proto: https\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"X-Timestamp: {stamp}\r\nX-Signature: {signature}\r\nConnection: close\r\n\r\n"
        ).encode() + body
        posted = self.posted[call_id] = time.monotonic_ns()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.args.web_port)
            writer.write(request)
            status, _headers = await _read_head(reader)
            answer = await reader.read()
            writer.close()
        except OSError:
            status = 0
        if status != 202:
            self.post_errors += 1
            return
        self.post_ms.append((time.monotonic_ns() - posted) / 1e6)
        if self.args.cards and not self.sessions:
            # No desk open: the agent looks the caller up by hand, the same card.
            phone = quote(json.loads(answer)["phone"])
            path = f"/desk/card/?phone={phone}&call_id={call_id}"
            await self._card(path, self.agents[agent], posted)

    async def run(self) -> dict[str, Any]:
        gate = asyncio.Semaphore(OPEN_CONCURRENCY)
        began = time.monotonic()
        desks = [
            asyncio.create_task(self.desk(index, entry["session"], gate))
            for index, entry in enumerate(self.sessions)
        ]
        if self.sessions:
            await asyncio.wait_for(self._ready_event.wait(), 600)
        opened = {
            "desks": len(self.sessions),
            "open_seconds": round(time.monotonic() - began, 2),
            "statuses": _count(self.open_status.values()),
        }
        print("READY " + json.dumps(opened), flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.readline)  # "go"
        interval = 1 / self.args.rate
        start = loop.time()
        cpu_start = time.process_time()
        number = 0
        posts: set[asyncio.Task[None]] = set()
        while loop.time() - start < self.args.ring_seconds:
            number += 1
            task = asyncio.create_task(self.post(number))
            posts.add(task)
            task.add_done_callback(posts.discard)
            await asyncio.sleep(max(0.0, start + number * interval - loop.time()))
        await asyncio.sleep(DRAIN_SECONDS)
        cpu_seconds = time.process_time() - cpu_start
        for task in desks:
            task.cancel()
        received = len(self.event_ms)
        return {
            **opened,
            "calls_posted": number,
            "post_errors": self.post_errors,
            "calls_received": received,
            "duplicates": self.duplicates,
            "reconnects": self.reconnects,
            "post_ms": _percentiles(self.post_ms),
            "ring_to_event_ms": _percentiles([ms for _posted, ms in self.event_ms]),
            "ring_to_card_ms": _percentiles([ms for _posted, ms in self.card_ms]),
            "card_errors": self.card_errors,
            "client_cpu_seconds": round(cpu_seconds, 2),
            "calls_seconds": round(loop.time() - start, 2),
            "samples": {"event": self.event_ms, "card": self.card_ms},
        }


class _null:
    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        return None


def _count(values: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[str(value)] = counts.get(str(value), 0) + 1
    return counts


# --- set-up: desk users and their sessions --------------------------------------------------


def make_users(desks: int, path: Path) -> None:
    """`desks` agents (made once), each with a new signed-in session; written to `path`."""
    from bench.refresh import _setup_django

    _setup_django(screenpop.BENCH_DB)
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group, User

    from callcenter.choices import Role

    names = [f"{USER_PREFIX}{n:05d}" for n in range(desks)]
    existing = set(User.objects.filter(username__in=names).values_list("username", flat=True))
    password = make_password(None)
    User.objects.bulk_create(
        [User(username=name, password=password) for name in names if name not in existing]
    )
    users = list(User.objects.filter(username__in=names).order_by("username"))
    group = Group.objects.get_or_create(name=Role.AGENT)[0]
    through = User.groups.through
    through.objects.bulk_create(
        [through(user_id=user.pk, group_id=group.pk) for user in users], ignore_conflicts=True
    )
    store = import_module(settings.SESSION_ENGINE).SessionStore
    backend = "django.contrib.auth.backends.ModelBackend"
    entries = []
    for user in users:
        session = store()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = backend
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        entries.append({"username": user.username, "session": session.session_key})
    path.write_text(json.dumps(entries))


# --- the servers ------------------------------------------------------------------------------


# gunicorn's threads per worker beside the stream server: it no longer holds streams, and
# each busy thread may keep a PostgreSQL connection (this machine's server allows 100, shared).
WEB_THREADS = 16


def _server_env(port: int, threads: int | None = WEB_THREADS) -> dict[str, str]:
    """The servers' environment; `threads` None keeps gunicorn.conf.py's default (the
    threaded baseline, which needs its threads for the streams)."""
    return {
        **screenpop._gunicorn_env(port),
        **({"GUNICORN_THREADS": str(threads)} if threads else {}),
        "CTI_WEBHOOK_SECRETS": SECRET,
        # 50 calls/s from one address: the webhook throttle (20/s by default) must let them in.
        "WEBHOOK_THROTTLE_RATE": "1000000/min",
        "GUNICORN_ACCESS_LOG": "",
    }


def _wait_http(port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"a server exited; see {log}:\n{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):  # noqa: S310
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"a server did not answer within 90 s; see {log}")


def _start(
    command: list[str],
    port: int,
    log: Path,
    cwd: Path = ROOT,
    threads: int | None = WEB_THREADS,
    extra_env: dict[str, str] | None = None,
) -> subprocess.Popen:
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env={**_server_env(port, threads), **(extra_env or {})},
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    _wait_http(port, process, log)
    return process


def start_gunicorn(
    port: int, log: Path, cwd: Path = ROOT, threads: int | None = WEB_THREADS
) -> subprocess.Popen:
    screenpop.static_collect(cwd)
    gunicorn = Path(sys.executable).parent / "gunicorn"
    command = [str(gunicorn), "-c", str(cwd / "gunicorn.conf.py"), "callcenter.wsgi:application"]
    return _start(command, port, log, cwd, threads)


# docker-compose.yml's `stream` service: its database connection pool (STREAM_DB_POOL_SIZE).
STREAM_DB_POOL_SIZE = 8


def start_stream_server(port: int, log: Path) -> subprocess.Popen:
    """As docker-compose.yml's `stream` service runs it, one worker, its connection pool, no
    access log."""
    command = [sys.executable, "-m", "uvicorn", "callcenter.asgi:application"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    command += ["--lifespan", "off", "--timeout-graceful-shutdown", "1", "--no-access-log"]
    return _start(command, port, log, extra_env={"DB_POOL_SIZE": str(STREAM_DB_POOL_SIZE)})


def _processes(process: subprocess.Popen) -> list[Any]:
    import psutil

    parent = psutil.Process(process.pid)
    return [parent, *parent.children(recursive=True)]


def _rss_mb(process: subprocess.Popen) -> float:
    return round(sum(p.memory_info().rss for p in _processes(process)) / 2**20, 1)


def _cpu_seconds(process: subprocess.Popen) -> float:
    """User and system CPU time the server's processes used so far."""
    return sum(p.cpu_times().user + p.cpu_times().system for p in _processes(process))


# Before a condition, the stream server must be done with the last one's desks (closing a
# thousand streams keeps it busy for seconds): at most this share of a core over a second.
SETTLED_CPU_SHARE = 0.1
SETTLE_SECONDS_MAX = 60


def _settle(process: subprocess.Popen) -> float:
    """Wait until the server is idle (SETTLED_CPU_SHARE); returns the seconds waited."""
    began = time.monotonic()
    while time.monotonic() - began < SETTLE_SECONDS_MAX:
        before = _cpu_seconds(process)
        time.sleep(1)
        if _cpu_seconds(process) - before < SETTLED_CPU_SHARE:
            break
    return round(time.monotonic() - began, 1)


# --- one condition ----------------------------------------------------------------------------


def condition(
    args: argparse.Namespace,
    *,
    desks: int,
    web_port: int,
    stream_port: int,
    token: str,
    directory: Path,
    stream: subprocess.Popen | None = None,
) -> dict[str, Any]:
    """Open `desks` desks, then post calls while wrk loads the screen-pop and /healthz; with
    `stream`, the CPU time that server used meanwhile (the desks' opening excluded)."""
    runs = 3
    settled = _settle(stream) if stream else 0.0
    client = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--phase",
            "client",
            "--desks",
            str(desks),
            "--sessions",
            str(directory / "sessions.json"),
            "--web-port",
            str(web_port),
            "--stream-port",
            str(stream_port),
            "--rate",
            str(args.rate),
            "--ring-seconds",
            str(runs * args.seconds + 2),
            *(["--cards"] if args.cards else []),
        ],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert client.stdin is not None
    assert client.stdout is not None
    line = client.stdout.readline()
    if not line.startswith("READY "):
        client.kill()
        raise SystemExit(f"the desk client failed: {line}")
    stream_cpu = _cpu_seconds(stream) if stream else 0.0
    client.stdin.write("go\n")
    client.stdin.flush()
    time.sleep(1)
    common = {
        "port": web_port,
        "token": token,
        "script": directory / "screenpop.lua",
        "connections": args.connections,
        "seconds": args.seconds,
    }
    pop = {**common, "path": "/api/screenpop/?phone=", "numbers": directory / "numbers.txt"}
    health = {**common, "path": "/healthz", "numbers": None}
    figures: dict[str, Any] = {}
    windows: dict[str, tuple[int, int]] = {}
    for name, run in (
        ("screenpop_paced", {**pop, "rate": args.pop_rate}),
        ("healthz_paced", {**health, "rate": args.pop_rate}),
        ("screenpop", pop),
    ):
        began = time.monotonic_ns()
        figures[name] = screenpop.run_wrk(**run)
        windows[name] = (began, time.monotonic_ns())
    output, _ = client.communicate(timeout=120)
    if stream:
        figures["stream_server_cpu_seconds"] = round(_cpu_seconds(stream) - stream_cpu, 2)
        figures["stream_server_settled_seconds"] = settled
    desks = json.loads(output.strip().splitlines()[-1])
    samples = desks.pop("samples")
    # The calls posted while the API was paced (what an agent sees on a busy day) and while
    # it was saturated (every gunicorn thread queued: the card waits its turn).
    paced = (windows["screenpop_paced"][0], windows["healthz_paced"][1])
    for label, (start, end) in (("paced", paced), ("saturated", windows["screenpop"])):
        for kind in ("event", "card"):
            inside = [ms for posted, ms in samples[kind] if start <= posted < end]
            desks[f"ring_to_{kind}_ms_while_{label}"] = _percentiles(inside)
    figures["desks"] = desks
    return figures


def _baseline_tree(directory: Path) -> Path:
    tree = directory / "baseline"
    tree.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", BASELINE_COMMIT],
        capture_output=True,
        check=True,
    )
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    return tree


def measure(args: argparse.Namespace, token: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-desks-") as tmp:
        directory = Path(tmp)
        (directory / "screenpop.lua").write_text(screenpop.LUA_SCRIPT)
        screenpop._numbers_file(args.customers, directory)
        subprocess.run(
            [sys.executable, __file__, "--phase", "users", "--desks", str(args.desks)],
            cwd=ROOT,
            # The servers' settings and key: the sessions are theirs.
            env={**_server_env(0), "BENCH_SESSIONS": str(directory / "sessions.json")},
            check=True,
        )
        web_port, stream_port = screenpop._free_port(), screenpop._free_port()
        web = start_gunicorn(web_port, directory / "gunicorn.log")
        stream = start_stream_server(stream_port, directory / "uvicorn.log")
        results: dict[str, Any] = {}
        try:
            screenpop.run_wrk(
                port=web_port,
                path="/api/screenpop/?phone=",
                numbers=directory / "numbers.txt",
                token=token,
                script=directory / "screenpop.lua",
                seconds=screenpop.WARM_UP_SECONDS,
                connections=args.connections,
            )
            ports: dict[str, Any] = {"web_port": web_port, "stream_port": stream_port}
            kept: dict[str, Any] = {"token": token, "directory": directory, "stream": stream}
            print("[desks] without desks ...", file=sys.stderr, flush=True)
            results["without_desks"] = condition(args, desks=0, **ports, **kept)
            print(f"[desks] with {args.desks} desks, twice ...", file=sys.stderr, flush=True)
            idle_rss = _rss_mb(stream)
            results["with_desks"] = condition(args, desks=args.desks, **ports, **kept)
            results["stream_server_rss_mb"] = {"idle": idle_rss, "after": _rss_mb(stream)}
            results["with_desks_again"] = condition(args, desks=args.desks, **ports, **kept)
            print("[desks] without desks again ...", file=sys.stderr, flush=True)
            results["without_desks_again"] = condition(args, desks=0, **ports, **kept)
            for number in range(2, args.rounds + 1):
                # B A A B after A B B A, and so on: what drifts weighs on both sides alike.
                order = ROUND_ORDER if number % 2 else ROUND_ORDER[::-1]
                for name in order:
                    print(f"[desks] round {number}: {name} ...", file=sys.stderr, flush=True)
                    desks = args.desks if name.startswith(WITH_DESKS) else 0
                    results[f"{name}_round{number}"] = condition(args, desks=desks, **ports, **kept)
            opened = {}
            for name, figures in results.items():
                if name.startswith(WITH_DESKS):
                    opened.update(figures["desks"]["statuses"])
            if set(opened) - {"200"}:
                results["stream_server_errors"] = screenpop.server_errors(
                    [directory / "uvicorn.log"]
                )
        finally:
            screenpop.stop_gunicorn(stream)
            screenpop.stop_gunicorn(web)
        print("[desks] threaded baseline ...", file=sys.stderr, flush=True)
        try:
            tree = _baseline_tree(directory)
            old = start_gunicorn(web_port, directory / "baseline.log", cwd=tree, threads=None)
        except (subprocess.CalledProcessError, SystemExit) as exc:
            results["threaded_baseline"] = {"error": f"{exc.__class__.__name__}: {exc}"}
        else:
            try:
                results["threaded_baseline"] = {
                    "commit": BASELINE_COMMIT,
                    **condition(
                        args,
                        desks=args.desks,
                        web_port=web_port,
                        stream_port=web_port,
                        token=token,
                        directory=directory,
                    ),
                }
            finally:
                screenpop.stop_gunicorn(old)
    return results


# One round's conditions, in its order (A B B A); the next round runs them reversed.
ROUND_ORDER = ("without_desks", "with_desks", "with_desks_again", "without_desks_again")
WITH_DESKS = "with_desks"
WITHOUT_DESKS = "without_desks"


def _ratio(value: float, base: float) -> float:
    return round(value / base, 3) if base else 0.0


def _mean(conditions: list[dict[str, Any]], run: str, key: str) -> float:
    return sum(condition[run][key] for condition in conditions) / len(conditions)


def summary(results: dict[str, Any]) -> dict[str, Any]:
    """The with-desks conditions against the without ones, every round's: the means of each
    side, how far apart the conditions of one side were (the run's own noise, `spread`: the
    largest paced p99 of a side over its smallest), and the targets, which every with-desks
    condition must meet for its calls."""
    without = [one for name, one in results.items() if name.startswith(WITHOUT_DESKS)]
    with_desks = [one for name, one in results.items() if name.startswith(WITH_DESKS)]
    means = {
        name: {
            "screenpop_requests_per_second": round(
                _mean(conditions, "screenpop", "requests_per_second"), 1
            ),
            "screenpop_paced_p99_ms": round(_mean(conditions, "screenpop_paced", "p99_ms"), 2),
        }
        for name, conditions in (("with_desks", with_desks), ("without_desks", without))
    }
    rps = _ratio(
        means["with_desks"]["screenpop_requests_per_second"],
        means["without_desks"]["screenpop_requests_per_second"],
    )
    p99 = _ratio(
        means["with_desks"]["screenpop_paced_p99_ms"],
        means["without_desks"]["screenpop_paced_p99_ms"],
    )
    rings = [condition["desks"]["ring_to_event_ms"].get("p99", 1e9) for condition in with_desks]
    spread = {
        name: _ratio(
            max(one["screenpop_paced"]["p99_ms"] for one in conditions),
            min(one["screenpop_paced"]["p99_ms"] for one in conditions),
        )
        for name, conditions in (("with_desks", with_desks), ("without_desks", without))
    }
    return {
        "conditions": {"with_desks": len(with_desks), "without_desks": len(without)},
        "means": means,
        "paced_p99_spread": spread,
        "with_over_without": {"screenpop_requests_per_second": rps, "screenpop_paced_p99": p99},
        "targets": {
            "ring_to_desk_p99_ms": TARGET_RING_TO_CARD_P99_MS,
            "screenpop_within": TARGET_SCREENPOP_RATIO,
            "met": max(rings) < TARGET_RING_TO_CARD_P99_MS
            and rps >= 1 - TARGET_SCREENPOP_RATIO
            and p99 <= 1 + TARGET_SCREENPOP_RATIO
            and all(
                condition["desks"]["calls_received"] == condition["desks"]["calls_posted"]
                and not condition["desks"]["duplicates"]
                for condition in with_desks
            ),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--desks", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=50, help="calls posted per second")
    parser.add_argument("--seconds", type=int, default=15, help="each wrk run")
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--pop-rate", type=float, default=150, help="paced runs: requests/s")
    parser.add_argument(
        "--rounds", type=int, default=2, help="rounds of the four conditions (A B B A, B A A B...)"
    )
    parser.add_argument("--reuse", action="store_true", help="keep a database of this size")
    parser.add_argument(
        "--cards",
        action="store_true",
        help="each desk also fetches the rendered card of each ring (without desks: by hand)",
    )
    parser.add_argument("--phase", choices=["client", "users"], help=argparse.SUPPRESS)
    parser.add_argument("--sessions", help=argparse.SUPPRESS)
    parser.add_argument("--web-port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--stream-port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--ring-seconds", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase == "users":
        make_users(args.desks, Path(os.environ["BENCH_SESSIONS"]))
        return
    if args.phase == "client":
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        print(json.dumps(asyncio.run(Client(args).run())), flush=True)
        return
    data: dict[str, Any] = {"customers": args.customers, "reused": False}
    if args.reuse and screenpop._customers_in_database() == args.customers:
        data["reused"] = True
        token = screenpop._token()
    else:
        data.update(screenpop.build(args.customers))
        prepared = subprocess.run(
            [sys.executable, str(ROOT / "bench" / "screenpop.py"), "--phase", "prepare"],
            env=os.environ,
            check=True,
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        token = json.loads(prepared.stdout.strip().splitlines()[-1]).pop("token")
    results = measure(args, token)
    print(
        json.dumps(
            {
                "benchmark": "desks",
                "scale": data,
                "load": {
                    "desks": args.desks,
                    "calls_per_second": args.rate,
                    "wrk_seconds": args.seconds,
                    "rounds": args.rounds,
                    "wrk_connections": args.connections,
                    "paced_rate_per_second": args.pop_rate,
                    "generator": screenpop._wrk_version(),
                    "cards_fetched": args.cards,
                    "gunicorn_threads_per_worker": WEB_THREADS,
                    "baseline_gunicorn_threads_per_worker": "gunicorn.conf.py's default (64)",
                },
                **results,
                **summary(results),
                "machine": {
                    "cores": os.cpu_count(),
                    "python": platform.python_version(),
                    "load_average": [round(x, 2) for x in os.getloadavg()],
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
