"""Bad input answers a clear 4xx and writes nothing, in the API and on pages: JSON bodies with
NUL characters, deep nesting or non-finite numbers (the API's parser), NUL characters anywhere
else in a request (middleware), forged pagination cursors, external ids another row has, and
numbers beyond what the database columns hold. Each of these answered 500 before."""

import base64
import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from callcenter.choices import Role
from callcenter.jsoninput import MAX_JSON_DEPTH
from callcenter.models import Customer, Interaction, MergeProposal, SurveyResponse, Ticket
from callcenter.parsers import CheckedJSONParser, RequestBodyTooLarge
from care.models import CareRule, CareSettings, Event, MessageTemplate
from tests.callcenter.factories import (
    CustomerFactory,
    InteractionFactory,
    SurveyFactory,
    TicketFactory,
    UserFactory,
)
from tests.segments.factories import SegmentFactory, SegmentMembershipFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_api() -> APIClient:
    client = APIClient()
    client.force_authenticate(UserFactory(role=Role.ADMIN, username="bad_input_admin"))
    return client


@pytest.fixture
def admin_page(client: Client) -> Client:
    client.force_login(UserFactory(role=Role.ADMIN, username="bad_input_page_admin"))
    return client


def _post_json(client: APIClient, url: str, text: str, method: str = "post") -> Any:
    return getattr(client, method)(url, data=text, content_type="application/json")


def _nested(depth: int) -> dict[str, Any]:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"k": value}
    return value


# --- JSON bodies ---------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH, 1000, 100_000])
def test_json_nested_deeper_than_the_limit_is_refused(admin_api: APIClient, depth: int) -> None:
    # given a body whose attributes nest `depth` levels below the body itself
    body = '{"name": "Deep", "attributes": ' + '{"k": ' * depth + "1" + "}" * depth + "}"

    # when
    response = _post_json(admin_api, "/api/customers/", body)

    # then
    assert response.status_code == 400
    assert f"at most {MAX_JSON_DEPTH} levels" in response.json()["detail"]
    assert not Customer.objects.filter(name="Deep").exists()


def test_json_nested_within_the_limit_is_accepted(admin_api: APIClient) -> None:
    attributes = _nested(MAX_JSON_DEPTH - 2)

    response = admin_api.post(
        "/api/customers/", {"name": "Nested", "attributes": attributes}, format="json"
    )

    assert response.status_code == 201, response.content
    assert Customer.objects.get(name="Nested").attributes == attributes


def _rule_body(template_id: int, conditions: Any) -> dict[str, Any]:
    return {
        "name": "NUL rule",
        "trigger_type": "ticket_opened",
        "conditions": conditions,
        "steps": [{"channel": "sms", "template_id": template_id, "sla_minutes": 60}],
    }


@pytest.fixture
def sms_template() -> MessageTemplate:
    template = MessageTemplate.objects.create(name="T", slug="t", channel="sms")
    template.variants.create(language="en", body="Hello {{ customer.name }}")
    return template


@pytest.mark.parametrize(
    ("method", "url", "body", "unchanged"),
    [
        (
            "post",
            "/api/customers/",
            {"name": "Nul", "attributes": {"note": "a\x00b"}},
            lambda: Customer.objects.filter(name="Nul").exists(),
        ),
        (
            "post",
            "/api/customers/",
            {"name": "Nul", "attributes": {"k\x00": "v"}},
            lambda: Customer.objects.filter(name="Nul").exists(),
        ),
        (
            "post",
            "/api/events/",
            {"type": "external", "customer_id": "CUSTOMER", "payload": {"x": "\x00"}},
            lambda: Event.objects.filter(type="external").exists(),
        ),
        (
            "post",
            "/api/care/rules/",
            "RULE",
            lambda: CareRule.objects.filter(name="NUL rule").exists(),
        ),
        (
            "patch",
            "/api/care/settings/",
            {"stop_words": ["halt\x00"]},
            lambda: "halt\x00" in CareSettings.load().stop_words,
        ),
        (
            "post",
            "/api/care/templates/",
            {"name": "Nul", "channel": "sms", "variants": {"en": {"body": "Hi\x00"}}},
            lambda: MessageTemplate.objects.filter(name="Nul").exists(),
        ),
    ],
)
def test_nul_characters_in_json_are_refused_and_nothing_is_written(
    admin_api: APIClient,
    sms_template: MessageTemplate,
    method: str,
    url: str,
    body: Any,
    unchanged: Callable[[], bool],
) -> None:
    # given an otherwise valid body with a NUL character (PostgreSQL refuses them in text)
    customer = CustomerFactory()
    if body == "RULE":
        body = _rule_body(sms_template.pk, {"field": "city", "cmp": "eq", "value": "x\x00"})
    if isinstance(body, dict) and body.get("customer_id") == "CUSTOMER":
        body = {**body, "customer_id": customer.pk}

    # when
    response = getattr(admin_api, method)(url, body, format="json")

    # then
    assert response.status_code == 400, response.content
    assert "NUL" in response.json()["detail"]
    assert not unchanged()


