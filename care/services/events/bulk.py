"""Events produced in bulk, set-based: segment entries and exits, and the daily time events.

A segment refresh announces entries and exits with one INSERT ... SELECT per kind, limited to
the segments active rules listen to; the time events (birthday, anniversary, inactivity,
monthly) are one INSERT ... SELECT each, dates reached and holidays one statement for all
active date and holiday rules, threshold crossings one per threshold rule, made idempotent by
keys such as "birthday:<customer>:<date>".
"""

import datetime as dt
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from callcenter.choices import CalendarDayKind, CustomerKind, CustomerStatus, OrderStatus
from care.choices import EventSource, EventType
from care.models import CareRule, CareSettings
from care.services.events.outbox import events_enqueue
from care.services.events.thresholds import threshold_events_emit
from care.services.triggers import (
    ANY_HOLIDAY,
    ATTRIBUTE_PREFIX,
    DATE_PROFILE_FIELDS,
    DATED_RULE_EVENTS,
)

# Time events are emitted for inactivity that began at most this long ago, so a missed day is
# caught up but the first run on an old database does not wake every long-lost customer.
INACTIVITY_CATCH_UP_DAYS = 7

SEGMENT_EVENTS_SQL = """
INSERT INTO care_event
    (type, customer_id, payload, source, occurred_at, created_at, idempotency_key,
     attempts, last_error)
SELECT %(type)s, m.customer_id,
       jsonb_build_object('segment', s.slug, 'segment_id', s.id, 'run_id', %(run)s),
       %(source)s, COALESCE(m.{moment}, %(now)s), %(now)s, %(type)s || ':' || m.id, 0, ''
FROM segments_segment s
{memberships}
WHERE s.slug = ANY(%(slugs)s)
ON CONFLICT (client, idempotency_key) DO NOTHING
RETURNING id
"""
# A run's entries, found by segment and moment: every entry of a run carries the moment of
# the run's snapshots (membership_segment_time leads with the segment and that moment;
# there is no index on the entering run, see segments.models.SegmentMembership).
ENTRIES_OF_RUN = """
JOIN segments_segmentsnapshot sn ON sn.segment_id = s.id AND sn.run_id = %(run)s
JOIN segments_segmentmembership m ON m.segment_id = s.id AND m.entered_at = sn.taken_at
    AND m.entered_run_id = %(run)s
"""
# Its exits, by the partial index on the exiting run.
EXITS_OF_RUN = """
JOIN segments_segmentmembership m ON m.segment_id = s.id AND m.exited_run_id = %(run)s
"""
SEGMENT_EVENT_SQL = {
    EventType.SEGMENT_ENTERED: SEGMENT_EVENTS_SQL.format(
        moment="entered_at", memberships=ENTRIES_OF_RUN
    ),
    EventType.SEGMENT_EXITED: SEGMENT_EVENTS_SQL.format(
        moment="exited_at", memberships=EXITS_OF_RUN
    ),
}


def segment_events_record(*, run_id: int) -> dict[str, int]:
    """Turn a refresh run's entries and exits into segment_entered / segment_exited events,
    one INSERT ... SELECT per kind, only for segments an active rule listens to."""
    listened: dict[str, list[str]] = {kind: [] for kind in SEGMENT_EVENT_SQL}
    rows = CareRule.objects.filter(
        is_active=True, trigger_type__in=list(SEGMENT_EVENT_SQL)
    ).values_list("trigger_type", "trigger_params")
    for trigger_type, params in rows:
        slug = (params or {}).get("segment")
        if slug:
            listened[trigger_type].append(slug)
    counts: dict[str, int] = {}
    now = timezone.now()
    ids: list[int] = []
    with connection.cursor() as cursor:
        for kind, sql in SEGMENT_EVENT_SQL.items():
            if not listened[kind]:
                counts[kind] = 0
                continue
            cursor.execute(
                sql,
                {
                    "type": kind,
                    "run": run_id,
                    "source": EventSource.SEGMENTS,
                    "now": now,
                    "slugs": sorted(set(listened[kind])),
                },
            )
            new = [row[0] for row in cursor.fetchall()]
            counts[kind] = len(new)
            ids.extend(new)
    events_enqueue(ids)
    return counts


