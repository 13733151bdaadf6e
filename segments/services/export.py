"""CSV export of customer metrics and scores, streamed by COPY and safe against formula injection.

Every row is as of one moment, the as-of of the refresh that computed the scores, which the
last column (`as_of`, ISO 8601 in TIME_ZONE) states: recency_days counts the days from the last
order to it, as the R score did. The moment is read in the export's own statement, so a refresh
finishing meanwhile cannot mix two moments.

Text cells that a spreadsheet would read as a formula (starting with =, +, -, @, tab or carriage
return) are prefixed with a single quote, in SQL, so the export never passes through Python row
by row.
"""

from collections.abc import Iterator
from typing import IO

from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection
from psycopg import sql

from callcenter.services.audit import audit_log_record
from segments.models import Segment
from segments.selectors import METRICS_AS_OF_SQL
from segments.services.behaviour import age_band_sql, age_sql, overdue_ratio_sql

# Profile facts, buying habits and service history (segments.services.behaviour); age, age
# band and how overdue the next order is are derived against the same as-of.
BEHAVIOUR_EXPORT_COLUMNS = [
    "gender",
    "age",
    "age_band",
    "top_category",
    "top_category_share",
    "category_shares",
    "categories_count",
    "repeat_category_share",
    "preferred_channel",
    "preferred_channel_share",
    "usual_hour",
    "usual_weekday",
    "median_gap_days",
    "overdue_ratio",
    "tickets_inquiry_90d",
    "tickets_complaint_90d",
    "tickets_suggestion_90d",
    "open_tickets",
    "last_csat",
]


def _behaviour_columns() -> sql.Composable:
    """The select list of BEHAVIOUR_EXPORT_COLUMNS (customer `c`, metrics `m`, behaviour `b`,
    run `run`), each followed by a comma."""
    age = age_sql("run.as_of", "c.birthday")
    return sql.SQL(
        "c.gender, {age}, {age_band}, {top_category}, b.top_category_share, b.category_shares, "
        "b.categories_count, b.repeat_category_share, {channel}, b.preferred_channel_share, "
        "b.usual_hour, b.usual_weekday, b.median_gap_days, {overdue}, b.tickets_inquiry_90d, "
        "b.tickets_complaint_90d, b.tickets_suggestion_90d, b.open_tickets, b.last_csat, "
    ).format(
        age=age,
        age_band=age_band_sql(age),
        top_category=_safe_text("b.top_category"),
        channel=_safe_text("b.preferred_channel"),
        overdue=overdue_ratio_sql("run.as_of", "m.last_order_at", "b.median_gap_days"),
    )


# Reachability and receptiveness over 180 days (segments.CustomerReach, filled by outreach),
# empty when nothing was counted for the customer.
REACH_EXPORT_COLUMNS = [
    "calls_attempted",
    "call_answer_share",
    "best_call_hour",
    "has_working_phone",
    "sms_delivered_share",
    "email_delivered_share",
    "best_reach_channel",
    "reachability",
    "receptiveness",
    "call_response_share",
    "sms_response_share",
    "call_conversion_share",
    "sms_conversion_share",
]
_REACH_SELECT = (
    "r.calls_attempted, r.call_answer_share, r.best_call_hour, r.has_working_phone, "
    "r.sms_delivered_share, r.email_delivered_share, nullif(r.best_channel, ''), "
    "r.reachability, r.receptiveness, r.call_response_share, r.sms_response_share, "
    "r.call_conversion_share, r.sms_conversion_share, "
)


EXPORT_COLUMNS = [
    "external_id",
    "name",
    "recency_days",
    "frequency",
    "monetary",
    "r_score",
    "f_score",
    "m_score",
    "rfm_code",
    "rfm_segment",
    "lifecycle_stage",
    "value_tier",
    "churn_probability",
    "cluster",
    "spend_lifetime",
    "p_alive",
    "expected_orders_90d",
    "expected_orders_365d",
    "expected_order_value",
    "predicted_value_365d",
    "value_potential",
    *BEHAVIOUR_EXPORT_COLUMNS,
    *REACH_EXPORT_COLUMNS,
    "as_of",
]
_FORMULA_START = r"^[=+\-@\t\r]"


def _safe_text(expression: str) -> sql.Composable:
    return sql.SQL("CASE WHEN {e} ~ {pattern} THEN '''' || {e} ELSE {e} END").format(
        e=sql.SQL(expression), pattern=sql.Literal(_FORMULA_START)
    )


