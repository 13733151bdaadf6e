"""Campaigns over the API and in the browser's pages: who may do what, a supervisor's whole
path (create, preview, launch, watch, pause, resume, cancel), bad input refused with 400 and
nothing changed, and fixed query counts on the campaign page and its progress panel."""

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from callcenter.choices import Role
from care.choices import CampaignStatus
from care.models import Campaign, CampaignRun
from outreach.models import OutreachTask
from tests.callcenter.factories import UserFactory
from tests.care.campaign_fixtures import campaign, customers, journey, segment_with

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(client: Client) -> Client:
    client.force_login(UserFactory(role=Role.SUPERVISOR))
    return client


def test_a_supervisor_creates_previews_launches_and_watches_a_campaign_over_the_api(
    api: Client, frozen: Any, django_capture_on_commit_callbacks: Any
) -> None:
    segment = segment_with(customers(20))
    rule = journey()
    created = api.post(
        reverse("api-care-campaigns"),
        {
            "name": "Dormant big spenders",
            "rule": rule.pk,
            "segment": segment.pk,
            "starts_at": timezone.now().isoformat(),
            "holdout_share": 0.1,
            "max_per_hour": {"sms": 5},
        },
        content_type="application/json",
    )
    assert created.status_code == 201, created.json()
    pk = created.json()["id"]
    assert created.json()["status"] == "draft"

    preview = api.get(reverse("api-care-campaign-preview", args=[pk])).json()
    assert (preview["members"], preview["control"], preview["treated"]) == (20, 2, 18)
    assert preview["channels"][0]["reachable"] == 20
    assert [day["tasks"] for day in preview["load"][0]["days"]] == [18]

    with django_capture_on_commit_callbacks(execute=True):
        launched = api.post(reverse("api-care-campaign-launch", args=[pk]))
    assert launched.status_code == 200
    detail = api.get(reverse("api-care-campaign", args=[pk])).json()
    assert detail["status"] == "running"
    assert detail["runs"][0]["members"] == 20

    progress = api.get(reverse("api-care-campaign-progress", args=[pk])).json()
    assert (progress["queued"], progress["enrolled"], progress["control"]) == (18, 18, 2)
    assert progress["uplift"]["verdict"] == "no_evidence"

    # pause, resume and cancel answer 202 with the new status; the job moves the tasks after
    for action, expected in (("pause", "paused"), ("resume", "running"), ("cancel", "cancelled")):
        with django_capture_on_commit_callbacks(execute=True):
            answer = api.post(reverse(f"api-care-campaign-{action}", args=[pk]))
        assert answer.status_code == 202
        assert (answer.json()["status"], answer.json()["work_pending"]) == (expected, True)
        if action == "pause":
            assert api.get(reverse("api-care-campaign-progress", args=[pk])).json()["held"] == 18
    assert api.get(reverse("api-care-campaign", args=[pk])).json()["work_pending"] is False
    assert api.get(reverse("api-care-campaign-progress", args=[pk])).json()["cancelled"] == 18


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"segment": 999999}, "segment"),
        ({"holdout_share": 2}, "holdout_share"),
        ({"starts_at": "tomorrow"}, "starts_at"),
        ({"recurrence": "hourly"}, "recurrence"),
        ({"max_per_hour": {"sms": -1}}, "max_per_hour"),
        ({"audience_rule": {"field": "nope", "cmp": "eq", "value": 1}}, None),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_changes_nothing(
    api: Client, frozen: Any, change: dict[str, Any], field: str | None
) -> None:
    target = campaign(rule=journey(), segment=segment_with(customers(2)))
    before = Campaign.objects.values().get(pk=target.pk)
    response = api.patch(
        reverse("api-care-campaign", args=[target.pk]), change, content_type="application/json"
    )
    assert response.status_code == 400
    if field is not None:
        body = response.json()
        assert field in body or body.get("field") == field, body
    assert Campaign.objects.values().get(pk=target.pk) == before
    created = api.post(
        reverse("api-care-campaigns"),
        {"name": "X", "rule": target.rule_id, "segment": target.segment_id, **change,
         "starts_at": change.get("starts_at", timezone.now().isoformat())},
        content_type="application/json",
    )  # fmt: skip
    assert created.status_code == 400
    assert Campaign.objects.count() == 1


def test_launching_twice_or_resuming_a_running_campaign_is_refused(
    api: Client, frozen: Any, django_capture_on_commit_callbacks: Any
) -> None:
    target = campaign(rule=journey(), segment=segment_with(customers(3)))
    with django_capture_on_commit_callbacks(execute=True):
        api.post(reverse("api-care-campaign-launch", args=[target.pk]))
    again = api.post(reverse("api-care-campaign-launch", args=[target.pk]))
    assert again.status_code == 400
    assert again.json()["field"] == "status"
    assert api.post(reverse("api-care-campaign-resume", args=[target.pk])).status_code == 400
    assert CampaignRun.objects.count() == 1
    assert OutreachTask.objects.count() == 3


