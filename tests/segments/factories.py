"""factory_boy factories for the segmentation domain."""

import datetime as dt

import factory
from django.utils import timezone

from segments.choices import ChurnModelStatus, LifecycleStage, SegmentKind, ValueTier
from segments.models import CustomerMetrics, Segment, SegmentMembership, ValueModel
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


# Value-model parameters of a plausible base, in days: about a purchase a month while active,
# a 20% chance of dropping out after each, and ~200 per order.
VALUE_PARAMS = {"r": 1.0, "alpha": 30.0, "a": 0.5, "b": 2.0, "p": 6.0, "q": 4.0, "gamma": 100.0}


class ValueModelFactory(factory.django.DjangoModelFactory):
    """A trained, current value-model fit with VALUE_PARAMS."""

    class Meta:
        model = ValueModel

    status = ChurnModelStatus.TRAINED
    version = factory.Sequence(lambda n: n + 1)
    as_of = factory.LazyFunction(timezone.now)
    cutoff = factory.LazyAttribute(lambda fit: fit.as_of - dt.timedelta(days=182))
    params = factory.LazyFunction(lambda: dict(VALUE_PARAMS))
    is_current = True
