"""The dispatcher renders the customer-specific placeholders (attributes, top category,
preferred channel, segment, value tier, order product) for a whole chunk in a few queries,
and sends the links of such texts as tracked links."""

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from callcenter.choices import Direction, InteractionChannel, Language
from care.choices import TemplateChannel
from care.models import CareSettings
from care.services.templates import template_create
from outreach.models import OutreachTask, TrackedLink
from outreach.services.dispatch import dispatch_due
from tests.callcenter.factories import (
    CustomerFactory,
    InteractionFactory,
    OrderFactory,
    PhoneFactory,
)
from tests.outreach.factories import TaskFactory
from tests.outreach.gateway import Gateway
from tests.segments.factories import (
    CustomerMetricsFactory,
    SegmentFactory,
    SegmentMembershipFactory,
)

pytestmark = pytest.mark.django_db

DAYTIME = dt.datetime(2026, 6, 10, 7, 0, tzinfo=dt.UTC)
BODY = (
    '{{ customer.name }}: {{ customer.attr.points|default:"your" }} points, '
    '{{ customer.top_category|default:"our range" }}, '
    '{{ customer.preferred_channel|default:"phone" }}, '
    '{{ customer.segment|default:"friends" }}, {{ customer.value_tier|default:"valued" }}, '
    '{{ order.product|default:"your order" }} https://shop.cn/offer'
)


def _customer(n: int, segment: Any) -> Any:
    customer = CustomerFactory(
        name=f"C{n}", language=Language.EN, timezone="Asia/Shanghai", attributes={"points": n}
    )
    PhoneFactory(customer=customer)
    OrderFactory(
        customer=customer,
        placed_at=DAYTIME - dt.timedelta(days=3),
        category="Tea",
        product="Oolong",
    )
    InteractionFactory(
        customer=customer, channel=InteractionChannel.WECHAT, direction=Direction.INBOUND
    )
    SegmentMembershipFactory(segment=segment, customer=customer)
    CustomerMetricsFactory(customer=customer)
    return customer


def test_a_chunk_loads_the_new_placeholders_once(
    http_sms: Gateway, care_settings: CareSettings, settings: Any
) -> None:
    settings.TRACKED_LINK_BASE_URL = "https://crm.example.cn"
    template = template_create(
        name="Speak", channel=TemplateChannel.SMS, variants={"en": {"body": BODY}}
    )
    segment = SegmentFactory(name="Tea lovers")

    def run(count: int) -> int:
        OutreachTask.objects.all().delete()
        with time_machine.travel(DAYTIME, tick=False):
            for n in range(count):
                TaskFactory(customer=_customer(n, segment), template=template, body="")
            with CaptureQueriesContext(connection) as queries:
                assert dispatch_due()["sent"] == count
        return len(queries)

    one, three = run(1), run(3)
    # Per task: its links (one INSERT, one SELECT) and the record of its send; everything the
    # placeholders draw on is loaded once for the chunk.
    assert three - one == (3 - 1) * 3
    sent = [request.json()["text"] for request in http_sms.requests[-3:]]
    assert sent[0].startswith(
        "C0: 0 points, Tea, WeChat, Tea lovers, Medium value, Oolong https://crm.example.cn/l/"
    )
    assert TrackedLink.objects.count() == 3