def test_agents_cannot_see_or_launch_campaigns(client: Client, frozen: Any) -> None:
    target = campaign(rule=journey(), segment=segment_with(customers(2)))
    client.force_login(UserFactory(role=Role.AGENT))
    assert client.get(reverse("api-care-campaigns")).status_code == 403
    assert client.post(reverse("api-care-campaign-launch", args=[target.pk])).status_code == 403
    assert client.get(reverse("care-campaign", args=[target.pk])).status_code == 403
    assert client.post(reverse("care-campaign-launch", args=[target.pk])).status_code == 403
    target.refresh_from_db()
    assert target.status == CampaignStatus.DRAFT


def test_the_pages_create_preview_launch_and_show_progress(
    supervisor_client: Client, frozen: Any, django_capture_on_commit_callbacks: Any
) -> None:
    segment = segment_with(customers(8))
    rule = journey()
    page = supervisor_client.get(reverse("care-campaign-create"))
    assert page.status_code == 200
    posted = supervisor_client.post(
        reverse("care-campaign-create"),
        {
            "name": "Spring",
            "rule": rule.pk,
            "audience": "segment",
            "segment": segment.pk,
            "recurrence": "once",
            "starts_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
            "holdout_percent": 25,
            "sms_per_hour": 100,
        },
    )
    assert posted.status_code == 302, posted.content.decode()[:2000]
    target = Campaign.objects.get()
    assert (target.holdout_share, target.max_per_hour) == (0.25, {"sms": 100})
    detail = supervisor_client.get(reverse("care-campaign", args=[target.pk]))
    html = detail.content.decode()
    assert "data-preview" in html
    assert "data-members>8<" in html
    with django_capture_on_commit_callbacks(execute=True):
        supervisor_client.post(reverse("care-campaign-launch", args=[target.pk]))
    progress = supervisor_client.get(reverse("care-campaign-progress", args=[target.pk]))
    assert "data-queued>6<" in progress.content.decode()
    assert 'hx-trigger="every 5s"' in progress.content.decode()


def test_the_form_shows_bad_input_next_to_the_field_and_saves_nothing(
    supervisor_client: Client, frozen: Any
) -> None:
    rule = journey()
    response = supervisor_client.post(
        reverse("care-campaign-create"),
        {
            "name": "Spring",
            "rule": rule.pk,
            "audience": "rule",
            "audience_rule": '{"field": "nope", "cmp": "eq", "value": 1}',
            "recurrence": "weekly",
            "starts_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
            "holdout_percent": 0,
        },
    )
    assert response.status_code == 400
    assert not Campaign.objects.exists()


def test_campaign_page_and_progress_take_a_fixed_number_of_queries(
    supervisor_client: Client,
    frozen: Any,
    django_assert_max_num_queries: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    small = campaign(rule=journey(), segment=segment_with(customers(3)))
    big = campaign(rule=journey(name="Other"), segment=segment_with(customers(40), slug="big"))
    for target in (small, big):
        with django_capture_on_commit_callbacks(execute=True):
            supervisor_client.post(reverse("care-campaign-launch", args=[target.pk]))
    counts = []
    for target in (small, big):
        with django_assert_max_num_queries(30) as captured:
            assert (
                supervisor_client.get(reverse("care-campaign", args=[target.pk])).status_code == 200
            )
        page = len(captured)
        with django_assert_max_num_queries(30) as captured:
            supervisor_client.get(reverse("care-campaign-progress", args=[target.pk]))
        counts.append((page, len(captured)))
    assert counts[0] == counts[1]
    with django_assert_max_num_queries(30) as captured:
        assert supervisor_client.get(reverse("care-campaigns")).status_code == 200


def test_an_audience_rule_naming_a_deleted_segment_is_reported_not_a_server_error(
    supervisor_client: Client, frozen: Any
) -> None:
    from care.services.campaigns import campaign_create

    named = segment_with(customers(2), slug="soon-gone")
    target = campaign_create(
        created_by=None,
        name="By rule",
        rule=journey().pk,
        audience_rule={"field": "segment", "cmp": "in", "value": ["soon-gone"]},
        starts_at=timezone.now(),
    )
    named.delete()
    page = supervisor_client.get(reverse("care-campaign", args=[target.pk]))
    assert page.status_code == 200
    assert "data-preview-error" in page.content.decode()
    launched = supervisor_client.post(reverse("api-care-campaign-launch", args=[target.pk]))
    assert launched.status_code == 400
    target.refresh_from_db()
    assert target.status == CampaignStatus.DRAFT