# The customer's local date: the given day, else today on the customer's clock. Customers are
# first narrowed, without time-zone arithmetic (the costly part), to those whose date can fall
# on one of the pass's local days (see _pass_days): a birthday on one of their month-days, a
# sign-up within a day of one, business customers only on the first of a month. Customers with
# a time zone PostgreSQL does not know get no date (so no event) rather than failing the whole
# statement; CASE keeps AT TIME ZONE from ever seeing their zone. The known zone names are read
# once per statement (MATERIALIZED): pg_timezone_names reads the zone files on every scan, and
# the planner repeats the CASE, with its own scan, wherever the inlined `timezone` is used.
_LOCAL_DAY = """
WITH zones AS MATERIALIZED (SELECT name FROM pg_timezone_names), zoned AS (
    SELECT c.id, c.kind, c.birthday, c.created_at,
           CASE WHEN c.timezone IN (SELECT name FROM zones) THEN c.timezone END
               AS timezone
    FROM callcenter_customer c
    WHERE c.status = %(active)s
      {where}
), local AS (
    SELECT id, kind, birthday, timezone,
           (created_at AT TIME ZONE timezone)::date AS created_on,
           CASE WHEN timezone IS NOT NULL THEN COALESCE(
               %(today)s::date, (%(now)s::timestamptz AT TIME ZONE timezone)::date
           ) END AS d
    FROM zoned
)
INSERT INTO care_event
    (type, customer_id, payload, source, occurred_at, created_at, idempotency_key,
     attempts, last_error)
SELECT %(type)s, id, {payload}, %(source)s, (d::timestamp AT TIME ZONE timezone), %(now)s,
       {key}, 0, ''
FROM local
WHERE d IS NOT NULL AND {match}
ON CONFLICT (client, idempotency_key) DO NOTHING
RETURNING id
"""
_IS_LEAP = (
    "((extract(year FROM d)::int %% 4 = 0 AND extract(year FROM d)::int %% 100 <> 0) "
    "OR extract(year FROM d)::int %% 400 = 0)"
)


def _same_day_of_year(column: str) -> str:
    """`column` (a date) falls on the local day `d` of the year; 29 February counts on
    28 February in years without it."""
    return (
        f"((extract(month FROM {column}) = extract(month FROM d) "
        f"AND extract(day FROM {column}) = extract(day FROM d)) "
        f"OR (extract(month FROM {column}) = 2 AND extract(day FROM {column}) = 29 "
        f"AND extract(month FROM d) = 2 AND extract(day FROM d) = 28 AND NOT {_IS_LEAP}))"
    )


TIME_EVENT_SQL = {
    EventType.BIRTHDAY: _LOCAL_DAY.format(
        where="AND to_char(c.birthday, 'MM-DD') = ANY(%(month_days)s::text[])",
        payload="jsonb_build_object('date', d::text)",
        key="'birthday:' || id || ':' || d::text",
        match=_same_day_of_year("birthday"),
    ),
    EventType.ANNIVERSARY: _LOCAL_DAY.format(
        where="AND to_char(c.created_at AT TIME ZONE 'UTC', 'MM-DD') "
        "= ANY(%(near_month_days)s::text[])",
        payload="jsonb_build_object('date', d::text, 'years', "
        "extract(year FROM d)::int - extract(year FROM created_on)::int)",
        key="'anniversary:' || id || ':' || d::text",
        match="extract(year FROM d) > extract(year FROM created_on) AND "
        + _same_day_of_year("created_on"),
    ),
    EventType.MONTHLY: _LOCAL_DAY.format(
        where="AND c.kind = %(business)s AND %(first_of_month)s",
        payload="jsonb_build_object('month', to_char(d, 'YYYY-MM'))",
        key="'monthly:' || id || ':' || to_char(d, 'YYYY-MM')",
        match="extract(day FROM d) = 1",
    ),
}

