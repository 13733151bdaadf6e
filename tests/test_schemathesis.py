"""Property-based pass over every operation of our own OpenAPI schema (the one /api/schema/
serves), through the WSGI application: no generated input may cause a server error (5xx).

Each operation runs once per role (token authentication) against a small world of rows (a
customer with its history, a segment, a care rule and template, tasks, a merge proposal...);
generated path ids and id fields of bodies and queries are half the time those rows' ids, so
requests get past "not found" into the code that handles real data. Each operation gets
generated examples, valid and invalid, for every role; for the coverage roles it first gets
schemathesis' boundary cases too (its coverage phase: missing and extra fields, wrong types,
values at and beyond each bound, NUL characters...; a few hundred per operation, whatever the
knob). The boundary cases are most of the file's time and exercise validation that does not
depend on the caller, so by default only admins (who reach every operation) get them. The same
examples run every time (derandomized), and nothing is stored between runs.

Knobs (environment variables):
- SCHEMATHESIS_EXAMPLES: generated examples per operation and role (default 12 in the suite;
  run e.g. SCHEMATHESIS_EXAMPLES=200 for a deep pass before a release).
- SCHEMATHESIS_ROLES: comma-separated roles (default "admin,agent": admins reach every
  operation, agents are refused by many and reach others with their own restrictions).
- SCHEMATHESIS_COVERAGE_ROLES: the roles of those that also get the boundary cases (default
  "admin"; e.g. "admin,agent" for a deep pass).

The cases the hardening issue found by hand are fixed examples at the end of this file, each
asserted to answer the clear 4xx it should (they failed with a 500 before).
"""

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from schemathesis.checks import not_a_server_error

from callcenter.choices import ImportKind, ImportStatus, Role
from callcenter.models import ImportRun, MergeProposal
from callcenter.wsgi import application
from care.choices import EventType, TemplateChannel
from care.models import Event, MessageTemplate, TemplateVariant
from segments.models import NextBestAction, RefreshRun, Segment
from tests.callcenter.factories import (
    CustomerFactory,
    InteractionFactory,
    OrderFactory,
    PhoneFactory,
    SurveyFactory,
    TicketFactory,
    UserFactory,
)
from tests.outreach.factories import (
    CallTaskFactory,
    CareStepFactory,
    QueueFactory,
    TaskFactory,
    enrollment_with_step,
)
from tests.segments.factories import (
    CustomerMetricsFactory,
    SegmentFactory,
    SegmentMembershipFactory,
)

EXAMPLES_PER_OPERATION = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "12"))
ROLES = [role.strip() for role in os.environ.get("SCHEMATHESIS_ROLES", "admin,agent").split(",")]
COVERAGE_ROLES = {
    role.strip() for role in os.environ.get("SCHEMATHESIS_COVERAGE_ROLES", "admin").split(",")
}

# The schema /api/schema/ serves, generated here so collection needs no database; loaded twice,
# with and without the coverage phase (phases are a setting of the loaded schema).
SCHEMA_DOCUMENT = json.loads(
    OpenApiJsonRenderer().render(SchemaGenerator().get_schema(public=True))
)
schema = schemathesis.openapi.from_dict(SCHEMA_DOCUMENT)
schema.app = application
schema_without_coverage = schemathesis.openapi.from_dict(SCHEMA_DOCUMENT)
schema_without_coverage.app = application
schema_without_coverage.config.phases.coverage.enabled = False

# Ids of the world's rows by kind, filled by the `world` fixture before any example is made.
KNOWN: dict[str, list[int]] = {}

# The kind of row a path's `{id}` names, by the path's first segments (longest first).
PATH_KINDS = (
    ("/api/segments/runs/", "run"),
    ("/api/segments/next-best-actions/", "next_best_action"),
    ("/api/segments/", "segment"),
    ("/api/care/rules/", "rule"),
    ("/api/care/templates/", "template"),
    ("/api/customers/", "customer"),
    ("/api/events/", "event"),
    ("/api/imports/", "import"),
    ("/api/interactions/", "interaction"),
    ("/api/merge-proposals/", "proposal"),
    ("/api/orders/", "order"),
    ("/api/outreach/tasks/", "task"),
    ("/api/surveys/", "survey"),
    ("/api/tickets/", "ticket"),
)
# The kind of row a body or query field holds the id of.
FIELD_KINDS = {
    "customer": "customer",
    "customer_id": "customer",
    "merged_id": "customer",
    "survivor_id": "customer",
    "ticket": "ticket",
    "ticket_id": "ticket",
    "order_id": "order",
    "template_id": "template",
    "agent": "user",
    "advisor": "user",
    "assignee": "user",
    "task_ids": "task",
    "from": "version",
    "to": "version",
}