def _local_iso(expression: str) -> sql.Composable:
    """SQL writing the timestamptz `expression` as ISO 8601 in TIME_ZONE with its offset, e.g.
    2020-07-01T00:00:00+08:00 (microseconds only when there are any)."""
    local = sql.SQL("({e} AT TIME ZONE {tz})").format(
        e=sql.SQL(expression), tz=sql.Literal(settings.TIME_ZONE)
    )
    offset = sql.SQL("({local} - ({e} AT TIME ZONE 'UTC'))").format(
        local=local, e=sql.SQL(expression)
    )
    return sql.SQL(
        "to_char({local}, 'YYYY-MM-DD\"T\"HH24:MI:SS') || "
        "CASE WHEN mod(date_part('microseconds', {e})::int, 1000000) = 0 THEN '' "
        "ELSE to_char({local}, '.US') END || "
        "CASE WHEN {offset} < interval '0' THEN to_char({offset}, 'HH24:MI') "
        "ELSE '+' || to_char({offset}, 'HH24:MI') END"
    ).format(local=local, e=sql.SQL(expression), offset=offset)


def _export_query(segment: Segment | None) -> sql.Composed:
    membership_filter: sql.Composable = sql.SQL("")
    if segment is not None:
        membership_filter = sql.SQL(
            "AND c.id IN (SELECT customer_id FROM segments_segmentmembership "
            "WHERE segment_id = {} AND exited_at IS NULL)"
        ).format(sql.Literal(segment.pk))
    return sql.SQL(
        "SELECT {external_id} AS external_id, {name} AS name, "
        "floor(extract(epoch from (run.as_of - m.last_order_at)) / 86400)::integer, "
        "m.frequency, m.monetary, m.r_score, m.f_score, m.m_score, m.rfm_code, m.rfm_segment, "
        "m.lifecycle_stage, m.value_tier, round(m.churn_probability::numeric, 4), m.cluster, "
        "m.spend_lifetime, round(m.p_alive::numeric, 4), round(m.expected_orders_90d::numeric, 4), "
        "round(m.expected_orders_365d::numeric, 4), m.expected_order_value, "
        "m.predicted_value_365d, m.value_potential, "
        "{behaviour} "
        "{reach}"
        "{as_of} "
        "FROM callcenter_customer c JOIN segments_customermetrics m ON m.customer_id = c.id "
        "LEFT JOIN segments_customerbehaviour b ON b.customer_id = c.id "
        "LEFT JOIN segments_customerreach r ON r.customer_id = c.id "
        "LEFT JOIN ({as_of_query}) run ON true "
        "WHERE c.status = 'active' {membership_filter} ORDER BY c.id"
    ).format(
        external_id=_safe_text("coalesce(c.external_id, '')"),
        name=_safe_text("c.name"),
        as_of=_local_iso("run.as_of"),
        as_of_query=sql.SQL(METRICS_AS_OF_SQL),
        membership_filter=membership_filter,
        behaviour=_behaviour_columns(),
        reach=sql.SQL(_REACH_SELECT),
    )


def metrics_export_chunks(*, segment: Segment | None = None) -> Iterator[bytes]:
    """The export as CSV chunks (header first); for streaming HTTP responses and files."""
    statement = sql.SQL("COPY ({}) TO STDOUT WITH (FORMAT csv, HEADER false)").format(
        _export_query(segment)
    )
    yield (",".join(EXPORT_COLUMNS) + "\n").encode()
    with connection.cursor() as wrapper, wrapper.cursor.copy(statement) as copy:
        for chunk in copy:
            yield bytes(chunk)


def metrics_export(
    *,
    stream: IO[bytes],
    segment: Segment | None = None,
    actor: User | None = None,
) -> int:
    """Write the export to `stream`, audit it, and return the number of bytes written."""
    written = 0
    for chunk in metrics_export_chunks(segment=segment):
        stream.write(chunk)
        written += len(chunk)
    metrics_export_audit(segment=segment, actor=actor)
    return written


def metrics_export_audit(*, segment: Segment | None, actor: User | None) -> None:
    """Every export is audited: who exported which customers."""
    audit_log_record(
        actor=actor,
        action="export.metrics",
        object_type="segment" if segment is not None else "customers",
        object_id=segment.pk if segment is not None else "",
        data={"segment": segment.slug if segment is not None else None},
    )
