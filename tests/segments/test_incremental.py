"""The steady refresh: only customers whose history changed (the trigger-filled log) or crossed a
window edge are re-aggregated, only changed rows are written, and the result is exactly what a
full pass computes."""

import datetime as dt
from collections import Counter
from decimal import Decimal

import numpy as np
import pytest
from django.db import connection, transaction
from psycopg import sql

from callcenter.choices import CustomerStatus, OrderStatus, SurveyKind, TicketKind
from callcenter.models import Interaction, Order
from segments.choices import RunStatus, SegmentKind
from segments.models import CustomerMetrics, DirtyCustomer, RefreshRun, SegmentMembership
from segments.services import refresh as refresh_module
from segments.services.metrics import DIRTY_SEEN_TABLE, dirty_log_consume, dirty_log_snapshot
from segments.services.refresh import as_of_from_date, segment_refresh
from tests.callcenter.factories import (
    CustomerFactory,
    InteractionFactory,
    OrderFactory,
    SurveyFactory,
    TicketFactory,
)
from tests.segments.factories import ValueModelFactory

pytestmark = pytest.mark.django_db

AS_OF = as_of_from_date(dt.date(2026, 6, 1))
NEXT_DAY = AS_OF + dt.timedelta(days=1)
STORED = [
    f.attname
    for f in CustomerMetrics._meta.concrete_fields
    if f.attname not in ("customer_id", "refreshed_at")
]


def _order(customer, days_ago: float, amount: str = "100.00", **kwargs) -> Order:
    return OrderFactory(
        customer=customer,
        placed_at=AS_OF - dt.timedelta(days=days_ago),
        amount=Decimal(amount),
        **kwargs,
    )


def _table() -> dict[int, tuple]:
    return {row[0]: row[1:] for row in CustomerMetrics.objects.values_list("customer_id", *STORED)}


def _open_memberships() -> set[tuple[int, int]]:
    return set(
        SegmentMembership.objects.filter(exited_at__isnull=True).values_list(
            "segment_id", "customer_id"
        )
    )


@pytest.fixture
def history():
    """Forty customers with varied histories, some near the 365/90/30-day edges."""
    rng = np.random.default_rng(7)
    customers = [CustomerFactory(name=f"C{i}") for i in range(40)]
    for index, customer in enumerate(customers):
        for days in rng.integers(1, 500, size=index % 7):
            _order(customer, float(days), f"{rng.integers(20, 900)}.00")
        if index % 5 == 0:
            InteractionFactory(customer=customer, occurred_at=AS_OF - dt.timedelta(days=29.5))
    # exactly at the edges the next day moves past
    _order(customers[1], 364.5)
    _order(customers[2], 89.5)
    TicketFactory(
        customer=customers[3],
        kind=TicketKind.COMPLAINT,
        opened_at=AS_OF - dt.timedelta(days=89.5),
    )
    return customers


def test_next_day_refresh_is_incremental_and_equals_a_full_pass(history, monkeypatch) -> None:
    first = segment_refresh(as_of=AS_OF, window_days=365)
    assert first.status == RunStatus.SUCCEEDED, first.error
    assert first.counts["aggregated"] == first.counts["customers"]
    assert not DirtyCustomer.objects.exists()

    c = history
    _order(c[4], -0.5, "250.00")  # placed after AS_OF, before the next day: becomes current
    Order.objects.filter(customer=c[5]).delete()
    Order.objects.filter(customer=c[6]).update(status=OrderStatus.REFUNDED)
    Interaction.objects.filter(customer=c[10]).update(occurred_at=AS_OF - dt.timedelta(days=2))
    newcomer = CustomerFactory(name="Newcomer")
    _order(newcomer, 0.2)
    type(c[7]).objects.filter(pk=c[7].pk).update(status=CustomerStatus.MERGED, merged_into=c[8])
    assert DirtyCustomer.objects.exists()

    # A small base: many of its customers sit on an edge, more than a full pass would cost.
    monkeypatch.setattr(refresh_module, "INCREMENTAL_MAX_SHARE", 1.0)
    second = segment_refresh(as_of=NEXT_DAY, window_days=365)

    assert second.status == RunStatus.SUCCEEDED, second.error
    assert second.counts["aggregated"] < second.counts["customers"]
    assert second.counts["metrics_written"] < second.counts["customers"]
    # Compared with every stored row in pandas: only the rows that differ are staged.
    assert second.counts["metrics_staged"] == second.counts["metrics_written"]
    assert not DirtyCustomer.objects.exists()
    assert newcomer.pk in _table()
    assert c[7].pk not in _table()
    incremental_table, incremental_members = _table(), _open_memberships()

    # The same moment computed in one full pass, with a full membership diff, changes nothing.
    monkeypatch.setattr(refresh_module, "_previous_builtin_signature", lambda: None)
    third = segment_refresh(as_of=NEXT_DAY, window_days=365, full=True)

    assert third.status == RunStatus.SUCCEEDED, third.error
    assert third.counts["aggregated"] == third.counts["customers"]
    assert third.counts["metrics_written"] == 0
    assert third.counts["metrics_staged"] == 0
    assert third.counts["metrics_deleted"] == 0
    assert (third.counts["entered"], third.counts["exited"]) == (0, 0)
    assert _table() == incremental_table
    assert _open_memberships() == incremental_members