def _with_known_ids(values: Any) -> list[Any]:
    """`values` as generated, and (when it is a dict with id fields) with the world's ids."""
    if not isinstance(values, dict):
        return [values]
    known = dict(values)
    for name, kind in FIELD_KINDS.items():
        if name in known and KNOWN.get(kind):
            ids = KNOWN[kind]
            known[name] = ids if name == "task_ids" else ids[0]
    return [values, known] if known != values else [values]


def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any] | None) -> Any:
    path = context.operation.path if context.operation is not None else ""
    kind = next((kind for prefix, kind in PATH_KINDS if path.startswith(prefix)), None)
    if kind is None or not path_parameters or "id" not in path_parameters or not KNOWN.get(kind):
        return st.just(path_parameters)
    return st.sampled_from(
        [path_parameters, *({**path_parameters, "id": pk} for pk in KNOWN[kind])]
    )


def flatmap_body(context: Any, body: Any) -> Any:
    return st.sampled_from(_with_known_ids(body))


def flatmap_query(context: Any, query: Any) -> Any:
    return st.sampled_from(_with_known_ids(query))


for loaded in (schema, schema_without_coverage):
    for hook in (flatmap_path_parameters, flatmap_body, flatmap_query):
        loaded.hook(hook)


@pytest.fixture
def world(db: None) -> Iterator[dict[str, Any]]:
    """A few rows of every kind the API serves, with their ids in KNOWN."""
    agent = UserFactory(role=Role.AGENT, username="st_agent")
    supervisor = UserFactory(role=Role.SUPERVISOR, username="st_supervisor")
    customer = CustomerFactory(external_id="ST-1", name="张 伟")
    twin = CustomerFactory(external_id="ST-2", name="张 伟")
    PhoneFactory(customer=customer, value="+8613800000001")
    order = OrderFactory(customer=customer)
    interaction = InteractionFactory(customer=customer, agent=agent)
    ticket = TicketFactory(customer=customer)
    survey = SurveyFactory(customer=customer, ticket=None)
    segment = SegmentFactory(slug="st-segment")
    SegmentMembershipFactory(segment=segment, customer=customer)
    CustomerMetricsFactory(customer=customer)
    enrollment, step = enrollment_with_step(customer=customer)
    template = MessageTemplate.objects.create(
        name="ST template", slug="st-template", channel=TemplateChannel.SMS
    )
    TemplateVariant.objects.create(
        template=template, language="en", body="Hi {{ customer.first_name }}"
    )
    CareStepFactory(rule=step.rule, position=2, template=template)
    queue = QueueFactory(members=[agent])
    task = CallTaskFactory(customer=customer, assignee=agent, queue=queue)
    event = Event.objects.create(
        type=EventType.TICKET_OPENED, customer=customer, occurred_at=order.placed_at, payload={}
    )
    proposal = MergeProposal.objects.create(customer_a=customer, customer_b=twin, score=0.9)
    run = RefreshRun.objects.create(as_of=order.placed_at, window_days=365)
    imported = ImportRun.objects.create(
        kind=ImportKind.CUSTOMERS, file_name="st.csv", status=ImportStatus.SUCCEEDED
    )
    KNOWN.update(
        customer=[customer.pk, twin.pk],
        order=[order.pk],
        interaction=[interaction.pk],
        ticket=[ticket.pk],
        survey=[survey.pk],
        segment=[segment.pk, Segment.objects.exclude(pk=segment.pk).first().pk],
        rule=[step.rule_id],
        version=[enrollment.rule_version.version],
        template=[template.pk],
        event=[event.pk],
        task=[task.pk, TaskFactory(customer=customer).pk],
        proposal=[proposal.pk],
        run=[run.pk],
        next_best_action=list(NextBestAction.objects.values_list("pk", flat=True)[:2]),
        user=[agent.pk, supervisor.pk],
        **{"import": [imported.pk]},
    )
    # Requests run inside the test's transaction: keep the WSGI handler from closing the
    # connection after each one, as Django's own test client does.
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    try:
        yield {"customer": customer, "segment": segment, "template": template}
    finally:
        KNOWN.clear()
        for signal in (request_started, request_finished):
            signal.connect(close_old_connections)


def _token_headers(role: str) -> dict[str, str]:
    user = UserFactory(role=role, username=f"st_caller_{role}")
    token = Token.objects.create(user=user)
    return {"Authorization": f"Token {token.key}"}


@pytest.fixture(params=[role for role in ROLES if role in COVERAGE_ROLES])
def coverage_role_headers(request: pytest.FixtureRequest, world: dict[str, Any]) -> dict[str, str]:
    return _token_headers(request.param)


@pytest.fixture(params=[role for role in ROLES if role not in COVERAGE_ROLES])
def role_headers(request: pytest.FixtureRequest, world: dict[str, Any]) -> dict[str, str]:
    return _token_headers(request.param)


