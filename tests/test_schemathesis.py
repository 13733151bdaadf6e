"""Schemathesis against our own OpenAPI schema (the one /api/schema/ serves), through the WSGI
application, authenticated as an admin with a token: no generated input may cause a server
error (5xx). One test per operation; examples per operation are few by default so it fits in
the test suite (SCHEMATHESIS_EXAMPLES=50 for a deeper run), and Hypothesis stores nothing
between runs."""

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, Phase, settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from schemathesis.checks import not_a_server_error

from callcenter.choices import Role
from callcenter.wsgi import application
from tests.callcenter.factories import UserFactory

TOKEN = "0123456789abcdef0123456789abcdef01234567"
AUTH = {"Authorization": f"Token {TOKEN}"}
# More for a deeper run: SCHEMATHESIS_EXAMPLES=50 pytest tests/test_schemathesis.py
EXAMPLES_PER_OPERATION = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "3"))

# The schema /api/schema/ serves, generated here so collection needs no database.

schema = schemathesis.openapi.from_dict(
    json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(public=True)))
)
schema.app = application


@pytest.fixture
def admin_token(db: None) -> Iterator[None]:
    admin = UserFactory(role=Role.ADMIN, username="schemathesis_admin")
    Token.objects.create(user=admin, key=TOKEN)
    # Requests run inside the test's transaction: keep the WSGI handler from closing the
    # connection after each one, as Django's own test client does.
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    try:
        yield
    finally:
        for signal in (request_started, request_finished):
            signal.connect(close_old_connections)


@pytest.fixture
def admin_client_api(db: None) -> Any:
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(UserFactory(role=Role.ADMIN, username="offset_admin"))
    return client


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    database=None,
    derandomize=True,  # the same examples every run: CI is repeatable
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_no_generated_input_causes_a_server_error(
    case: schemathesis.Case, admin_token: None
) -> None:
    response = case.call(headers=AUTH)
    case.validate_response(response, checks=[not_a_server_error])


@pytest.mark.django_db
def test_utc_offsets_beyond_postgres_range_are_filtered_in_utc(admin_client_api: Any) -> None:
    response = admin_client_api.get(
        "/api/interactions/", {"occurred_at_before": "2024-02-04T00:28:14+19:06"}
    )
    assert response.status_code < 500