def test_a_row_lost_without_a_logged_change_is_written_again_by_the_next_day(
    history, monkeypatch
) -> None:
    assert segment_refresh(as_of=AS_OF, window_days=365).status == RunStatus.SUCCEEDED
    lost = history[11]
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM segments_customermetrics WHERE customer_id = %s", [lost.pk])
    assert not DirtyCustomer.objects.exists()

    monkeypatch.setattr(refresh_module, "INCREMENTAL_MAX_SHARE", 1.0)
    second = segment_refresh(as_of=NEXT_DAY, window_days=365)

    assert second.status == RunStatus.SUCCEEDED, second.error
    assert second.counts["aggregated"] < second.counts["customers"]
    assert lost.pk in _table()
    incremental = _table()
    monkeypatch.setattr(refresh_module, "_previous_builtin_signature", lambda: None)
    third = segment_refresh(as_of=NEXT_DAY, window_days=365, full=True)
    assert third.counts["metrics_written"] == 0
    assert _table() == incremental


def test_a_full_pass_stages_only_rows_that_differ_and_deletes_the_departed(history) -> None:
    segment_refresh(as_of=AS_OF, window_days=365, full=True)
    c = history
    _order(c[4], 3.0, "5000.00")
    type(c[7]).objects.filter(pk=c[7].pk).update(status=CustomerStatus.MERGED, merged_into=c[8])
    newcomer = CustomerFactory(name="Newcomer")
    before = _table()

    run = segment_refresh(as_of=AS_OF, window_days=365, full=True)

    after = _table()
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert c[7].pk not in after
    assert after[newcomer.pk][STORED.index("lifecycle_stage")] == "prospect"
    differ = {pk for pk, row in after.items() if before.get(pk) != row}
    assert c[4].pk in differ
    assert run.counts["metrics_deleted"] == 1
    # Compared in pandas first: exactly the rows that differ reach the staging table.
    assert run.counts["metrics_staged"] == run.counts["metrics_written"] == len(differ)
    assert run.counts["metrics_written"] < run.counts["customers"]


def test_few_changed_customers_probe_the_membership_index(history, monkeypatch) -> None:
    from django.db import connection

    from segments.services import memberships

    segment_refresh(as_of=AS_OF, window_days=365)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE segments_customermetrics")
    probes: list[bool] = []
    real = memberships.index_probes
    monkeypatch.setattr(
        memberships,
        "index_probes",
        lambda cursor, enabled=True: probes.append(enabled) or real(cursor, enabled),
    )
    # A small base: one new order moves the scores of a few others too.
    monkeypatch.setattr(memberships, "PROBE_MAX_SHARE", 0.5)
    _order(history[0], 0.5, "9000.00")

    run = segment_refresh(as_of=AS_OF, window_days=365)

    assert 1 <= run.counts["metrics_changed"] < 20
    assert probes[0] is True
    # The same memberships as a full diff finds: nothing left to move.
    monkeypatch.setattr(refresh_module, "_previous_builtin_signature", lambda: None)
    again = segment_refresh(as_of=AS_OF, window_days=365, full=True)
    assert (again.counts["entered"], again.counts["exited"]) == (0, 0)
    with connection.cursor() as cursor:
        cursor.execute("SHOW enable_hashjoin")
        assert cursor.fetchone()[0] == "on"


