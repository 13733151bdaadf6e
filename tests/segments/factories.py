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


class ValueModelFactory(factory.django.DjangoModelFactory):
    """A trained, current fit of the value model with a hold-out check, as the fit writes it
    (parameters with time in days)."""

    class Meta:
        model = ValueModel

    status = ChurnModelStatus.TRAINED
    version = factory.Sequence(lambda n: n + 1)
    as_of = factory.LazyFunction(timezone.now)
    cutoff = factory.LazyAttribute(lambda fit: fit.as_of - dt.timedelta(days=90))
    sample_customers = 2357
    repeat_customers = 1126
    params = factory.LazyFunction(
        lambda: {
            "r": 0.243,
            "alpha": 30.9,
            "a": 0.793,
            "b": 2.426,
            "p": 6.25,
            "q": 3.74,
            "gamma": 15.44,
        }
    )
    log_likelihood = factory.LazyFunction(lambda: {"bgnbd": -9582.43, "gamma_gamma": -4012.5})
    holdout = factory.LazyFunction(
        lambda: {
            "buckets": [
                {"repeat": "0", "customers": 1411, "predicted": 210.4, "actual": 188},
                {"repeat": "1", "customers": 439, "predicted": 180.2, "actual": 201},
                {"repeat": "7+", "customers": 92, "predicted": 402.7, "actual": 398},
            ],
            "predicted_total": 793.3,
            "actual_total": 787,
            "days": 90,
        }
    )
    holdout_error = 0.008
    is_current = True