# Customers whose last paid order (per the metrics of the last refresh) began an inactivity of
# N days in the catch-up window, unless they ordered since (stale metrics are checked against
# the orders table through its (customer, placed_at) index).
INACTIVITY_SQL = """
INSERT INTO care_event
    (type, customer_id, payload, source, occurred_at, created_at, idempotency_key,
     attempts, last_error)
SELECT %(type)s, m.customer_id,
       jsonb_build_object('days', %(days)s, 'last_order_at', m.last_order_at),
       %(source)s, %(now)s, %(now)s,
       'inactivity:' || m.customer_id || ':' || %(days)s || ':'
           || to_char(m.last_order_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'),
       0, ''
FROM segments_customermetrics m
JOIN callcenter_customer c ON c.id = m.customer_id AND c.status = %(active)s
WHERE m.last_order_at <= %(now)s::timestamptz - make_interval(days => %(days)s)
  AND m.last_order_at > %(now)s::timestamptz - make_interval(days => %(days)s + %(catch_up)s)
  AND NOT EXISTS (
      SELECT 1 FROM callcenter_order o
      WHERE o.customer_id = m.customer_id AND o.status = %(paid)s
        AND o.placed_at > m.last_order_at
  )
ON CONFLICT (client, idempotency_key) DO NOTHING
RETURNING id
"""

# Every active date and holiday rule in one statement, in two phases:
#  1. candidates: one scan of the customers, keeping those whose stored value could match some
#     rule on any local day of the pass (the pinned day, else the UTC day and the days either
#     side, which covers every time zone): an attribute whose first ten characters are one of the
#     wanted dates, a profile timestamp within a day of one, or everyone for a holiday rule when
#     one of its holidays begins on a wanted day. No time-zone arithmetic happens here, so a pass
#     with nothing due costs one cheap scan however many rules there are;
#  2. each rule's exact test, on the candidates only, on their own clock: their local day `d`
#     (the pinned day, else today on their clock) once their local clock reached the rule's
#     at_hour (so a late pass still fires the same day, never a later one). Customers with a time
#     zone PostgreSQL does not know are skipped (AT TIME ZONE never sees their zone); the zone
#     names are read once (MATERIALIZED).
# A date rule fires when its date (a custom attribute's leading ISO date, compared as text and
# never cast, so a value that is not a date is skipped instead of failing the statement; or a
# profile timestamp's local date) plus offset_days is the local day; a holiday rule on the first
# day of a holiday period (a run of consecutive holiday days with the same name) plus
# offset_days, once per rule, customer and period.
_DATED_RULES = """
WITH zones AS MATERIALIZED (SELECT name FROM pg_timezone_names),
first_days AS MATERIALIZED (
    SELECT h.day, h.name
    FROM callcenter_calendarday h
    WHERE h.kind = %(holiday_kind)s
      AND NOT EXISTS (
          SELECT 1 FROM callcenter_calendarday p
          WHERE p.kind = h.kind AND p.name = h.name AND p.day = h.day - 1
      )
), candidates AS MATERIALIZED (
    SELECT c.id, c.attributes, {profile_columns}, c.timezone
    FROM callcenter_customer c
    WHERE c.status = %(active)s AND ({candidates})
), local AS MATERIALIZED (
    SELECT id, attributes, {profile_columns}, timezone,
           %(now)s::timestamptz AT TIME ZONE timezone AS clock
    FROM candidates
    WHERE timezone IN (SELECT name FROM zones)
)
INSERT INTO care_event
    (type, customer_id, payload, source, occurred_at, created_at, idempotency_key,
     attempts, last_error)
SELECT type, id, payload, %(source)s, occurred_at, %(now)s, key, 0, ''
FROM ({matches}) fired
ON CONFLICT (client, idempotency_key) DO NOTHING
RETURNING id, type
"""
# The candidates of rule {n} at its local hour, with their local day.
_DUE = """
    SELECT id, timezone, {value} AS value, COALESCE(%(today)s::date, clock::date) AS d
    FROM local
    WHERE {present}
      AND (%(today)s::date IS NOT NULL OR extract(hour FROM clock) >= %(hour_{n})s)"""
_DATE_MATCH = """
SELECT %(date_type)s AS type, id,
       jsonb_build_object('rule', %(rule_{n})s::int, 'field', %(field_{n})s::text,
                          'offset_days', %(offset_{n})s::int, 'at_hour', %(hour_{n})s::int,
                          'date', value) AS payload,
       (d + make_time(%(hour_{n})s, 0, 0)) AT TIME ZONE timezone AS occurred_at,
       'date:' || %(rule_{n})s::int || ':' || id || ':' || value AS key
FROM ({due}) due_{n}
WHERE value = to_char(d - %(offset_{n})s::int, 'YYYY-MM-DD')"""
_HOLIDAY_MATCH = """
SELECT %(holiday_type)s AS type, due_{n}.id,
       jsonb_build_object('rule', %(rule_{n})s::int, 'holiday', f.name,
                          'offset_days', %(offset_{n})s::int, 'at_hour', %(hour_{n})s::int,
                          'date', f.day::text) AS payload,
       (due_{n}.d + make_time(%(hour_{n})s, 0, 0)) AT TIME ZONE due_{n}.timezone AS occurred_at,
       'holiday:' || %(rule_{n})s::int || ':' || due_{n}.id || ':' || f.day::text AS key
FROM ({due}) due_{n}
JOIN first_days f ON f.day = due_{n}.d - %(offset_{n})s::int
    AND (%(holiday_{n})s::text = %(any)s OR f.name = %(holiday_{n})s)"""
