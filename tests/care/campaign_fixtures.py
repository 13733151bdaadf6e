"""Builders shared by the campaign tests: a journey, a segment with members, a staffed queue."""

import datetime as dt
from typing import Any

from django.utils import timezone

from callcenter.choices import Role
from callcenter.models import Customer
from care.choices import EventType
from care.models import Campaign, CareRule, MessageTemplate
from care.services.campaigns import campaign_create
from care.services.rules import care_rule_create
from care.services.templates import template_create
from outreach.models import Queue
from segments.choices import SegmentKind
from segments.models import CustomerMetrics, Segment, SegmentMembership
from tests.callcenter.factories import CustomerFactory, UserFactory


def sms_template() -> MessageTemplate:
    return template_create(
        name="Come back", channel="sms", variants={"en": {"body": "Hi {{ customer.name }}"}}
    )


def journey(*, steps: list[dict[str, Any]] | None = None, name: str = "Win back") -> CareRule:
    if steps is None:
        steps = [{"channel": "sms", "template_id": sms_template().pk, "sla_minutes": 60}]
    return care_rule_create(name=name, trigger_type=EventType.CAMPAIGN, steps=steps)


def segment_with(customers: list[Customer], slug: str = "dormant-big-spenders") -> Segment:
    segment = Segment.objects.create(
        name="Dormant big spenders",
        slug=slug,
        kind=SegmentKind.RULE,
        rule={"field": "monetary", "cmp": "gte", "value": 1000},
    )
    now = timezone.now()
    SegmentMembership.objects.bulk_create(
        [SegmentMembership(segment=segment, customer=c, entered_at=now) for c in customers]
    )
    return segment


def customers(count: int, **fields: Any) -> list[Customer]:
    """`count` customers, the later ones spending more (so rank 1 is the last created)."""
    made = CustomerFactory.create_batch(count, timezone="Asia/Shanghai", **fields)
    CustomerMetrics.objects.bulk_create(
        [
            CustomerMetrics(customer=c, monetary=100 + i, refreshed_at=timezone.now())
            for i, c in enumerate(made)
        ]
    )
    return made


def staffed_queue(slug: str = "general", agents: int = 2) -> Queue:
    queue, _created = Queue.objects.get_or_create(slug=slug, defaults={"name": slug.title()})
    for _i in range(agents):
        queue.members.add(UserFactory(role=Role.AGENT))
    return queue


def campaign(
    *, rule: CareRule, segment: Segment, starts_at: dt.datetime | None = None, **extra: Any
) -> Campaign:
    return campaign_create(
        created_by=None,
        name="Dormant big spenders, March",
        rule=rule.pk,
        segment=segment.pk,
        starts_at=starts_at or timezone.now(),
        **extra,
    )