HYPOTHESIS_SETTINGS = settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    database=None,
    derandomize=True,  # the same examples every run: CI is repeatable
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


@schema.parametrize()
@HYPOTHESIS_SETTINGS
def test_no_input_causes_a_server_error_boundary_cases_included(
    case: schemathesis.Case, coverage_role_headers: dict[str, str]
) -> None:
    response = case.call(headers=coverage_role_headers)
    case.validate_response(response, checks=[not_a_server_error])


@schema_without_coverage.parametrize()
@HYPOTHESIS_SETTINGS
def test_no_generated_input_causes_a_server_error(
    case: schemathesis.Case, role_headers: dict[str, str]
) -> None:
    response = case.call(headers=role_headers)
    case.validate_response(response, checks=[not_a_server_error])


# The requests the hardening issue found answering 500, each with the answer it gets now.
DEEP = "[" * 1000 + "]" * 1000
NUL = "\x00"  # json.dumps writes it as \u0000
FIXED_EXAMPLES = [
    ("get", "/api/customers/?cursor=cD1hYmM=", None, 404, "Invalid cursor"),
    ("post", "/api/customers/", '{"name": "x", "attributes": ' + DEEP + "}", 400, "levels"),
    ("post", "/api/customers/", {"name": "x", "attributes": {"k": NUL}}, 400, "NUL"),
    (
        "post",
        "/api/events/",
        {"type": "external", "customer_id": "{customer}", "payload": {"k": NUL}},
        400,
        "NUL",
    ),
    (
        "post",
        "/api/care/rules/",
        {
            "name": "x",
            "trigger_type": "ticket_opened",
            "conditions": {"field": "city", "cmp": "eq", "value": NUL},
            "steps": [{"channel": "sms", "template_id": "{template}"}],
        },
        400,
        "NUL",
    ),
    ("patch", "/api/care/settings/", {"stop_words": [NUL]}, 400, "NUL"),
    (
        "post",
        "/api/care/templates/",
        {"name": "x", "channel": "sms", "variants": {"en": {"body": NUL}}},
        400,
        "NUL",
    ),
    ("get", "/api/customers/?q=%00", None, 400, "NUL"),
    ("get", "/api/segments/{segment}/members/?q=%00", None, 400, "NUL"),
    ("get", "/customers/?q=%00", None, 400, "NUL"),
    ("get", "/care/customer-picker/?q=%00", None, 400, "NUL"),
    ("post", "/api/customers/", {"name": "x", "external_id": "ST-2"}, 400, "external_id"),
    ("patch", "/api/customers/{customer}/", {"external_id": "ST-2"}, 400, "external_id"),
    (
        "post",
        "/api/care/templates/",
        {
            "name": "x",
            "channel": "sms",
            "variants": {"en": {"body": "{{ order.amount|floatformat:99999999 }}"}},
        },
        400,
        "floatformat",
    ),
    (
        "post",
        "/api/care/templates/",
        {
            "name": "x",
            "channel": "sms",
            "variants": {"en": {"body": "{{ order.amount|floatformat:999999 }}"}},
        },
        400,
        "floatformat",
    ),
]


def _fill(value: Any, ids: dict[str, int]) -> Any:
    """`value` with "{customer}", "{segment}" and "{template}" replaced by the world's ids."""
    if isinstance(value, dict):
        return {key: _fill(item, ids) for key, item in value.items()}
    if isinstance(value, list):
        return [_fill(item, ids) for item in value]
    if isinstance(value, str) and value.strip("{}") in ids and value.startswith("{"):
        return ids[value.strip("{}")]
    return value


@pytest.mark.parametrize(("method", "path", "body", "status", "says"), FIXED_EXAMPLES)
def test_the_issues_examples_get_a_clear_refusal(
    world: dict[str, Any],
    method: str,
    path: str,
    body: Any,
    status: int,
    says: str,
) -> None:
    ids = {name: row.pk for name, row in world.items()}
    client = Client(raise_request_exception=False)
    client.force_login(UserFactory(role=Role.ADMIN, username="st_fixed_admin"))
    if isinstance(body, dict):
        body = json.dumps(_fill(body, ids))
    kwargs = {"data": body, "content_type": "application/json"} if body is not None else {}

    response = getattr(client, method)(path.format(**ids), **kwargs)

    assert response.status_code == status, response.content
    assert says in response.content.decode()


@pytest.fixture
def admin_client_api(db: None) -> Any:
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(UserFactory(role=Role.ADMIN, username="offset_admin"))
    return client


@pytest.mark.django_db
def test_utc_offsets_beyond_postgres_range_are_filtered_in_utc(admin_client_api: Any) -> None:
    response = admin_client_api.get(
        "/api/interactions/", {"occurred_at_before": "2024-02-04T00:28:14+19:06"}
    )
    assert response.status_code < 500
