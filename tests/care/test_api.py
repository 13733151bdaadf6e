"""The care API: who may do what, the idempotent event ingest, rules, templates, enrollments."""

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from callcenter.choices import Role
from callcenter.errors import ApplicationError
from care.models import CareRule, Enrollment, Event, MessageTemplate
from care.services.rules import care_rule_activate, care_rule_create
from care.services.templates import template_create
from outreach.models import OutreachTask, Queue
from tests.callcenter.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db

ApiAs = Callable[[object | None], APIClient]


@pytest.fixture
def sms() -> MessageTemplate:
    return template_create(
        name="Hi", channel="sms", variants={"en": {"body": "Hi {{ customer.name }}"}}
    )


@pytest.fixture
def rule(sms: MessageTemplate) -> CareRule:
    return care_rule_create(
        name="Promo",
        trigger_type="external",
        trigger_params={"name": "promo"},
        steps=[{"channel": "sms", "template_id": sms.pk, "sla_minutes": 30}],
    )


READS = [
    ("get", "/api/care/rules/"),
    ("get", "/api/care/templates/"),
    ("get", "/api/care/enrollments/"),
    ("get", "/api/events/"),
    ("get", "/api/care/settings/"),
]


@pytest.mark.parametrize(
    ("role_user", "allowed"),
    [(None, False), (Role.AGENT, False), (Role.SUPERVISOR, True), (Role.ADMIN, True)],
    indirect=["role_user"],
)
@pytest.mark.parametrize(("method", "url"), READS)
def test_reads_are_for_supervisors_and_admins(
    api_as: ApiAs, role_user: Any, allowed: bool, method: str, url: str, rule: CareRule
) -> None:
    response = getattr(api_as(role_user), method)(url)

    assert response.status_code == (200 if allowed else 403)


@pytest.mark.parametrize("role_user", [None, Role.AGENT, Role.SUPERVISOR], indirect=["role_user"])
def test_only_admins_change_rules_templates_and_settings(
    api_as: ApiAs, role_user: Any, rule: CareRule, sms: MessageTemplate
) -> None:
    client = api_as(role_user)
    attempts = [
        client.post("/api/care/rules/", {"name": "X"}, format="json"),
        client.patch(f"/api/care/rules/{rule.pk}/", {"priority": 3}, format="json"),
        client.post(f"/api/care/rules/{rule.pk}/activate/"),
        client.post("/api/care/templates/", {"name": "T"}, format="json"),
        client.patch(f"/api/care/templates/{sms.pk}/", {"name": "T"}, format="json"),
        client.delete(f"/api/care/templates/{sms.pk}/"),
        client.post("/api/care/templates/preview/", {"customer_id": 1}, format="json"),
        client.patch("/api/care/settings/", {"frequency_cap": 9}, format="json"),
    ]

    assert [response.status_code for response in attempts] == [403] * len(attempts)
    rule.refresh_from_db()
    assert (rule.priority, rule.is_active, rule.version) == (0, False, 1)


def test_an_integration_user_posts_events_with_a_token_and_a_key_is_one_event(
    api_client: APIClient, django_capture_on_commit_callbacks: Any, rule: CareRule
) -> None:
    care_rule_activate(rule=rule)
    integration = UserFactory(role=Role.ADMIN, username="erp")
    token = Token.objects.create(user=integration)
    customer = CustomerFactory(external_id="ERP-42")
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    body = {"type": "external", "external_id": "ERP-42", "payload": {"name": "promo"}}

    with django_capture_on_commit_callbacks(execute=True):
        first = api_client.post("/api/events/", body, format="json", HTTP_IDEMPOTENCY_KEY="abc")
    with django_capture_on_commit_callbacks(execute=True):
        again = api_client.post("/api/events/", body, format="json", HTTP_IDEMPOTENCY_KEY="abc")

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert Event.objects.count() == 1
    # processed after commit: one enrollment, one task
    assert Enrollment.objects.filter(customer=customer).count() == 1
    assert OutreachTask.objects.filter(customer=customer).count() == 1
    assert Event.objects.get().processed_at is not None


def test_event_ingest_refusals(api_as: ApiAs, crm_admin_user: Any) -> None:
    customer = CustomerFactory()
    other = CustomerFactory()
    client = api_as(crm_admin_user)

    missing_key = client.post(
        "/api/events/", {"type": "external", "customer_id": customer.pk}, format="json"
    )
    in_body = client.post(
        "/api/events/",
        {"type": "external", "customer_id": customer.pk, "idempotency_key": "k"},
        format="json",
    )
    conflict = client.post(
        "/api/events/",
        {"type": "external", "customer_id": other.pk, "idempotency_key": "k"},
        format="json",
    )
    unknown_type = client.post(
        "/api/events/",
        {"type": "party", "customer_id": customer.pk},
        format="json",
        HTTP_IDEMPOTENCY_KEY="z",
    )

    assert missing_key.status_code == 400
    assert "idempotency key" in missing_key.json()["detail"]
    assert in_body.status_code == 201
    assert conflict.status_code == 409
    assert unknown_type.status_code == 400
    assert Event.objects.count() == 1


