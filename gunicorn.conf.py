"""Gunicorn settings for production (Dockerfile, `make run`, the screen-pop benchmark).

Gunicorn reads this file from the working directory (`gunicorn callcenter.wsgi:application`),
or explicitly with `-c gunicorn.conf.py`. Every value can be overridden from the environment:

    PORT / GUNICORN_BIND     address to listen on (default 0.0.0.0:8000)
    WEB_CONCURRENCY          worker processes (default: the CPU count, at least 2)
    GUNICORN_THREADS         threads per worker (default 64)
    GUNICORN_TIMEOUT         seconds a worker may stay silent before it is restarted (30)
    GUNICORN_GRACEFUL_TIMEOUT seconds to finish requests on restart/shutdown (30)
    GUNICORN_KEEPALIVE       seconds an idle keep-alive connection stays open (5)
    GUNICORN_MAX_REQUESTS    requests before a worker is recycled (100000; 0 = never)
    GUNICORN_MAX_REQUESTS_JITTER  random extra requests so workers do not recycle together (10000)
    GUNICORN_ACCESS_LOG      access log file, "-" for stdout (default), "" for none
    GUNICORN_LOG_LEVEL       error log level (info)

Why these defaults, for a 2-core machine:
- gthread workers, one per core: the GIL makes more Python processes than cores pure
  context-switching for this CPU-bound work (JSON, ORM), and threads cover the waits on
  PostgreSQL and Redis.
- 64 threads per worker (128 in all) cover the waits of requests on PostgreSQL and Redis. The
  agent desk's live stream is not served here: it is an async view under uvicorn
  (`callcenter.asgi`), where an open desk holds no thread; the proxy routes its path there
  (deploy/Caddyfile). An idle keep-alive connection holds no thread (gthread parks it in its
  poller).
- Each busy thread may hold its own database connection (CONN_MAX_AGE): keep
  WEB_CONCURRENCY x GUNICORN_THREADS plus Celery's concurrency under PostgreSQL's
  max_connections, or put PgBouncer in front of it.
- The timeout of a gthread worker is a heartbeat of the worker process, not a per-request
  limit, so a long request (an export) is not killed by it.
- max_requests with jitter bounds slow memory growth without restarting every worker at once.
  A recycle is not free: the new worker opens its database connections and prepares its
  statements again, and the connections of the old one are closed. Recycling every few
  thousand requests (the former default) showed in the screen-pop's p99 under load; every
  100,000 leaves a leak bounded all the same (docs/performance.md).
- The worker heartbeat file lives in /dev/shm where present: a container's overlay filesystem
  can block the heartbeat and make the arbiter kill healthy workers.
- Logs carry no personal data from URLs: query strings hold phone numbers
  (`/api/screenpop/?phone=`, `/desk/?phone=`), search terms and names, so the access log
  keeps each query parameter's name with its value as `*` in every atom that carries a URL
  (`%(r)s`, `%(q)s`, `%(f)s`, the referer header), and so do request URIs in the error log
  (`RedactingLogger`).
"""

import logging
import os
import re
from pathlib import Path
from typing import Any

from gunicorn.glogging import Logger


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


bind = os.environ.get("GUNICORN_BIND") or f"0.0.0.0:{_int('PORT', 8000)}"
worker_class = "gthread"
workers = _int("WEB_CONCURRENCY", max(2, os.cpu_count() or 1))
threads = _int("GUNICORN_THREADS", 64)
# Concurrent client connections per worker (open keep-alive and streaming ones count).
worker_connections = _int("GUNICORN_WORKER_CONNECTIONS", 1000)
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _int("GUNICORN_KEEPALIVE", 5)
max_requests = _int("GUNICORN_MAX_REQUESTS", 100_000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 10_000)
# Loaded once in the arbiter, then forked: faster worker (re)starts and shared memory pages.
# Django opens no database connection at import, so nothing is shared across the fork.
preload_app = True
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# Client address and request time (microseconds) in the access log; query values redacted.
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(D)sus'
# Only the heartbeat files of our own workers go there (gunicorn's documented advice).
SHARED_MEMORY = Path("/dev/shm")  # noqa: S108
if SHARED_MEMORY.is_dir():
    worker_tmp_dir = str(SHARED_MEMORY)


# A query parameter's name is kept when it looks like one; anything else is a value.
_PARAMETER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]{0,63}")


def redact_query(query: str) -> str:
    """A query string with every value replaced by `*` (`phone=*&call_id=*`)."""
    parts = []
    for part in query.split("&"):
        if not part:
            continue
        name, has_value, _value = part.partition("=")
        parts.append(f"{name}=*" if has_value and _PARAMETER_NAME.fullmatch(name) else "*")
    return "&".join(parts)


def redact_uri(uri: str) -> str:
    """`uri` (a path, or an absolute URL) with its query values redacted."""
    path, has_query, query = uri.partition("?")
    return f"{path}?{redact_query(query)}" if has_query else uri


class _RedactUris(logging.Filter):
    """Redacts the query values of URIs passed as arguments to error-log messages
    ("Error handling request /desk/?phone=...")."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact_uri(arg) if isinstance(arg, str) and "?" in arg else arg
                for arg in record.args
            )
        return True


class RedactingLogger(Logger):
    """gunicorn's logger, with no personal data from query strings in either log."""

    _URI_ATOMS = ("{referer}i", "{raw_uri}e", "{http_referer}e")
    _QUERY_ATOMS = ("q", "{query_string}e")

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        self.error_log.addFilter(_RedactUris())

    def atoms(self, resp: Any, req: Any, environ: dict, request_time: Any) -> dict:
        atoms = super().atoms(resp, req, environ, request_time)
        atoms["r"] = " ".join(
            (
                environ["REQUEST_METHOD"],
                redact_uri(environ["RAW_URI"]),
                environ["SERVER_PROTOCOL"],
            )
        )
        atoms["f"] = redact_uri(atoms.get("f") or "-")
        for key in self._URI_ATOMS:
            if isinstance(atoms.get(key), str):
                atoms[key] = redact_uri(atoms[key])
        for key in self._QUERY_ATOMS:
            if isinstance(atoms.get(key), str):
                atoms[key] = redact_query(atoms[key])
        return atoms


logger_class = RedactingLogger