def test_cluster_centres_are_reused_until_a_refit_is_due(history, monkeypatch) -> None:
    first = segment_refresh(as_of=AS_OF, window_days=365)
    fitted = {p.number: (p.center, p.fitted_at) for p in first.clusters.all()}

    second = segment_refresh(as_of=NEXT_DAY, window_days=365)
    monkeypatch.setattr(refresh_module, "CLUSTER_REFIT_AFTER", dt.timedelta(0))
    third = segment_refresh(as_of=NEXT_DAY, window_days=365)

    assert fitted
    # Same centres, same fit (a cluster left empty by the day's changes has no profile).
    kept = {p.number: (p.center, p.fitted_at) for p in second.clusters.all()}
    assert kept
    assert all(fitted[number] == centre for number, centre in kept.items())
    assert all(p.fitted_at > first.finished_at for p in third.clusters.all())


def test_a_refresh_without_changes_writes_nothing(history) -> None:
    segment_refresh(as_of=AS_OF, window_days=365)

    again = segment_refresh(as_of=AS_OF, window_days=365)

    assert again.counts["aggregated"] == 0
    assert again.counts["metrics_written"] == 0
    assert (again.counts["entered"], again.counts["exited"]) == (0, 0)


def test_a_backdated_or_other_window_refresh_is_a_full_pass(history) -> None:
    segment_refresh(as_of=AS_OF, window_days=365)

    earlier = segment_refresh(as_of=AS_OF - dt.timedelta(days=1), window_days=365)
    other_window = segment_refresh(as_of=AS_OF, window_days=180)

    assert earlier.counts["aggregated"] == earlier.counts["customers"]
    assert other_window.counts["aggregated"] == other_window.counts["customers"]


def test_triggers_log_every_kind_of_history_write() -> None:
    customer = CustomerFactory()
    DirtyCustomer.objects.all().delete()

    order = OrderFactory(customer=customer)
    Order.objects.filter(pk=order.pk).update(amount=Decimal("1.00"))
    Order.objects.filter(pk=order.pk).delete()
    TicketFactory(customer=customer)
    InteractionFactory(customer=customer)

    logged = list(DirtyCustomer.objects.values_list("customer_id", flat=True))
    assert logged == [customer.pk] * 5


def test_consuming_the_log_deletes_exactly_the_entries_the_snapshot_saw() -> None:
    DirtyCustomer.objects.all().delete()
    logged = DirtyCustomer.objects.bulk_create(DirtyCustomer(customer_id=7) for _ in range(10))
    ids = sorted(row.pk for row in logged)
    # Entries whose transactions were still open when the snapshot was taken: gaps in the runs
    # of seen ids, one alone and two together, none at either end.
    unseen = [ids[3], ids[6], ids[7]]

    with transaction.atomic():
        dirty_log_snapshot()
        with connection.cursor() as cursor:
            cursor.cursor.execute(
                sql.SQL("DELETE FROM {} WHERE id = ANY(%s)").format(
                    sql.Identifier(DIRTY_SEEN_TABLE)
                ),
                [unseen],
            )
        written_since = DirtyCustomer.objects.create(customer_id=7)
        consumed = dirty_log_consume()

    assert consumed == 7
    remaining = sorted(DirtyCustomer.objects.values_list("pk", flat=True))
    assert remaining == [*unseen, written_since.pk]