def test_admin_creates_edits_and_activates_a_rule_and_reads_versions_and_diff(
    api_as: ApiAs, crm_admin_user: Any, sms: MessageTemplate
) -> None:
    Queue.objects.create(slug="general", name="General")
    client = api_as(crm_admin_user)
    created = client.post(
        "/api/care/rules/",
        {
            "name": "Detractors",
            "trigger_type": "survey_submitted",
            "trigger_params": {"kind": "nps", "max_score": 6},
            "conditions": {"field": "value_tier", "cmp": "eq", "value": "high"},
            "stop_conditions": ["customer_replied"],
            "steps": [{"channel": "sms", "template_id": sms.pk, "sla_minutes": 60}],
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    rule_id = created.json()["id"]
    step_id = created.json()["steps"][0]["id"]

    edited = client.patch(
        f"/api/care/rules/{rule_id}/",
        {
            "note": "add a call",
            "steps": [
                {"id": step_id, "channel": "sms", "template_id": sms.pk, "sla_minutes": 60},
                {"channel": "call", "name": "Call", "assignee_target": "general"},
            ],
        },
        format="json",
    )
    activated = client.post(f"/api/care/rules/{rule_id}/activate/")
    versions = client.get(f"/api/care/rules/{rule_id}/versions/")
    diff = client.get(f"/api/care/rules/{rule_id}/versions/diff/?from=1&to=2")

    assert edited.status_code == 200
    assert [s["channel"] for s in edited.json()["steps"]] == ["sms", "call"]
    assert activated.json()["is_active"] is True
    assert [v["version"] for v in versions.json()] == [3, 2, 1]
    assert versions.json()[1]["note"] == "add a call"
    assert versions.json()[0]["changed_by"] == crm_admin_user.username
    assert [s["channel"] for s in diff.json()["steps"]["added"]] == ["call"]


def test_a_rules_category_is_created_changed_versioned_and_checked(
    api_as: ApiAs, crm_admin_user: Any, sms: MessageTemplate
) -> None:
    client = api_as(crm_admin_user)
    created = client.post(
        "/api/care/rules/",
        {
            "name": "Wake-up",
            "trigger_type": "inactivity",
            "trigger_params": {"days": 60},
            "category": "retention",
            "priority": 40,
            "steps": [{"channel": "sms", "template_id": sms.pk, "sla_minutes": 60}],
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    assert (created.json()["category"], created.json()["priority"]) == ("retention", 40)
    rule_id = created.json()["id"]

    bad = client.patch(f"/api/care/rules/{rule_id}/", {"category": "spam"}, format="json")
    assert bad.status_code == 400
    assert "category" in bad.json()
    assert CareRule.objects.get(pk=rule_id).category == "retention"

    edited = client.patch(f"/api/care/rules/{rule_id}/", {"category": "marketing"}, format="json")
    diff = client.get(f"/api/care/rules/{rule_id}/versions/diff/?from=1&to=2")

    assert edited.json()["category"] == "marketing"
    assert diff.json()["fields"] == {"category": {"from": "retention", "to": "marketing"}}


def test_the_rule_service_refuses_an_unknown_category(sms: MessageTemplate) -> None:
    with pytest.raises(ApplicationError) as error:
        care_rule_create(
            name="Odd",
            trigger_type="external",
            category="spam",
            steps=[{"channel": "sms", "template_id": sms.pk}],
        )

    assert error.value.extra["field"] == "category"
    assert not CareRule.objects.filter(name="Odd").exists()


def test_bad_rule_input_is_a_400_naming_the_problem(
    api_as: ApiAs, crm_admin_user: Any, sms: MessageTemplate
) -> None:
    response = api_as(crm_admin_user).post(
        "/api/care/rules/",
        {
            "name": "Bad",
            "trigger_type": "interaction_logged",
            "trigger_params": {"sentiment_below": -3},
            "steps": [{"channel": "sms", "template_id": sms.pk}],
        },
        format="json",
    )

    assert response.status_code == 400
    assert '"sentiment_below" must be a number from -1 to 1' in response.json()["detail"]
    assert response.json()["field"] == "trigger_params"
    assert not CareRule.objects.filter(name="Bad").exists()


def test_template_crud_refuses_bad_placeholders_and_previews_with_a_real_customer(
    api_as: ApiAs, crm_admin_user: Any
) -> None:
    client = api_as(crm_admin_user)
    customer = CustomerFactory(name="<b>Ann</b>")

    bad = client.post(
        "/api/care/templates/",
        {"name": "Bad", "channel": "sms", "variants": {"en": {"body": "{{ customer.ssn }}"}}},
        format="json",
    )
    preview = client.post(
        "/api/care/templates/preview/",
        {
            "customer_id": customer.pk,
            "channel": "email",
            "variants": {"en": {"subject": "Hi", "body": "<p>{{ customer.name }}</p>"}},
        },
        format="json",
    )
    created = client.post(
        "/api/care/templates/",
        {
            "name": "Welcome",
            "channel": "sms",
            "variants": {
                "en": {"body": "Hi {{ customer.first_name }}"},
                "zh-hans": {"body": "您好"},
            },
        },
        format="json",
    )
    template_id = created.json()["id"]
    saved_preview = client.post(
        "/api/care/templates/preview/",
        {"customer_id": customer.pk, "template_id": template_id, "language": "en"},
        format="json",
    )
    deleted = client.delete(f"/api/care/templates/{template_id}/")

    assert bad.status_code == 400
    assert 'unknown placeholder "{{ customer.ssn }}"' in bad.json()["detail"]
    assert preview.status_code == 200
    assert preview.json()["en"]["body"] == "<p>&lt;b&gt;Ann&lt;/b&gt;</p>"
    assert created.status_code == 201
    assert saved_preview.json() == {"en": {"subject": "", "body": "Hi <b>Ann</b>", "samples": []}}
    assert deleted.status_code == 204
    assert not MessageTemplate.objects.exists()


def test_template_api_refuses_a_gap_and_previews_samples(
    api_as: ApiAs, crm_admin_user: Any
) -> None:
    client = api_as(crm_admin_user)
    customer = CustomerFactory(name="Ann", language="en")

    gap = client.post(
        "/api/care/templates/",
        {"name": "Gap", "channel": "sms", "variants": {"en": {"body": "{{ order.product }}"}}},
        format="json",
    )
    preview = client.post(
        "/api/care/templates/preview/",
        {
            "customer_id": customer.pk,
            "channel": "sms",
            "variants": {"en": {"body": '{{ order.product|default:"your order" }}'}},
        },
        format="json",
    )
    listed = client.get("/api/care/templates/").json()

    assert gap.status_code == 400
    assert (gap.json()["field"], gap.json()["placeholder"]) == ("en body", "order.product")
    assert not MessageTemplate.objects.exists()
    assert preview.json() == {"en": {"subject": "", "body": "Sample product", "samples": ["order"]}}
    assert "customer.attr.NAME" in listed["placeholders"]
    assert "order.product" in listed["placeholders_needing_fallback"]


def test_enrollments_list_with_filters(
    api_as: ApiAs,
    supervisor_user: Any,
    crm_admin_user: Any,
    rule: CareRule,
    django_capture_on_commit_callbacks: Any,
) -> None:
    care_rule_activate(rule=rule)
    first, second = CustomerFactory.create_batch(2)
    client = api_as(crm_admin_user)
    for index, customer in enumerate((first, second)):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                "/api/events/",
                {"type": "external", "customer_id": customer.pk, "payload": {"name": "promo"}},
                format="json",
                HTTP_IDEMPOTENCY_KEY=f"e{index}",
            )
        assert response.status_code == 201

    client = api_as(supervisor_user)
    everyone = client.get("/api/care/enrollments/")
    only_first = client.get(f"/api/care/enrollments/?customer={first.pk}&status=active")
    bad_filter = client.get("/api/care/enrollments/?status=sleeping")

    assert len(everyone.json()["results"]) == 2
    rows = only_first.json()["results"]
    assert [(r["customer_id"], r["rule_slug"], r["rule_version"]) for r in rows] == [
        (first.pk, rule.slug, 2)
    ]
    assert bad_filter.status_code == 400


def test_settings_are_changed_by_admins_with_checks(api_as: ApiAs, crm_admin_user: Any) -> None:
    client = api_as(crm_admin_user)

    changed = client.patch(
        "/api/care/settings/",
        {"frequency_cap": 4, "business_days": [1, 2, 3, 4, 5, 6], "inactivity_days": [90, 60]},
        format="json",
    )
    refused = client.patch("/api/care/settings/", {"business_days": [0, 8]}, format="json")

    assert changed.status_code == 200
    assert changed.json()["inactivity_days"] == [60, 90]
    assert refused.status_code == 400
    assert client.get("/api/care/settings/").json()["business_days"] == [1, 2, 3, 4, 5, 6]
