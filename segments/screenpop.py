"""The segments section of the screen-pop card: scores and current segments with their why.

An `SqlSection`: PostgreSQL builds it inside the card's single statement, from the customer's
metrics row, buying habits, reachability and open memberships. Plain SQL on the tables of
`segments.models` (CustomerMetrics, CustomerBehaviour, CustomerReach, SegmentMembership,
Segment);
tests/segments test the section's values.
"""

from callcenter.selectors.screenpop import SqlSection, sql_timestamp
from segments.selectors import METRICS_AS_OF_SQL

SEGMENTS_SHOWN = 12
# Buying habits for the card's line (segments.models.CustomerBehaviour); null without a row.
HABITS_SQL = """(SELECT json_build_object('top_category', top_category,
        'top_category_share', top_category_share, 'usual_hour', usual_hour,
        'usual_weekday', usual_weekday, 'preferred_channel', preferred_channel)
    FROM segments_customerbehaviour WHERE customer_id = c.id)"""

# Reachability for the card's line (segments.models.CustomerReach, filled by outreach).
REACH_SQL = """(SELECT json_build_object('best_call_hour', best_call_hour,
        'best_channel', nullif(best_channel, ''), 'reachability', reachability,
        'call_answer_share', call_answer_share, 'sms_delivered_share', sms_delivered_share,
        'email_delivered_share', email_delivered_share, 'receptiveness', receptiveness,
        'has_working_phone', has_working_phone)
    FROM segments_customerreach WHERE customer_id = c.id)"""

segments_section = SqlSection(
    # The metrics as of the refresh that computed them (`as_of`): recency_days counts whole
    # days to that moment, floored, as segments.models.days_since does.
    sql=f"""json_build_object(
    'habits', {HABITS_SQL},
    'reach', {REACH_SQL},
    'metrics', (SELECT json_build_object('rfm_code', rfm_code, 'rfm_segment', rfm_segment,
        'lifecycle_stage', lifecycle_stage, 'value_tier', value_tier,
        'churn_probability', churn_probability, 'monetary', monetary::text,
        'frequency', frequency, 'cluster', cluster,
        'spend_lifetime', spend_lifetime::text, 'p_alive', p_alive,
        'expected_orders_90d', expected_orders_90d, 'expected_orders_365d', expected_orders_365d,
        'expected_order_value', expected_order_value::text,
        'predicted_value_365d', predicted_value_365d::text,
        'value_potential', nullif(value_potential, ''),
        'recency_days', floor(extract(epoch FROM run.as_of - last_order_at) / 86400)::int,
        'as_of', {sql_timestamp("run.as_of")})
        FROM segments_customermetrics LEFT JOIN ({METRICS_AS_OF_SQL}) run ON true
        WHERE customer_id = c.id),
    'segments', (SELECT coalesce(json_agg(json_build_object('slug', slug, 'name', name,
            'kind', kind, 'since', {sql_timestamp("entered_at")}, 'why', reason)
            ORDER BY kind, name), '[]')
        FROM (SELECT s.slug, s.name, s.kind, m.entered_at, m.reason
              FROM segments_segmentmembership m JOIN segments_segment s ON s.id = m.segment_id
              WHERE m.customer_id = c.id AND m.exited_at IS NULL
              ORDER BY s.kind, s.name LIMIT %(segments_shown)s) g))""",  # noqa: S608 - module constants
    params={"segments_shown": SEGMENTS_SHOWN},
)
"""Badges for the agent (RFM segment, lifecycle, tier, churn risk, value, the value model's
predictions and potential-value layer), as of the refresh that computed them, and the customer's
current segments, sorted by kind and name."""