@pytest.mark.parametrize("number", ["1e999", "-1e999", "NaN", "Infinity"])
def test_non_finite_numbers_in_json_are_refused(admin_api: APIClient, number: str) -> None:
    body = '{"name": "Huge", "attributes": {"size": ' + number + "}}"

    response = _post_json(admin_api, "/api/customers/", body)

    assert response.status_code == 400
    assert "finite" in response.json()["detail"]
    assert not Customer.objects.filter(name="Huge").exists()


def test_a_json_body_over_the_upload_limit_is_refused_unread(settings: Any) -> None:
    # Behind gunicorn DRF parses straight from the socket, where Django's own size check of
    # `request.body` never runs: the parser reads at most the limit and refuses the rest.
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    stream = io.BytesIO(json.dumps({"blob": "x" * 5000}).encode())

    with pytest.raises(RequestBodyTooLarge):
        CheckedJSONParser().parse(stream, "application/json", {})

    assert stream.tell() == 1001


def test_nul_characters_in_api_form_bodies_are_refused(admin_api: APIClient) -> None:
    # DictField reads `attributes.<key>` form fields into the jsonb column
    multipart = admin_api.post(
        "/api/customers/", {"name": "Form", "attributes.note": "a\x00b"}, format="multipart"
    )
    urlencoded = admin_api.generic(
        "POST",
        "/api/customers/",
        "name=Form&attributes.note=a%00b",
        content_type="application/x-www-form-urlencoded",
    )

    for response in (multipart, urlencoded):
        assert response.status_code == 400, response.content
        assert "NUL" in response.json()["detail"]
    assert not Customer.objects.filter(name="Form").exists()


# --- NUL characters outside JSON bodies ----------------------------------------------------


@pytest.mark.parametrize(
    "url", ["/customers/?q=%00", "/care/customer-picker/?q=a%00", "/customers/?page=%00"]
)
def test_nul_in_a_page_query_parameter_is_refused(admin_page: Client, url: str) -> None:
    response = admin_page.get(url)

    assert response.status_code == 400
    assert "NUL" in response.content.decode()


@pytest.mark.parametrize("query", ["q=%00", "q=a%00b", "city=%00", "%00=1"])
def test_nul_in_an_api_query_parameter_is_refused(admin_api: APIClient, query: str) -> None:
    response = admin_api.get(f"/api/customers/?{query}")

    assert response.status_code == 400
    assert "NUL" in response.json()["detail"]


def test_nul_in_the_segment_members_search_is_refused(admin_api: APIClient) -> None:
    segment = SegmentFactory()
    SegmentMembershipFactory(segment=segment)

    response = admin_api.get(f"/api/segments/{segment.pk}/members/?q=%00")

    assert response.status_code == 400
    assert "NUL" in response.json()["detail"]


def test_nul_in_a_session_cookie_is_refused(client: Client) -> None:
    client.cookies["sessionid"] = "abcdefgh\x00ijkl"

    response = client.get("/customers/")

    assert response.status_code == 400


def test_nul_in_a_page_form_field_is_refused_and_nothing_is_written(admin_page: Client) -> None:
    # the desk's "create customer" form
    response = admin_page.post("/desk/customers/", {"name": "Form\x00Name", "phone": "13800000000"})

    assert response.status_code == 400
    assert "NUL" in response.content.decode()
    assert not Customer.objects.filter(name__startswith="Form").exists()


def test_nul_in_a_login_form_is_refused(client: Client) -> None:
    response = client.post("/accounts/login/", {"username": "a\x00", "password": "x"})

    assert response.status_code == 400


# --- cursors -------------------------------------------------------------------------------


def _cursor(query: str) -> str:
    return base64.b64encode(query.encode()).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        _cursor("p=abc"),  # the issue's `cD1hYmM=`
        _cursor("p=1.5"),
        _cursor("p=%00"),
        _cursor("o=1&r=1&p=x"),
        "not-base64!",
    ],
)
def test_a_forged_cursor_is_refused_with_a_message(admin_api: APIClient, cursor: str) -> None:
    CustomerFactory()

    response = admin_api.get("/api/customers/", {"cursor": cursor})

    assert response.status_code == 404
    assert "Invalid cursor" in response.json()["detail"]


