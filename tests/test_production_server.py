"""The web process as deployed: gunicorn with gunicorn.conf.py and the production settings, on
the test database. Its logs carry no personal data from query strings, and its API answers
JSON only (no browsable API). Django's own request logging names paths only."""

import http.client
import json
import logging
import runpy
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from gunicorn.config import Config
from rest_framework.authtoken.models import Token

from callcenter.choices import Role
from tests.callcenter.factories import CustomerFactory, PhoneFactory, UserFactory
from tests.servers import gunicorn_server

ROOT = Path(__file__).resolve().parent.parent
PHONE = "+8613912345678"
# The number in the spellings a query string may carry it.
# What a browser asks for when it opens a URL.
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
SPELLINGS = ("13912345678", "139%201234%205678", "139 1234 5678", "8613912345678", "1234%205678")


@dataclass
class Server:
    port: int
    access_log: Path
    error_log: Path

    def get(self, path: str, **headers: str) -> http.client.HTTPResponse:
        """One request as it arrives through the TLS proxy (X-Forwarded-Proto), no redirects
        followed."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        connection.request("GET", path, headers={"X-Forwarded-Proto": "https", **headers})
        response = connection.getresponse()
        response.body = response.read()
        connection.close()
        return response


@pytest.fixture
def production_server(committed_rows: None, tmp_path: Path) -> Iterator[Server]:
    access_log = tmp_path / "access.log"
    env = {
        "ALLOWED_HOSTS": "127.0.0.1",
        "WEB_CONCURRENCY": "1",
        "GUNICORN_THREADS": "4",
        "GUNICORN_ACCESS_LOG": str(access_log),
    }
    with gunicorn_server(tmp_path / "gunicorn.log", env=env) as port:
        yield Server(port, access_log, tmp_path / "gunicorn.log")


def test_gunicorn_logs_no_phone_number_from_query_strings_and_the_api_is_json_only(
    production_server: Server,
) -> None:
    # given an agent with an API token and a customer with a number
    agent = UserFactory(username="prod_agent", role=Role.AGENT)
    token = {"Authorization": f"Token {Token.objects.create(user=agent).key}"}
    PhoneFactory(customer=CustomerFactory(name="Prod Log"), value=PHONE)

    # when the number travels in query strings, and a browser asks the API for HTML
    pop = production_server.get("/api/screenpop/?phone=13912345678&call_id=c-1", **token)
    desk = production_server.get("/desk/?phone=139%201234%205678")
    search = production_server.get("/customers/?q=13912345678&page=2")
    odd = production_server.get("/api/screenpop/?13912345678", **token)
    html = production_server.get("/api/customers/", Accept=BROWSER_ACCEPT, **token)
    browsable = production_server.get("/api/customers/?format=api", Accept=BROWSER_ACCEPT, **token)

    # then the requests were served
    assert pop.status == 200
    assert json.loads(pop.body)["phone"] == "+8613*****5678"
    assert (desk.status, search.status, odd.status) == (302, 302, 400)
    # the API answered JSON, not the browsable HTML API
    assert html.status == 200
    assert html.getheader("Content-Type") == "application/json"
    assert b"<html" not in html.body.lower()
    assert browsable.status == 404
    # and the logs name the paths and parameters, never the number
    time.sleep(0.5)
    access = production_server.access_log.read_text()
    assert '"GET /api/screenpop/?phone=*&call_id=* HTTP/1.1" 200' in access
    assert '"GET /desk/?phone=* HTTP/1.1" 302' in access
    assert '"GET /customers/?q=*&page=* HTTP/1.1" 302' in access
    assert '"GET /api/screenpop/?* HTTP/1.1" 400' in access
    logs = access + production_server.error_log.read_text()
    for spelling in SPELLINGS:
        assert spelling not in logs


def _format_access_line(uri: str, referer: str = "-") -> str:
    """One access-log line as gunicorn.conf.py's logger writes it for a request to `uri`."""
    settings = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    config = Config()
    config.set("access_log_format", settings["access_log_format"])
    logger = settings["logger_class"](config)
    path, _sep, query = uri.partition("?")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": uri,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "10.0.0.9",
        "HTTP_REFERER": referer,
    }

    class Response:
        status = "200 OK"
        sent = 12
        headers: list[tuple[str, str]] = []

    class Request:
        headers = [("REFERER", referer)]

    class Elapsed:
        seconds, microseconds = 0, 1500

    atoms = logger.atoms_wrapper_class(logger.atoms(Response(), Request(), environ, Elapsed()))
    config.set("access_log_format", "%(r)s %(q)s %(f)s %({referer}i)s %({query_string}e)s")
    return config.access_log_format % atoms


def test_every_url_atom_of_the_access_log_is_redacted() -> None:
    line = _format_access_line(
        "/desk/card/?phone=%2B86%20139%201234%205678&call_id=x",
        referer="https://crm.example.com/desk/?phone=13912345678",
    )

    assert line == (
        "GET /desk/card/?phone=*&call_id=* HTTP/1.1 phone=*&call_id=* "
        "https://crm.example.com/desk/?phone=* https://crm.example.com/desk/?phone=* "
        "phone=*&call_id=*"
    )


def test_the_error_log_redacts_request_uris(caplog: pytest.LogCaptureFixture) -> None:
    settings = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    config = Config()
    logger = settings["logger_class"](config)
    logger.error_log.propagate = True

    with caplog.at_level(logging.ERROR, logger="gunicorn.error"):
        logger.error("Error handling request %s", "/desk/?phone=13912345678")

    assert "Error handling request /desk/?phone=*" in caplog.text
    assert "13912345678" not in caplog.text


@pytest.mark.django_db
def test_djangos_request_logging_names_the_path_only(caplog: pytest.LogCaptureFixture) -> None:
    agent = Client()
    agent.force_login(UserFactory(username="log_agent", role=Role.AGENT))
    anonymous = Client()

    with caplog.at_level(logging.INFO):
        anonymous.get(reverse("api-screenpop"), {"phone": "13912345678"})
        agent.get(reverse("desk-card"), {"phone": ""}, HTTP_X_PHONE="13912345678")
        agent.get(reverse("customer-detail", args=[0]), {"q": "13912345678"})

    assert "Forbidden: /api/screenpop/" in caplog.text
    assert "Bad Request: /desk/card/" in caplog.text
    assert "Not Found: /customers/0/" in caplog.text
    assert "13912345678" not in caplog.text