def test_only_changed_segment_columns_make_a_membership_candidate(history) -> None:
    from django.db import connection, transaction
    from psycopg import sql

    from segments.services.memberships import BUILTIN_COLUMNS
    from segments.services.metrics import metrics_stored_rows
    from segments.services.writeback import (
        CHANGED_TABLE,
        MEMBERSHIP_COLUMNS,
        membership_bit,
        metrics_changes,
        metrics_write,
    )

    assert set(MEMBERSHIP_COLUMNS) == {column for column, _reason in BUILTIN_COLUMNS.values()}
    segment_refresh(as_of=AS_OF, window_days=365)
    drifted, moved, twice = history[5].pk, history[6].pk, history[9].pk
    with transaction.atomic():
        stored = metrics_stored_rows()
        frame = stored.reset_index().set_index("customer_id", drop=False)
        frame.loc[drifted, "churn_probability"] = 0.4321
        for customer in (moved, twice):
            frame.loc[customer, "lifecycle_stage"] = (
                "dormant" if frame.loc[customer, "lifecycle_stage"] != "dormant" else "active"
            )
        # no value model: nobody has a potential value yet
        frame.loc[twice, "value_potential"] = "high"

        # compared with the stored rows in pandas, full pass or incremental alike
        counts = metrics_write(changes=metrics_changes(frame=frame, previous=stored), now=NEXT_DAY)

        with connection.cursor() as cursor:
            cursor.execute(
                sql.SQL("SELECT customer_id, kinds FROM {} ORDER BY customer_id").format(
                    sql.Identifier(CHANGED_TABLE)
                )
            )
            candidates = cursor.fetchall()
    assert (counts["metrics_written"], counts["membership_candidates"]) == (3, 2)
    # each with the columns that changed: the membership diff compares only those kinds
    lifecycle = membership_bit("lifecycle_stage")
    assert candidates == [
        (moved, lifecycle),
        (twice, lifecycle | membership_bit("value_potential")),
    ]
    assert CustomerMetrics.objects.get(customer_id=drifted).churn_probability == 0.4321


def test_only_the_columns_that_differ_are_staged_and_set(history) -> None:
    """After a refit every row differs in the model's figures alone: those columns are staged
    and set, each row's only where it differs; the others stay as stored."""
    from django.db import connection, transaction
    from psycopg import sql

    from segments.services.metrics import metrics_stored_rows
    from segments.services.writeback import (
        STAGING_TABLE,
        _staged_values,
        metrics_changes,
        metrics_write,
    )

    segment_refresh(as_of=AS_OF, window_days=365)
    before = {row.customer_id: row for row in CustomerMetrics.objects.all()}
    with transaction.atomic():
        stored = metrics_stored_rows()
        frame = stored.reset_index().set_index("customer_id", drop=False)
        frame["churn_probability"] = 0.25
        first = frame.index[0]
        frame.loc[first, "p_alive"] = 0.5
        changes = metrics_changes(frame=frame, previous=stored)
        values, dense = _staged_values(changes.rows, changes)
        assert list(values.columns) == ["customer_id", "churn_probability", "p_alive", "changed"]
        assert dense == ["churn_probability"]
        counts = metrics_write(changes=changes, now=NEXT_DAY)
        with connection.cursor() as cursor:
            cursor.execute(
                sql.SQL(
                    "SELECT count(*), count(frequency), count(churn_probability), count(p_alive) "
                    "FROM {}"
                ).format(sql.Identifier(STAGING_TABLE))
            )
            staged = cursor.fetchone()
    assert counts["metrics_written"] == len(before)
    # the staging table holds every row, with the differing columns only, and of those each
    # row's value only where it differs
    assert staged == (len(before), 0, len(before), 1)
    for row in CustomerMetrics.objects.all():
        old = before[row.customer_id]
        assert row.churn_probability == 0.25
        assert row.p_alive == (0.5 if row.customer_id == first else old.p_alive)
        assert (row.frequency, row.monetary, row.rfm_code, row.last_order_at) == (
            old.frequency,
            old.monetary,
            old.rfm_code,
            old.last_order_at,
        )
        assert row.refreshed_at == NEXT_DAY