def test_a_forged_cursor_is_refused_on_lists_ordered_by_other_fields(
    admin_api: APIClient,
) -> None:
    # merge proposals are ordered by score (a float), segment members by id
    a, b = CustomerFactory(), CustomerFactory()
    MergeProposal.objects.create(customer_a=a, customer_b=b, score=0.8)
    segment = SegmentFactory()
    SegmentMembershipFactory(segment=segment, customer=a)

    for url in ("/api/merge-proposals/", f"/api/segments/{segment.pk}/members/"):
        response = admin_api.get(url, {"cursor": _cursor("p=abc")})

        assert response.status_code == 404, url
        assert "Invalid cursor" in response.json()["detail"]


def test_the_next_link_still_pages_through_the_list(admin_api: APIClient) -> None:
    CustomerFactory.create_batch(3)

    first = admin_api.get("/api/customers/", {"page_size": 2}).json()
    second = admin_api.get(first["next"]).json()

    assert len(first["results"]) == 2
    assert len(second["results"]) == 1


# --- external ids --------------------------------------------------------------------------


def test_creating_a_customer_with_a_taken_external_id_is_refused(admin_api: APIClient) -> None:
    holder = CustomerFactory(external_id="ERP-1")

    response = admin_api.post(
        "/api/customers/",
        {"name": "Twin", "external_id": "ERP-1", "phones": ["13800000001"]},
        format="json",
    )

    assert response.status_code == 400
    body = response.json()
    assert "external_id" in body["detail"]
    assert body["field"] == "external_id"
    assert body["conflict_id"] == holder.pk
    assert not Customer.objects.filter(name="Twin").exists()


@pytest.mark.parametrize("method", ["patch", "put"])
def test_changing_a_customer_to_a_taken_external_id_is_refused(
    admin_api: APIClient, method: str
) -> None:
    CustomerFactory(external_id="ERP-1")
    customer = CustomerFactory(external_id="ERP-2", name="Keep")

    response = getattr(admin_api, method)(
        f"/api/customers/{customer.pk}/",
        {"name": "Changed", "external_id": "ERP-1"},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["field"] == "external_id"
    customer.refresh_from_db()
    assert (customer.external_id, customer.name) == ("ERP-2", "Keep")


def test_keeping_a_customers_own_external_id_is_fine(admin_api: APIClient) -> None:
    customer = CustomerFactory(external_id="ERP-2")

    response = admin_api.patch(
        f"/api/customers/{customer.pk}/", {"external_id": "ERP-2", "city": "杭州"}, format="json"
    )

    assert response.status_code == 200


@pytest.mark.parametrize(
    ("url", "factory", "model", "body"),
    [
        ("/api/interactions/", InteractionFactory, Interaction, {"channel": "call"}),
        ("/api/tickets/", TicketFactory, Ticket, {"kind": "inquiry", "subject": "Again"}),
        ("/api/surveys/", SurveyFactory, SurveyResponse, {"kind": "nps", "score": 7}),
    ],
)
def test_recording_history_with_a_taken_external_id_is_refused(
    admin_api: APIClient, url: str, factory: Any, model: Any, body: dict[str, Any]
) -> None:
    existing = factory(external_id="EXT-1")
    before = model.objects.count()

    response = admin_api.post(
        url, {**body, "customer": existing.customer_id, "external_id": "EXT-1"}, format="json"
    )

    assert response.status_code == 400, response.content
    assert response.json()["field"] == "external_id"
    assert model.objects.count() == before


# --- numbers beyond the columns ------------------------------------------------------------


@pytest.mark.parametrize("count", [2**31, 10**30])
def test_an_employee_count_beyond_the_column_is_refused(admin_api: APIClient, count: int) -> None:
    customer = CustomerFactory(employee_count=5)

    response = admin_api.patch(
        f"/api/customers/{customer.pk}/", {"employee_count": count}, format="json"
    )

    assert response.status_code == 400
    customer.refresh_from_db()
    assert customer.employee_count == 5


def test_a_call_duration_beyond_the_column_is_refused(admin_api: APIClient) -> None:
    customer = CustomerFactory()

    response = admin_api.post(
        "/api/interactions/",
        {"customer": customer.pk, "channel": "call", "duration_seconds": 2**40},
        format="json",
    )

    assert response.status_code == 400
    assert not Interaction.objects.filter(customer=customer).exists()
