"""The rule editor and journeys: the saved journey drawn as a flow with its branches in words
(both languages, fixed queries), saved unchanged through the form, and a bad journey shown with
the path of the bad node and not saved."""

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from care.forms import RuleForm, step_initial
from care.models import CareRule
from care.services.rules import rule_snapshot

pytestmark = pytest.mark.django_db


@pytest.fixture
def repayment(playbook: Any) -> CareRule:
    return CareRule.objects.get(playbook_key="repayment-reminder")


def _form_data(rule: CareRule) -> dict[str, Any]:
    """What the editor posts back for `rule` unchanged (the values it shows)."""
    data: dict[str, Any] = {}
    for key, value in RuleForm.initial_for(rule).items():
        data[key] = value if isinstance(value, list) else ("" if value is None else str(value))
    data["conditions"] = ""
    data["holdout_percent"] = "0"
    data["note"] = ""
    steps = rule_snapshot(rule)["steps"]
    data.update(
        {
            "steps-TOTAL_FORMS": str(len(steps)),
            "steps-INITIAL_FORMS": str(len(steps)),
            "steps-MIN_NUM_FORMS": "0",
            "steps-MAX_NUM_FORMS": "20",
        }
    )
    for index, step in enumerate(steps):
        for key, value in step_initial(step).items():
            if value is None or value is False:
                continue
            if key == "conditions":
                continue
            data[f"steps-{index}-{key}"] = "on" if value is True else str(value)
        data[f"steps-{index}-ORDER"] = str(index + 1)
    return data


def test_the_editor_draws_the_journey_with_its_branches_in_words(
    admin_client: Client, repayment: CareRule, django_assert_max_num_queries: Any
) -> None:
    url = reverse("care-rule-edit", args=[repayment.pk])
    admin_client.get(url)  # warm the session and role caches

    with django_assert_max_num_queries(14):
        response = admin_client.get(url)

    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="journey-flow"' in html
    assert "Waits up to 24 h for: The automated call&#x27;s result" in html
    assert "Customer intent: Transfer to a human →" in html
    assert "Call result: No answer, Busy, Failed, Voicemail →" in html
    assert "Nothing within 24 h →" in html
    # a step reached by several branches is drawn once, then referred to
    assert html.count('data-journey-step="human-call"') >= 2
    assert "Continues at step 3 (human-call), shown above" in html


def test_the_flow_speaks_chinese(admin_client: Client, repayment: CareRule) -> None:
    response = admin_client.get(
        reverse("care-rule-edit", args=[repayment.pk]), HTTP_ACCEPT_LANGUAGE="zh-hans"
    )

    html = response.content.decode()
    assert "客户意图：转人工 →" in html
    assert "24 小时内无结果 →" in html


def test_saving_the_editor_unchanged_keeps_the_journey(
    admin_client: Client, repayment: CareRule
) -> None:
    before = rule_snapshot(repayment)
    version = repayment.version

    response = admin_client.post(
        reverse("care-rule-edit", args=[repayment.pk]), _form_data(repayment)
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    repayment.refresh_from_db()
    assert rule_snapshot(repayment)["steps"] == before["steps"]
    assert repayment.stop_conditions == before["stop_conditions"]
    assert repayment.version == version


def test_a_bad_journey_is_shown_with_its_path_and_not_saved(
    admin_client: Client, repayment: CareRule
) -> None:
    data = _form_data(repayment)
    version = repayment.version
    data["steps-1-timeout_goto"] = "auto-call-1"  # back to the first call: a loop

    response = admin_client.post(reverse("care-rule-edit", args=[repayment.pk]), data)

    html = response.content.decode()
    assert response.status_code == 400
    assert "steps[1].branches[" in html
    assert "may not loop" in html
    repayment.refresh_from_db()
    assert repayment.version == version