def test_the_membership_diff_compares_only_the_kinds_whose_column_changed(history) -> None:
    from django.db import connection, transaction

    from segments.services.memberships import builtin_memberships_refresh
    from segments.services.writeback import CHANGED_TABLE, _temp_tables_create, membership_bit

    # given a customer's stored row and open memberships of every built-in kind
    segment_refresh(as_of=AS_OF, window_days=365)
    customer = history[6]
    row = CustomerMetrics.objects.get(customer=customer)
    stage = "dormant" if row.lifecycle_stage != "dormant" else "active"
    tier = "high" if row.value_tier != "high" else "low"

    def open_of(kind: str) -> SegmentMembership:
        return SegmentMembership.objects.get(
            customer=customer, segment__kind=kind, exited_at__isnull=True
        )

    stay_in_tier, stay_in_stage = open_of("tier"), open_of("lifecycle")
    with transaction.atomic():
        # when both columns change but the write-back noted only the lifecycle stage
        CustomerMetrics.objects.filter(customer=customer).update(
            lifecycle_stage=stage, value_tier=tier
        )
        with connection.cursor() as cursor:
            _temp_tables_create(cursor.cursor)
            cursor.execute(
                f"INSERT INTO {CHANGED_TABLE} VALUES (%s, %s)",  # noqa: S608 - a constant
                [customer.pk, membership_bit("lifecycle_stage")],
            )
        run = RefreshRun.objects.create(
            status=RunStatus.RUNNING, trigger="test", as_of=AS_OF, window_days=365
        )
        moves = builtin_memberships_refresh(run_id=run.pk, now=NEXT_DAY, changed_only=True)

    # then the lifecycle stay moved and the tier stay was not compared at all
    assert sum(moves.values()) == 2
    assert open_of("lifecycle").segment.key == stage
    stay_in_stage.refresh_from_db()
    assert stay_in_stage.exited_at == NEXT_DAY
    assert open_of("tier").pk == stay_in_tier.pk


class _Explaining:
    """A cursor that notes the join settings and plan of each statement starting with `prefix`
    in `plans` before running it."""

    def __init__(self, cursor, plans: list[tuple[tuple, str]], prefix: str = "UPDATE") -> None:
        self._cursor = cursor
        self._plans = plans
        self._prefix = prefix

    def execute(self, query, params=None):
        text = query.as_string(self._cursor) if hasattr(query, "as_string") else query
        if text.startswith(self._prefix):
            self._cursor.execute(
                "SELECT current_setting('enable_hashjoin'), current_setting('enable_mergejoin')"
            )
            settings = self._cursor.fetchone()
            self._cursor.execute("EXPLAIN " + text, params)
            plan = "\n".join(row[0] for row in self._cursor.fetchall())
            self._plans.append((settings, plan))
        return self._cursor.execute(query, params)

    def __getattr__(self, name: str):
        return getattr(self._cursor, name)


def _plans_of(monkeypatch, module, name: str, prefix: str = "UPDATE") -> list[tuple[tuple, str]]:
    """The plans `_Explaining` notes of the statements starting with `prefix` that `module`'s
    function `name` runs on the cursor it is given first."""
    plans: list[tuple[tuple, str]] = []
    real = getattr(module, name)
    monkeypatch.setattr(
        module,
        name,
        lambda cursor, *args, **kwargs: real(_Explaining(cursor, plans, prefix), *args, **kwargs),
    )
    return plans


def _stages_changed_and_diffed(customers: list[int]) -> Counter:
    """Within the caller's transaction: every one of `customers` gets another lifecycle stage,
    is noted in CHANGED_TABLE in that order with the stage's bit, and the steady diff runs."""
    from segments.services.memberships import builtin_memberships_refresh
    from segments.services.writeback import CHANGED_TABLE, _temp_tables_create, membership_bit

    for customer in customers:
        stage = CustomerMetrics.objects.get(customer_id=customer).lifecycle_stage
        CustomerMetrics.objects.filter(customer_id=customer).update(
            lifecycle_stage="dormant" if stage != "dormant" else "active"
        )
    with connection.cursor() as cursor:
        _temp_tables_create(cursor.cursor)
        for customer in customers:
            cursor.execute(
                f"INSERT INTO {CHANGED_TABLE} VALUES (%s, %s)",  # noqa: S608 - a constant
                [customer, membership_bit("lifecycle_stage")],
            )
    run = RefreshRun.objects.create(
        status=RunStatus.RUNNING, trigger="test", as_of=AS_OF, window_days=365
    )
    return builtin_memberships_refresh(run_id=run.pk, now=NEXT_DAY, changed_only=True)


