"""JSON typed into forms (the care rule editor, the segment rule editor, the Django admin's JSON
fields) gets the API's limits as form errors: a `\\u0000` escape (a NUL character, which
PostgreSQL refuses) or nesting a thousand levels deep answered 500 before."""

import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from callcenter.choices import Role
from care.models import CareRule, CareSettings
from segments.models import Segment
from tests.callcenter.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db

NUL_CONDITION = '{"field": "city", "cmp": "eq", "value": "x\\u0000"}'
DEEP = "[" * 5000 + "]" * 5000


@pytest.fixture
def admin_page(client: Client) -> Client:
    client.force_login(UserFactory(role=Role.ADMIN, username="json_admin"))
    return client


@pytest.fixture
def superuser_page(client: Client) -> Client:
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


def _rule_data(conditions: str) -> dict[str, Any]:
    return {
        "name": "Typed rule",
        "description": "",
        "trigger_type": "ticket_opened",
        "conditions": conditions,
        "category": "service",
        "priority": "5",
        "cooldown_days": "0",
        "holdout_percent": "0",
        "note": "",
        "steps-TOTAL_FORMS": "1",
        "steps-INITIAL_FORMS": "0",
        "steps-MIN_NUM_FORMS": "0",
        "steps-MAX_NUM_FORMS": "20",
        "steps-0-channel": "call",
        "steps-0-delay_value": "0",
        "steps-0-delay_unit": "hours",
        "steps-0-sla_minutes": "60",
        "steps-0-escalation": "reassign",
        "steps-0-touch_kind": "service",
        "steps-0-assignee_rule": "queue",
        "steps-0-assignee_target": "general",
        "steps-0-ORDER": "1",
    }


@pytest.mark.parametrize(("conditions", "message"), [(NUL_CONDITION, "NUL"), (DEEP, "levels deep")])
def test_the_care_rule_editor_refuses_such_json_as_a_form_error(
    admin_page: Client, conditions: str, message: str
) -> None:
    response = admin_page.post(reverse("care-rule-create"), _rule_data(conditions))

    assert response.status_code in (200, 400)
    assert message in str(response.context["form"].errors["conditions"])
    assert not CareRule.objects.filter(name="Typed rule").exists()


@pytest.mark.parametrize(
    ("rule", "message"),
    [('{"op": "and", "children": [' + NUL_CONDITION + "]}", "NUL"), (DEEP, "levels deep")],
)
def test_the_segment_rule_editor_refuses_such_json_as_a_form_error(
    admin_page: Client, rule: str, message: str
) -> None:
    response = admin_page.post(
        reverse("segment-create"),
        {"name": "Typed segment", "rule": rule, "priority_field": "monetary"},
    )

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Segment.objects.filter(name="Typed segment").exists()


@pytest.mark.parametrize(
    ("attributes", "message"), [('{"note": "a\\u0000"}', "NUL"), (DEEP, "levels deep")]
)
def test_the_admin_refuses_such_customer_attributes(
    superuser_page: Client, attributes: str, message: str
) -> None:
    customer = CustomerFactory(attributes={"note": "kept"})

    response = superuser_page.post(
        f"/admin/callcenter/customer/{customer.pk}/change/",
        {
            "name": customer.name,
            "kind": customer.kind,
            "external_id": customer.external_id,
            "timezone": customer.timezone,
            "language": customer.language,
            "attributes": attributes,
            **_empty_inlines(),
        },
    )

    assert response.status_code == 200
    assert message in response.content.decode()
    customer.refresh_from_db()
    assert customer.attributes == {"note": "kept"}


def _empty_inlines() -> dict[str, str]:
    management: dict[str, str] = {}
    for prefix in ("contact_points", "orders", "tickets", "interactions"):
        management.update(
            {
                f"{prefix}-TOTAL_FORMS": "0",
                f"{prefix}-INITIAL_FORMS": "0",
                f"{prefix}-MIN_NUM_FORMS": "0",
                f"{prefix}-MAX_NUM_FORMS": "1000",
            }
        )
    return management


def test_the_admin_refuses_a_nul_in_care_settings(superuser_page: Client) -> None:
    settings = CareSettings.load()
    url = f"/admin/care/caresettings/{settings.pk}/change/"
    form = superuser_page.get(url).context["adminform"].form
    data = {
        name: json.dumps(value) if isinstance(value, list | dict) else value
        for name, value in form.initial.items()
        if value is not None and name in form.fields
    }

    response = superuser_page.post(url, {**data, "stop_words": '["halt\\u0000"]'})

    assert response.status_code == 200
    assert "NUL" in response.content.decode()
    assert "halt\x00" not in CareSettings.load().stop_words
