"""A value model fit as the weekly training writes it, with a hold-out check, for the pages, the
API and the permission matrix (tests/segments/factories.py has the plain fit)."""

import datetime as dt

import factory
from django.utils import timezone

from segments.choices import ChurnModelStatus
from segments.models import ValueModel


class ValueModelFitFactory(factory.django.DjangoModelFactory):
    """A trained, current fit with its parameters (time in days), log-likelihoods and hold-out
    check: per number of repeat purchases before the cut-off, the customers, predicted and
    actual purchases, and the totals (segments.services.value_model writes the same keys)."""

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
            "days": 90,
            "buckets": [
                {"repeat": "0", "customers": 1411, "predicted": 210.4, "actual": 188},
                {"repeat": "1", "customers": 439, "predicted": 180.2, "actual": 201},
                {"repeat": "7+", "customers": 92, "predicted": 402.7, "actual": 398},
            ],
            "customers": 1942,
            "predicted": 793.3,
            "actual": 787,
        }
    )
    holdout_error = 0.008
    message = "Fitted on 2357 customers with orders, 1126 of them repeat."
    is_current = True