# A date rule counting hours from the moment (offset_hours): the moment plus the offset fell
# within the catch-up window before now (the pass runs hourly, so it fires within the hour after,
# and catches up after a short outage without firing long past the moment). Once per rule,
# customer and moment. An attribute's moment is ISO text, with a zone ("...T15:00:00+08:00",
# "...Z") or without (the customer's clock), or a date alone (its local midnight); it is cast
# only when its shape and day of the month make a real moment, so a bad value is skipped
# instead of failing the statement.
_MOMENT_MATCH = """
SELECT %(date_type)s AS type, id,
       jsonb_build_object('rule', %(rule_{n})s::int, 'field', %(field_{n})s::text,
                          'offset_hours', %(hours_{n})s::int, 'moment', value) AS payload,
       fire_at AS occurred_at,
       'moment:' || %(rule_{n})s::int || ':' || id || ':' || value AS key
FROM (
    SELECT id, value, moment + make_interval(hours => %(hours_{n})s) AS fire_at
    FROM ({moments}) moments_{n}
) fired_{n}
WHERE fire_at <= %(now)s AND fire_at > %(now)s::timestamptz - %(moment_catch_up)s"""
# The shape of an ISO moment (the day of the month is checked apart), as a regular expression.
_ISO_MOMENT = (
    "'^[1-9][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    "([T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\\.[0-9]{1,6})?)?"
    "(Z|[+-]([01][0-9]|2[0-3])(:?[0-5][0-9])?)?)?$'"
)
# Nested CASEs: PostgreSQL evaluates a CASE's branches in order (AND does not promise it), so
# nothing is cast before its shape and its day of the month are known to be right.
_ATTRIBUTE_MOMENTS = """
SELECT id, value,
       CASE WHEN value ~ {iso} THEN
           CASE WHEN substr(value, 9, 2)::int <= extract(day FROM
                    make_date(substr(value, 1, 4)::int, substr(value, 6, 2)::int, 1)
                    + interval '1 month' - interval '1 day') THEN
               CASE WHEN value ~ '[T ][0-9:.]+(Z|[+-][0-9:]+)$' THEN value::timestamptz
                    ELSE value::timestamp AT TIME ZONE timezone END
           END
       END AS moment
FROM (SELECT id, timezone, attributes ->> %(attribute_{n})s AS value FROM local) raw_{n}"""
_PROFILE_MOMENTS = (
    "SELECT id, to_char({field} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS value, "
    "{field} AS moment FROM local WHERE {field} IS NOT NULL"
)
# How long after its moment an hours-offset date rule still fires (missed passes caught up).
MOMENT_CATCH_UP = dt.timedelta(hours=3)
_ATTRIBUTE_DATE = "left(attributes ->> %(attribute_{n})s, 10)"
_ISO_DATE_PREFIX = "attributes ->> %(attribute_{n})s ~ '^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}([T ]|$)'"


def _pass_days(today: dt.date | None, now: dt.datetime) -> list[dt.date]:
    """The local days a pass can see: the pinned one, else the UTC day and the days either side
    (every time zone's today is among them)."""
    if today is not None:
        return [today]
    utc = now.astimezone(dt.UTC).date()
    return [utc - dt.timedelta(days=1), utc, utc + dt.timedelta(days=1)]


def _month_days(days: list[dt.date], spread: int = 0) -> list[str]:
    """The month-days (MM-DD) of `days`, and of `spread` days either side; 29 February with
    28 February, as a birthday on it counts then in years without it."""
    month_days = {
        (day + dt.timedelta(days=shift)).strftime("%m-%d")
        for day in days
        for shift in range(-spread, spread + 1)
    }
    if "02-28" in month_days:
        month_days.add("02-29")
    return sorted(month_days)


