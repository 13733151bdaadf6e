"""A saved rule segment gets its members at once (page and API), computed by the refresh's
own code for one segment and recorded as a refresh records them (entries and exits with their
run, a snapshot, segment events for care); large bases and a busy refresh lock go to a worker
while the page says "computing"."""

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connections
from django.test import Client
from django.urls import reverse
from django.utils import translation

from care.choices import EventType
from care.models import Event
from care.services.rules import care_rule_activate, care_rule_create
from care.services.templates import template_create
from segments.choices import RunStatus, SegmentKind
from segments.models import RefreshRun, Segment, SegmentMembership, SegmentSnapshot
from segments.selectors import metrics_as_of
from segments.services.refresh import segment_refresh
from segments.services.refresh_runs import REFRESH_LOCK_KEY
from segments.services.segment_compute import (
    segment_compute_pending,
    segment_members_compute,
    segment_members_request,
    segments_compute_pending,
)
from segments.services.segments import segment_create
from tests.callcenter.factories import CustomerFactory

pytestmark = pytest.mark.django_db

CITY_RULE = {"op": "and", "children": [{"field": "city", "cmp": "eq", "value": "Compute City"}]}


@pytest.fixture(autouse=True)
def _clear_cache() -> None:
    cache.clear()


@pytest.fixture
def client_as(client: Client) -> Callable[[Any], Client]:
    return lambda user: _logged_in(client, user)


def _logged_in(client: Client, user: Any) -> Client:
    client.force_login(user)
    return client


def _post(client: Client, url: str, name: str, rule: dict, **headers: str) -> Any:
    return client.post(
        url,
        {"name": name, "rule": json.dumps(rule), "priority_field": "monetary"},
        **headers,
    )


def _fresh(segment: Segment) -> Segment:
    segment.refresh_from_db()
    return segment


def _open_members(segment: Segment) -> set[int]:
    return set(
        SegmentMembership.objects.filter(segment=segment, exited_at__isnull=True).values_list(
            "customer_id", flat=True
        )
    )


def test_saving_in_the_editor_computes_the_members_at_once(
    client_as: Callable[[Any], Client], supervisor_user: Any
) -> None:
    inside = [CustomerFactory(city="Compute City").pk for _ in range(3)]
    CustomerFactory(city="Elsewhere")

    response = _post(client_as(supervisor_user), reverse("segment-create"), "Now", CITY_RULE)

    segment = Segment.objects.get(name="Now")
    assert response.status_code == 302
    assert _open_members(segment) == set(inside)
    assert segment.size == 3
    assert segment.last_refreshed_at is not None
    run = RefreshRun.objects.get(status=RunStatus.SEGMENT)
    assert run.counts == {"segment": segment.pk, "size": 3, "entered": 3, "exited": 0}
    assert set(
        SegmentMembership.objects.filter(segment=segment).values_list("entered_run", flat=True)
    ) == {run.pk}
    snapshot = SegmentSnapshot.objects.get(segment=segment, run=run)
    assert (snapshot.size, snapshot.entered, snapshot.exited) == (3, 3, 0)
    page = client_as(supervisor_user).get(response["Location"]).content.decode()
    assert "Segment saved: 3 members." in page
    assert "computing" not in page


def test_the_message_is_in_chinese_for_a_chinese_user(
    client_as: Callable[[Any], Client], supervisor_user: Any
) -> None:
    CustomerFactory(city="Compute City")

    with translation.override("zh-hans"):
        response = _post(
            client_as(supervisor_user),
            reverse("segment-create"),
            "中文",
            CITY_RULE,
            HTTP_ACCEPT_LANGUAGE="zh-hans",
        )
        page = (
            client_as(supervisor_user)
            .get(response["Location"], HTTP_ACCEPT_LANGUAGE="zh-hans")
            .content.decode()
        )

    assert "分群已保存：1 位成员。" in page


