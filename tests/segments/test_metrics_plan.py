"""A full pass reads orders and interactions from their covering indexes alone, in customer
order (segments.services.metrics `_copy_out(every_customer=True)`); an incremental one probes
those indexes once per customer to re-aggregate.

The plan on a test-sized table is the planner's choice; what these tests pin is that the
indexes carry every column the aggregation reads: with table scans and sorts ruled out, the plan
is an index-only scan. A column added to the aggregation but not to the index fails them.
"""

import datetime as dt
import re

import pytest
from django.db import connection

from segments.services.customer_sets import customer_set_create
from segments.services.metrics import DIRTY_NOW_TABLE, _aggregation_sql

pytestmark = pytest.mark.django_db

AS_OF = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def _plan(statement: object) -> str:
    with connection.cursor() as cursor:
        for setting in ("hashagg", "seqscan", "bitmapscan", "sort"):
            cursor.execute(f"SET LOCAL enable_{setting} = off")
        cursor.execute("EXPLAIN " + statement.as_string(cursor.cursor))  # type: ignore[attr-defined]
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.parametrize("id_range", [None, (1, 1000)])
def test_the_orders_aggregate_is_an_index_only_scan_of_the_rollup(id_range) -> None:
    _statement, orders = _aggregation_sql(AS_OF, 365, id_range=id_range, orders_apart=True)

    plan = _plan(orders)

    assert "Index Only Scan using order_customer_rollup" in plan
    assert "GroupAggregate" in plan
    assert "HashAggregate" not in plan


def test_the_interaction_metrics_are_an_index_only_scan_of_the_rollup() -> None:
    statement, _orders = _aggregation_sql(AS_OF, 365, orders_apart=True)

    plan = _plan(statement)

    assert "Index Only Scan using interaction_customer_rollup" in plan
    assert "callcenter_order" not in plan


def test_the_dirty_customers_history_is_probed_customer_by_customer_in_the_rollups() -> None:
    with connection.cursor() as cursor:
        customer_set_create(cursor, DIRTY_NOW_TABLE)
    statement, _orders = _aggregation_sql(AS_OF, 365, only_dirty=True)

    plan = _plan(statement)

    # one index probe per dirty customer, never a scan of every order or interaction
    for index in ("order_customer_rollup", "interaction_customer_rollup"):
        assert f"Index Only Scan using {index} on" in plan
    probes = re.findall(r"Index Cond: \(customer_id = d(?:_\d+)?\.customer_id\)", plan)
    assert len(probes) == 2