def test_the_exits_are_closed_in_the_order_of_their_rows(history) -> None:
    from segments.services.memberships import EXITS_TABLE

    # given every customer's lifecycle stage changed, noted newest customer first
    segment_refresh(as_of=AS_OF, window_days=365)
    with transaction.atomic():
        moves = _stages_changed_and_diffed(sorted((c.pk for c in history), reverse=True))
        # when the exits are read as the UPDATE reads them (in the order they were written)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT id FROM {EXITS_TABLE}")  # noqa: S608 - a constant
            exits = [row[0] for row in cursor.fetchall()]

    # then they follow the membership ids: the table and its key are visited page after page
    assert len(exits) == sum(v for (_s, kind), v in moves.items() if kind == "exited") > 1
    assert exits == sorted(exits)


def test_the_exits_update_reads_the_open_partition_alone(history, monkeypatch) -> None:
    from segments.services import memberships

    # given the first refresh's memberships, none closed yet: the closed partition is empty,
    # which is what the planner sees on a new installation's first nightly run
    segment_refresh(as_of=AS_OF, window_days=365)
    assert not SegmentMembership.objects.filter(exited_at__isnull=False).exists()
    plans = _plans_of(monkeypatch, memberships, "_apply_changed", "WITH closed AS (UPDATE")
    with transaction.atomic():
        # when every customer's lifecycle stage changes
        moves = _stages_changed_and_diffed([c.pk for c in history])

    # then the exits' UPDATE finds its rows in the open partition alone: planned with the
    # closed one, an empty table believed free to scan, it scanned that partition once per
    # exit as the exits filled it (quadratic; minutes for a nightly run at a million)
    (_settings, plan), *_ = plans
    exited = sum(v for (_s, kind), v in moves.items() if kind == "exited")
    assert exited > 1
    assert f"{SegmentMembership._meta.db_table}_open" in plan
    assert f"{SegmentMembership._meta.db_table}_closed" not in plan
    assert SegmentMembership.objects.filter(exited_at=NEXT_DAY).count() == exited


def test_few_changed_customers_metrics_rows_are_read_by_key_for_their_desired_members(
    history, monkeypatch
) -> None:
    from segments.services import memberships

    segment_refresh(as_of=AS_OF, window_days=365)
    plans = _plans_of(
        monkeypatch,
        memberships,
        "_fill_builtin_desired",
        f'INSERT INTO "{memberships.DESIRED_TABLE}"',
    )
    monkeypatch.setattr(memberships, "PROBE_MAX_SHARE", 1.0)
    with transaction.atomic():
        # when a few customers' lifecycle stages change
        moves = _stages_changed_and_diffed([c.pk for c in history[:5]])

    # then each changed customer's metrics row is looked up by its key (the scan of the
    # metrics is parameterised by the changed customer), not every stored row hashed
    (_settings, plan), *_ = plans
    lines = plan.splitlines()
    scan = next(i for i, line in enumerate(lines) if "on segments_customermetrics" in line)
    assert "segments_changed_customers.customer_id" in lines[scan + 1]
    assert sum(v for (_s, kind), v in moves.items() if kind == "entered") > 0


def test_entries_are_inserted_in_customer_order(history) -> None:
    from django.db import transaction

    from segments.services.memberships import builtin_memberships_refresh

    # given computed metrics whose rows lie on their pages newest customer first (each row
    # rewritten in that order) and nobody in the built-in segments yet
    segment_refresh(as_of=AS_OF, window_days=365)
    with transaction.atomic():
        SegmentMembership.objects.all().delete()
        for customer in sorted((c.pk for c in history), reverse=True):
            CustomerMetrics.objects.filter(customer_id=customer).update(refreshed_at=NEXT_DAY)
        run = RefreshRun.objects.create(
            status=RunStatus.RUNNING, trigger="test", as_of=AS_OF, window_days=365
        )
        # when every desired membership is entered at once, as by a first refresh
        moves = builtin_memberships_refresh(run_id=run.pk, now=NEXT_DAY, changed_only=False)
        entered = list(
            SegmentMembership.objects.order_by("pk").values_list("customer_id", "segment_id")
        )

    # then the rows follow (customer, segment): the indexes grow at their edges
    assert len(entered) == sum(v for (_s, kind), v in moves.items() if kind == "entered")
    assert len({customer for customer, _segment in entered}) == len(history)
    assert entered == sorted(entered)