def test_editing_the_rule_records_exits_and_entries_with_the_new_run(
    client_as: Callable[[Any], Client], supervisor_user: Any
) -> None:
    first = CustomerFactory(city="Compute City")
    second = CustomerFactory(city="Other City")
    client = client_as(supervisor_user)
    _post(client, reverse("segment-create"), "Moving", CITY_RULE)
    segment = Segment.objects.get(name="Moving")
    other = {"op": "and", "children": [{"field": "city", "cmp": "eq", "value": "Other City"}]}

    _post(client, reverse("segment-edit", args=[segment.pk]), "Moving", other)

    assert _open_members(segment) == {second.pk}
    last = RefreshRun.objects.filter(status=RunStatus.SEGMENT).latest("pk")
    exit_row = SegmentMembership.objects.get(segment=segment, customer=first)
    assert exit_row.exited_run_id == last.pk
    assert last.counts["entered"] == 1
    assert last.counts["exited"] == 1


def test_entries_become_segment_events_for_the_care_rules_listening(
    supervisor_user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    customer = CustomerFactory(city="Compute City")
    segment = segment_create(name="Listened", rule=CITY_RULE, created_by=supervisor_user)
    template = template_create(name="Welcome", channel="sms", variants={"en": {"body": "Hi"}})
    care_rule_activate(
        rule=care_rule_create(
            name="On entry",
            trigger_type=EventType.SEGMENT_ENTERED,
            trigger_params={"segment": segment.slug},
            steps=[{"channel": "sms", "template_id": template.pk}],
        )
    )

    with django_capture_on_commit_callbacks(execute=False):
        run = segment_members_compute(segment_id=segment.pk)

    assert run is not None
    event = Event.objects.get(type=EventType.SEGMENT_ENTERED, customer=customer)
    assert event.payload["segment"] == segment.slug


def test_a_computed_segment_is_not_a_refresh_and_the_next_refresh_keeps_its_members(
    supervisor_user: Any,
) -> None:
    customer = CustomerFactory(city="Compute City")
    refresh = segment_refresh()
    assert refresh.status == RunStatus.SUCCEEDED
    segment = segment_create(name="Kept", rule=CITY_RULE, created_by=supervisor_user)

    run = segment_members_compute(segment_id=segment.pk)

    assert run is not None
    assert run.as_of == refresh.as_of
    assert metrics_as_of() == refresh.as_of
    segment_refresh()
    stays = SegmentMembership.objects.filter(segment=segment, customer=customer)
    assert stays.count() == 1
    assert stays.get().exited_at is None


def test_a_large_base_is_computed_by_a_worker_while_the_page_says_computing(
    client_as: Callable[[Any], Client],
    supervisor_user: Any,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.SEGMENT_COMPUTE_SYNC_MAX_CUSTOMERS = -1
    CustomerFactory(city="Compute City")
    client = client_as(supervisor_user)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = _post(client, reverse("segment-create"), "Queued", CITY_RULE)
    segment = Segment.objects.get(name="Queued")
    page = client.get(response["Location"]).content.decode()
    assert "Its members are being computed." in page
    assert "computing…" in page
    assert f'hx-get="{reverse("segment-size", args=[segment.pk])}"' in page
    assert segment_compute_pending(segment=_fresh(segment))
    assert not _open_members(segment)

    for callback in callbacks:  # the worker's task (eager in tests)
        callback()

    fragment = client.get(reverse("segment-size", args=[segment.pk])).content.decode()
    assert "computing" not in fragment
    assert "hx-trigger" not in fragment
    assert ">1<" in fragment
    assert len(_open_members(segment)) == 1


def test_a_page_that_read_the_segment_before_the_worker_committed_keeps_polling(
    supervisor_user: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    # The page reads the segment row, the worker commits its members, then the page reads
    # the mark: the page must still say "computing" (and poll once more), not show the size it
    # read before as final.
    settings.SEGMENT_COMPUTE_SYNC_MAX_CUSTOMERS = -1
    CustomerFactory(city="Compute City")
    segment = segment_create(name="Raced", rule=CITY_RULE, created_by=supervisor_user)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        segment_members_request(segment=segment)
    read_by_the_page = Segment.objects.get(pk=segment.pk)

    for callback in callbacks:  # the worker's task
        callback()

    assert read_by_the_page.size == 0
    assert segment_compute_pending(segment=read_by_the_page)
    assert segments_compute_pending(segments=[read_by_the_page]) == {segment.pk}
    polled = Segment.objects.get(pk=segment.pk)
    assert polled.size == 1
    assert not segment_compute_pending(segment=polled)
    assert not segments_compute_pending(segments=[polled])


def test_a_refresh_holding_the_lock_sends_the_computation_to_a_worker(
    client_as: Callable[[Any], Client],
    supervisor_user: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    CustomerFactory(city="Compute City")
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [REFRESH_LOCK_KEY])
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            _post(client_as(supervisor_user), reverse("segment-create"), "Busy", CITY_RULE)
        segment = Segment.objects.get(name="Busy")
        assert segment_compute_pending(segment=_fresh(segment))
        assert not _open_members(segment)
    finally:
        other.close()
    for callback in callbacks:
        callback()
    assert len(_open_members(segment)) == 1
    assert not segment_compute_pending(segment=_fresh(segment))


def test_a_refresh_ends_the_computing_mark_of_a_task_that_never_ran(
    supervisor_user: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.SEGMENT_COMPUTE_SYNC_MAX_CUSTOMERS = -1
    CustomerFactory(city="Compute City")
    segment = segment_create(name="Lost task", rule=CITY_RULE, created_by=supervisor_user)
    with django_capture_on_commit_callbacks(execute=False):  # the broker lost it
        segment_members_request(segment=segment)
    assert segment_compute_pending(segment=_fresh(segment))

    segment_refresh()

    assert not segment_compute_pending(segment=_fresh(segment))
    assert len(_open_members(segment)) == 1


def test_the_api_computes_on_create_and_on_a_rule_change(
    api_as: Callable[[Any], Any], supervisor_user: Any
) -> None:
    CustomerFactory(city="Compute City")
    api = api_as(supervisor_user)

    created = api.post(reverse("api-segments"), {"name": "Api", "rule": CITY_RULE}, format="json")

    assert created.status_code == 201, created.content
    assert (created.json()["size"], created.json()["computing"]) == (1, False)
    pk = created.json()["id"]
    nobody = {"op": "and", "children": [{"field": "city", "cmp": "eq", "value": "Nowhere"}]}
    changed = api.patch(reverse("api-segment", args=[pk]), {"rule": nobody}, format="json")
    assert changed.json()["size"] == 0
    assert not _open_members(Segment.objects.get(pk=pk))
    renamed = api.patch(reverse("api-segment", args=[pk]), {"name": "B"}, format="json")
    assert renamed.status_code == 200
    assert RefreshRun.objects.filter(status=RunStatus.SEGMENT).count() == 2


def test_agents_cannot_read_the_count_fragment(
    client_as: Callable[[Any], Client], agent_user: Any
) -> None:
    segment = Segment.objects.filter(kind=SegmentKind.TIER).first()
    assert segment is not None

    response = client_as(agent_user).get(reverse("segment-size", args=[segment.pk]))

    assert response.status_code == 403


def test_a_new_capacity_applies_at_once_keeping_the_top_members(
    client_as: Callable[[Any], Client], supervisor_user: Any
) -> None:
    customers = [CustomerFactory(city="Compute City") for _ in range(3)]
    client = client_as(supervisor_user)
    _post(client, reverse("segment-create"), "Capped", CITY_RULE)
    segment = Segment.objects.get(name="Capped")
    assert len(_open_members(segment)) == 3

    response = client.post(
        reverse("segment-settings", args=[segment.pk]),
        {"capacity": "2", "priority_field": "monetary", "priority_descending": "on"},
    )

    assert response.status_code == 302
    assert len(_open_members(segment)) == 2
    assert _open_members(segment) <= {customer.pk for customer in customers}
    page = client.get(response["Location"]).content.decode()
    assert "Settings saved. The members are computed again." in page