def _dated_rule_sql(
    n: int,
    rule_id: int,
    trigger_type: str,
    params: dict[str, Any],
    days: list[dt.date],
    now: dt.datetime,
) -> tuple[str, str, dict[str, Any]]:
    """Rule `n`'s candidate test (over `c`), its exact match (over `local`), and parameters."""
    if "offset_hours" in params:
        return _moment_rule_sql(n, rule_id, params["field"], int(params["offset_hours"]), now)
    offset = int(params["offset_days"])
    wanted = sorted({day - dt.timedelta(days=offset) for day in days})
    values = {
        f"rule_{n}": rule_id,
        f"offset_{n}": offset,
        f"hour_{n}": int(params["at_hour"]),
        f"wanted_{n}": wanted,
    }
    if trigger_type == EventType.HOLIDAY:
        values[f"holiday_{n}"] = params["holiday"]
        candidate = (
            "EXISTS (SELECT 1 FROM first_days f WHERE f.day = ANY(%(wanted_{n})s::date[]) "
            "AND (%(holiday_{n})s::text = %(any)s OR f.name = %(holiday_{n})s))"
        )
        due = _DUE.format(n=n, value="NULL::text", present="TRUE")
        return candidate.format(n=n), _HOLIDAY_MATCH.format(n=n, due=due), values
    field = params["field"]
    values[f"field_{n}"] = field
    if field.startswith(ATTRIBUTE_PREFIX):
        values[f"attribute_{n}"] = field.removeprefix(ATTRIBUTE_PREFIX)
        values[f"wanted_{n}"] = [day.isoformat() for day in wanted]
        candidate = "left(c.attributes ->> %(attribute_{n})s, 10) = ANY(%(wanted_{n})s::text[])"
        value, present = _ATTRIBUTE_DATE.format(n=n), _ISO_DATE_PREFIX.format(n=n)
    else:
        # A timestamp's local date is its UTC date or a day either side.
        values[f"from_{n}"] = dt.datetime.combine(wanted[0], dt.time(), dt.UTC) - dt.timedelta(
            days=1
        )
        values[f"until_{n}"] = dt.datetime.combine(wanted[-1], dt.time(), dt.UTC) + dt.timedelta(
            days=2
        )
        candidate = f"(c.{field} >= %(from_{{n}})s AND c.{field} < %(until_{{n}})s)"
        value = f"to_char(({field} AT TIME ZONE timezone)::date, 'YYYY-MM-DD')"
        present = f"{field} IS NOT NULL"
    due = _DUE.format(n=n, value=value, present=present)
    return candidate.format(n=n), _DATE_MATCH.format(n=n, due=due), values


def _moment_rule_sql(
    n: int, rule_id: int, field: str, hours: int, now: dt.datetime
) -> tuple[str, str, dict[str, Any]]:
    """An hours-offset date rule's candidate test, exact match and parameters (see
    _MOMENT_MATCH): the moments whose fire time can fall in the catch-up window."""
    values: dict[str, Any] = {f"rule_{n}": rule_id, f"field_{n}": field, f"hours_{n}": hours}
    latest = now - dt.timedelta(hours=hours)
    earliest = latest - MOMENT_CATCH_UP
    if field.startswith(ATTRIBUTE_PREFIX):
        values[f"attribute_{n}"] = field.removeprefix(ATTRIBUTE_PREFIX)
        # A moment's written date is its UTC date or a day either side.
        values[f"from_{n}"] = (
            earliest.astimezone(dt.UTC).date() - dt.timedelta(days=1)
        ).isoformat()
        values[f"until_{n}"] = (latest.astimezone(dt.UTC).date() + dt.timedelta(days=1)).isoformat()
        candidate = (
            "left(c.attributes ->> %(attribute_{n})s, 10) BETWEEN %(from_{n})s AND %(until_{n})s"
        )
        moments = _ATTRIBUTE_MOMENTS.format(iso=_ISO_MOMENT, n=n)
    else:
        values[f"from_{n}"], values[f"until_{n}"] = earliest, latest
        candidate = f"(c.{field} > %(from_{{n}})s AND c.{field} <= %(until_{{n}})s)"
        moments = _PROFILE_MOMENTS.format(field=field)
    match = _MOMENT_MATCH.format(n=n, moments=moments)
    return candidate.format(n=n), match, values