def test_with_a_value_model_the_next_day_equals_a_full_pass(history, monkeypatch) -> None:
    # given a current value-model fit and a refresh scoring with it
    fit = ValueModelFactory()
    segment_refresh(as_of=AS_OF, window_days=365)
    _order(history[4], -0.5, "250.00")
    monkeypatch.setattr(refresh_module, "INCREMENTAL_MAX_SHARE", 1.0)

    # when the next day's refresh builds on the stored rows
    second = segment_refresh(as_of=NEXT_DAY, window_days=365)

    # then the predictions are there, and a full pass of the same moment changes nothing
    assert second.status == RunStatus.SUCCEEDED, second.error
    assert second.counts["aggregated"] < second.counts["customers"]
    assert second.counts["value_model_version"] == fit.version
    assert CustomerMetrics.objects.filter(predicted_value_365d__gt=0).exists()
    incremental_table, incremental_members = _table(), _open_memberships()
    monkeypatch.setattr(refresh_module, "_previous_builtin_signature", lambda: None)
    third = segment_refresh(as_of=NEXT_DAY, window_days=365, full=True)
    assert third.counts["metrics_written"] == 0
    assert (third.counts["entered"], third.counts["exited"]) == (0, 0)
    assert _table() == incremental_table
    assert _open_memberships() == incremental_members


def test_each_row_knows_when_the_clock_changes_it_and_only_those_rows_are_re_aggregated(
    monkeypatch,
) -> None:
    # given history already stored that the clock alone will change, and customers it will not
    leaves_window = CustomerFactory()
    _order(leaves_window, 364.75)
    _order(leaves_window, 10)
    pre_dated = CustomerFactory()
    _order(pre_dated, -0.5, "70.00")  # dated after AS_OF, stored before the first refresh
    late_survey = CustomerFactory()
    SurveyFactory(
        customer=late_survey,
        kind=SurveyKind.NPS,
        score=3,
        responded_at=AS_OF + dt.timedelta(hours=5),
    )
    steady = [CustomerFactory() for _ in range(3)]
    for customer in steady:
        _order(customer, 30)
    segment_refresh(as_of=AS_OF, window_days=365)

    stored = {
        row["customer_id"]: row
        for row in CustomerMetrics.objects.values(
            "customer_id", "orders_edge_at", "contacts_edge_at"
        )
    }
    assert stored[leaves_window.pk]["orders_edge_at"] == AS_OF + dt.timedelta(days=0.25)
    assert stored[pre_dated.pk]["orders_edge_at"] == AS_OF + dt.timedelta(days=0.5)
    assert stored[late_survey.pk]["contacts_edge_at"] == AS_OF + dt.timedelta(hours=5)
    # an order 30 days back leaves the 90 days in 60 days
    assert stored[steady[0].pk]["orders_edge_at"] == AS_OF + dt.timedelta(days=60)

    monkeypatch.setattr(refresh_module, "INCREMENTAL_MAX_SHARE", 1.0)
    second = segment_refresh(as_of=NEXT_DAY, window_days=365)

    # when the next day comes, the three rows whose moment came, and no other, are aggregated
    assert second.counts["aggregated"] == 3
    row = CustomerMetrics.objects.get(customer=leaves_window)
    assert (row.frequency, row.orders_edge_at) == (1, AS_OF + dt.timedelta(days=80))
    assert CustomerMetrics.objects.get(customer=pre_dated).orders_lifetime == 1
    assert CustomerMetrics.objects.get(customer=late_survey).last_nps == 3
    incremental_table = _table()

    monkeypatch.setattr(refresh_module, "_previous_builtin_signature", lambda: None)
    third = segment_refresh(as_of=NEXT_DAY, window_days=365, full=True)

    assert third.counts["metrics_written"] == 0
    assert _table() == incremental_table


