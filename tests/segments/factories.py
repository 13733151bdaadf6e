"""factory_boy factories for the segmentation domain."""

import datetime as dt

import factory
from django.utils import timezone

from segments.choices import LifecycleStage, SegmentKind, ValueTier
from segments.models import CustomerMetrics, Segment, SegmentMembership
from tests.callcenter.factories import CustomerFactory


class SegmentFactory(factory.django.DjangoModelFactory):
    """A rule segment by default; built-in segments already exist (installed by migration)."""

    class Meta:
        model = Segment
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Segment {n}")
    slug = factory.Sequence(lambda n: f"segment-{n}")
    kind = SegmentKind.RULE
    rule = factory.LazyFunction(lambda: {"field": "city", "cmp": "is_set"})


class SegmentMembershipFactory(factory.django.DjangoModelFactory):
    """An open stay unless `exited_at` is given."""

    class Meta:
        model = SegmentMembership

    segment = factory.SubFactory(SegmentFactory)
    customer = factory.SubFactory(CustomerFactory)
    entered_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(days=1))


class CustomerMetricsFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CustomerMetrics

    customer = factory.SubFactory(CustomerFactory)
    refreshed_at = factory.LazyFunction(timezone.now)
    lifecycle_stage = LifecycleStage.ACTIVE
    value_tier = ValueTier.MEDIUM