def _rule_events_emit(
    cursor: Any, common: dict[str, Any], today: dt.date | None, now: dt.datetime
) -> dict[str, list[int]]:
    """Emit the events of every active date and holiday rule in one statement (the rules read
    in one query; see _DATED_RULES); the new events' ids per trigger type with an active rule."""
    rules = (
        CareRule.objects.filter(is_active=True, trigger_type__in=DATED_RULE_EVENTS)
        .order_by("pk")
        .values_list("pk", "trigger_type", "trigger_params")
    )
    days = _pass_days(today, now)
    candidates: list[str] = []
    matches: list[str] = []
    params: dict[str, Any] = {
        **common,
        "date_type": EventType.DATE_REACHED,
        "holiday_type": EventType.HOLIDAY,
        "holiday_kind": CalendarDayKind.HOLIDAY,
        "any": ANY_HOLIDAY,
        "moment_catch_up": MOMENT_CATCH_UP,
    }
    ids: dict[str, list[int]] = {}
    for n, (rule_id, trigger_type, rule_params) in enumerate(rules):
        candidate, match, values = _dated_rule_sql(n, rule_id, trigger_type, rule_params, days, now)
        candidates.append(candidate)
        matches.append(match)
        params.update(values)
        ids.setdefault(trigger_type, [])
    if not matches:
        return ids
    profile_columns = ", ".join(DATE_PROFILE_FIELDS)
    sql = _DATED_RULES.format(
        profile_columns=profile_columns,
        candidates="\n        OR ".join(candidates),
        matches="\nUNION ALL".join(matches),
    )
    cursor.execute(sql, params)
    for event_id, trigger_type in cursor.fetchall():
        ids[trigger_type].append(event_id)
    return ids


def time_events_emit(
    *, today: dt.date | None = None, now: dt.datetime | None = None
) -> dict[str, int]:
    """Emit the day's time events, set-based and idempotent (running it again, or every hour,
    adds nothing already there): birthdays, membership anniversaries and the first of the
    month (business customers, for their value report) on the customer's local day, dated
    at its start; inactivity of each configured number of days (CareSettings.inactivity_days);
    the dates each active date rule waits for (counted under "date_reached", present when a
    date rule is active) and the holidays each active holiday rule waits for (under "holiday",
    likewise), dated at the rule's local hour; the crossings of each active threshold rule
    (counted under "threshold_crossed", present when one is active; see `thresholds`).

    `today` pins the local day for every customer (for replays and tests, whatever the hour);
    by default each customer's own date on their clock is used, so running hourly serves every
    time zone.
    """
    now = now or timezone.now()
    days = _pass_days(today, now)
    common = {
        "now": now,
        "today": today,
        "active": CustomerStatus.ACTIVE,
        "business": CustomerKind.BUSINESS,
        "source": EventSource.SCHEDULE,
        "month_days": _month_days(days),
        "near_month_days": _month_days(days, spread=1),
        "first_of_month": any(day.day == 1 for day in days),
    }
    counts: dict[str, int] = {}
    ids: list[int] = []
    with transaction.atomic(), connection.cursor() as cursor:
        for kind, sql in TIME_EVENT_SQL.items():
            cursor.execute(sql, {**common, "type": kind})
            new = [row[0] for row in cursor.fetchall()]
            counts[kind] = len(new)
            ids.extend(new)
        counts[EventType.INACTIVITY] = 0
        for days in sorted(set(CareSettings.load().inactivity_days or [])):
            cursor.execute(
                INACTIVITY_SQL,
                {
                    **common,
                    "type": EventType.INACTIVITY,
                    "days": int(days),
                    "catch_up": INACTIVITY_CATCH_UP_DAYS,
                    "paid": OrderStatus.PAID,
                },
            )
            new = [row[0] for row in cursor.fetchall()]
            counts[EventType.INACTIVITY] += len(new)
            ids.extend(new)
        for trigger_type, new in _rule_events_emit(cursor, common, today, now).items():
            counts[trigger_type] = len(new)
            ids.extend(new)
        crossed = threshold_events_emit(cursor, now=now)
        if crossed is not None:
            counts[EventType.THRESHOLD_CROSSED] = len(crossed)
            ids.extend(crossed)
        events_enqueue(ids)
    return counts
