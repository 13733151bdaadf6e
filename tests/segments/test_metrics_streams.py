"""The aggregation as two streams (orders on a second connection) equals the single statement.

Committed rows: the second connection sees only committed history.
"""

import datetime as dt
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest
from django.db import transaction

from callcenter.choices import CustomerStatus, OrderStatus, TicketKind
from callcenter.models import Customer, SurveyResponse
from segments.services import metrics as metrics_module
from segments.services.metrics import metrics_frame, metrics_stored_rows
from segments.services.refresh import as_of_from_date
from tests.callcenter.factories import (
    CustomerFactory,
    InteractionFactory,
    OrderFactory,
    TicketFactory,
)

AS_OF = as_of_from_date(dt.date(2026, 6, 1))


def _history() -> list[Any]:
    rng = np.random.default_rng(11)
    customers = [CustomerFactory(name=f"S{i}") for i in range(30)]
    for index, customer in enumerate(customers):
        for days in rng.integers(-3, 500, size=index % 6):
            OrderFactory(
                customer=customer,
                placed_at=AS_OF - dt.timedelta(days=float(days)),
                amount=Decimal(f"{rng.integers(1, 900)}.{rng.integers(0, 99):02d}"),
                status=OrderStatus.REFUNDED if index % 7 == 0 else OrderStatus.PAID,
            )
        if index % 3 == 0:
            InteractionFactory(customer=customer, occurred_at=AS_OF - dt.timedelta(days=10))
        if index % 4 == 0:
            TicketFactory(
                customer=customer,
                kind=TicketKind.COMPLAINT,
                opened_at=AS_OF - dt.timedelta(days=20),
            )
        if index % 5 == 0:
            SurveyResponse.objects.create(
                customer=customer, kind="nps", score=index % 11, responded_at=AS_OF
            )
    customers[1].status, customers[1].merged_into = CustomerStatus.MERGED, customers[2]
    customers[1].save()
    return customers


@pytest.mark.parametrize("id_range", [None, "middle"])
def test_two_streams_equal_the_single_statement(
    committed_rows: None, monkeypatch: pytest.MonkeyPatch, id_range: str | None
) -> None:
    customers = _history()
    bounds = (customers[5].pk, customers[20].pk) if id_range else None
    streams = []
    two_streams = metrics_module._metrics_frame_two_streams
    monkeypatch.setattr(
        metrics_module,
        "_metrics_frame_two_streams",
        lambda *args: streams.append(args) or two_streams(*args),
    )
    read_meanwhile: list[pd.DataFrame] = []

    try:
        apart = metrics_frame(as_of=AS_OF, window_days=365, id_range=bounds)
        # Inside a caller's transaction: one statement on the caller's connection.
        with transaction.atomic():
            together = metrics_frame(as_of=AS_OF, window_days=365, id_range=bounds)
        with transaction.atomic():
            own = metrics_frame(
                as_of=AS_OF,
                window_days=365,
                id_range=bounds,
                own_transaction=True,
                meanwhile=lambda: read_meanwhile.append(metrics_stored_rows()),
            )
    finally:
        # The merge protects its survivor: undone so that the committed rows can be removed.
        Customer.objects.filter(pk=customers[1].pk).update(
            status=CustomerStatus.ACTIVE, merged_into=None
        )

    assert len(streams) == 2
    expected = 15 if bounds else 29  # the merged customer is not scored
    assert len(apart) == expected
    assert apart["orders_lifetime"].sum() > 0
    assert apart["monetary"].gt(0).any()
    assert apart["first_order_at"].isna().any()
    pd.testing.assert_frame_equal(apart, together)
    pd.testing.assert_frame_equal(own, together)
    # what was given to run while the orders were aggregated ran once
    assert len(read_meanwhile) == 1
    assert read_meanwhile[0].empty