def test_the_staged_rows_are_staged_in_customer_order_and_joined_by_a_loop(
    history, monkeypatch
) -> None:
    from segments.services import writeback
    from segments.services.metrics import metrics_stored_rows

    segment_refresh(as_of=AS_OF, window_days=365)
    plans = _plans_of(monkeypatch, writeback, "_staged_rows_update")
    with transaction.atomic():
        # given a frame whose rows come newest customer first, every row changed
        stored = metrics_stored_rows()
        frame = stored.reset_index().iloc[::-1].set_index("customer_id", drop=False)
        frame["churn_probability"] = 0.375
        # when it is written
        counts = writeback.metrics_write(
            changes=writeback.metrics_changes(frame=frame, previous=stored), now=NEXT_DAY
        )
        with connection.cursor() as cursor:
            cursor.execute(
                sql.SQL("SELECT customer_id FROM {}").format(
                    sql.Identifier(writeback.STAGING_TABLE)
                )
            )
            staged = [row[0] for row in cursor.fetchall()]

    # then the staging table holds them in customer order, and the UPDATE loops over them
    # rather than hashing or merging the table (which of the two a forty-row table is read
    # by, its key or a scan, is the planner's choice)
    assert counts["metrics_written"] == len(staged) == len(stored)
    assert staged == sorted(staged)
    (settings, plan), *_ = plans
    assert settings == ("off", "off")
    assert "Nested Loop" in plan
    assert "Hash" not in plan
    assert "Merge" not in plan
    assert set(CustomerMetrics.objects.values_list("churn_probability", flat=True)) == {0.375}
    with connection.cursor() as cursor:
        cursor.execute("SHOW enable_hashjoin")
        assert cursor.fetchone()[0] == "on"


def _expected_reasons(customer_id: int) -> dict[str, str]:
    m = CustomerMetrics.objects.get(customer_id=customer_id)
    return {
        "rfm": f"RFM {m.rfm_code} (R{m.r_score} F{m.f_score} M{m.m_score})",
        "lifecycle": f"lifecycle stage {m.lifecycle_stage}",
        "tier": f"value tier {m.value_tier}",
        "cluster": f"behaviour cluster {m.cluster}",
        "potential": f"potential value {m.value_potential}",
    }


def _open_reasons(customer_id: int) -> dict[str, str]:
    return dict(
        SegmentMembership.objects.filter(customer_id=customer_id, exited_at__isnull=True)
        .exclude(segment__kind=SegmentKind.RULE)
        .values_list("segment__kind", "reason")
    )


@pytest.mark.parametrize("probe", [True, False])
def test_a_steady_diff_leaves_rule_segments_alone_and_gives_each_entry_its_reason(
    history, monkeypatch, probe
) -> None:
    from segments.services import memberships
    from segments.services.writeback import (
        ALL_MEMBERSHIP_BITS,
        CHANGED_TABLE,
        _temp_tables_create,
    )
    from tests.segments.factories import SegmentFactory, SegmentMembershipFactory

    # given computed memberships, each with its reason, and a customer also in a rule segment
    segment_refresh(as_of=AS_OF, window_days=365)
    customer = next(c.pk for c in history if _open_reasons(c.pk).get("rfm"))
    reasons = _open_reasons(customer)
    expected = _expected_reasons(customer)
    assert reasons
    assert all(reasons[kind] == expected[kind] for kind in reasons)
    rule_stay = SegmentMembershipFactory(segment=SegmentFactory(), customer_id=customer)
    row = CustomerMetrics.objects.get(customer_id=customer)
    stage = "dormant" if row.lifecycle_stage != "dormant" else "active"
    monkeypatch.setattr(memberships, "PROBE_MAX_SHARE", 1.0 if probe else 0.0)
    with transaction.atomic():
        # when its lifecycle stage changes and the diff is told every column changed
        CustomerMetrics.objects.filter(customer_id=customer).update(lifecycle_stage=stage)
        with connection.cursor() as cursor:
            _temp_tables_create(cursor.cursor)
            cursor.execute(
                f"INSERT INTO {CHANGED_TABLE} VALUES (%s, %s)",  # noqa: S608 - a constant
                [customer, ALL_MEMBERSHIP_BITS],
            )
        run = RefreshRun.objects.create(
            status=RunStatus.RUNNING, trigger="test", as_of=AS_OF, window_days=365
        )
        moves = memberships.builtin_memberships_refresh(
            run_id=run.pk, now=NEXT_DAY, changed_only=True
        )

    # then only the lifecycle stay moved, the rule segment's stay is as it was, and the new
    # stay's reason names the new stage
    assert sum(moves.values()) == 2
    rule_stay.refresh_from_db()
    assert rule_stay.exited_at is None
    assert _open_reasons(customer) == {**reasons, "lifecycle": f"lifecycle stage {stage}"}
