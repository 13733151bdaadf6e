"""Finding likely duplicate customers: a handful of set-based SQL statements over every active
customer (no Python loop, no cross join) that store open merge proposals. It only proposes."""

import math
from dataclasses import dataclass

import phonenumbers
from django.conf import settings
from django.db import connection, transaction
from django.utils.translation import gettext as _

from callcenter.choices import (
    ContactKind,
    CustomerStatus,
    MergeProposalStatus,
)
from callcenter.errors import ApplicationError
from callcenter.jobs import enqueue_on_commit

# pg_trgm similarity two names need to count as "near-identical" ("Jon Smith" ~ "John Smith"
# is 0.62). Set per transaction so `%` (served by a GIN trigram index) uses it.
NAME_SIMILARITY_THRESHOLD = 0.6

# A phone or email shared by more customers than this is a shop, switchboard or placeholder
# address, not evidence that they are one person; pairing them all would be quadratic.
MAX_SHARED_VALUE_OWNERS = 10

# More namesakes than this with one birthday or company are different people (or one import
# run amok); pairing them all would flood the review queue and grow quadratically.
MAX_NAMESAKE_BLOCK = 10

# A city is a weak signal: it supports a name only when the name is rare in the whole base
# (at most this many active customers carry it) and only two namesakes live in that city.
# Two of the hundreds of Zhang Weis in Shanghai are no evidence of anything.
CITY_MAX_NAME_CARRIERS = 20
CITY_MAX_NAMESAKES = 2

# How much each piece of evidence alone says the two are one customer. A pair's score combines
# them as independent evidence: 1 - prod(1 - weight). A similar name counts only together with
# a supporting signal, whose weight is scaled by the name similarity.
SIGNAL_WEIGHTS = {
    "email": 0.8,
    "phone": 0.75,
    "birthday": 0.7,
    "company": 0.5,
    "city": 0.35,
}


# Memory each sort or hash of the finder may use before spilling to disk. Its largest sort at
# 1M customers (1.5M contact values) is about 110 MB; a handful of such nodes at once stays far
# inside the 4 GB budget of the deployment.
FINDER_WORK_MEM = "128MB"

# One finder at a time from the background (the nightly run, "Find duplicates now" pressed
# twice): a second one finds the same pairs, so it is skipped rather than run beside the first.
FINDER_LOCK_KEY = "identity:duplicate-finder"


def _min_trigrams(threshold: float) -> int:
    """How many trigrams a name needs before a different spelling can reach `threshold`.

    A one-character edit changes at least two trigrams, so a name with T trigrams is at most
    (T-2)/(T+1) similar to any other spelling: below ceil((2+t)/(1-t)) trigrams (7 at t=0.6)
    only identical names reach t, and those are paired by a plain equality join. This saves
    an index probe for most Chinese names (a five-character name has six trigrams).
    """
    return math.ceil((2 + threshold) / (1 - threshold)) if threshold < 1 else 10**6


# The finder runs as a few set-based statements over temporary tables (dropped at commit).
# Separate, analyzed steps keep the planner honest: as one statement it misjudged the
# trigram join by orders of magnitude and compared whole cities with each other.
_FINDER_STEPS = (
    (
        # Every active customer's supporting values, how many namesakes share each value
        # (block) and how many active customers carry the name at all (carriers).
        "identity_supports",
        r"""
        SELECT id, name, name_key, kind, key, display,
               CASE WHEN kind = 'city'
                    THEN block <= %(city_max_namesakes)s AND carriers <= %(city_max_carriers)s
                    ELSE block <= %(max_block)s
               END AS supports
        FROM (
            SELECT id, name, name_key, v.kind, v.key, v.display, carriers,
                   count(*) OVER (PARTITION BY name_key, v.kind, v.key) AS block
            FROM (
                SELECT *, count(*) OVER (PARTITION BY name_key) AS carriers
                FROM (
                    SELECT id, name, lower(translate(name, ' ' || chr(12288), '')) AS name_key,
                           NULLIF(btrim(city), '') AS city, birthday,
                           NULLIF(btrim(company_name), '') AS company
                    FROM callcenter_customer
                    WHERE status = %(active)s
                ) c
            ) c
            CROSS JOIN LATERAL (VALUES
                ('city', lower(city), city),
                ('birthday', birthday::text, birthday::text),
                ('company', lower(company), company)
            ) AS v(kind, key, display)
            WHERE v.key IS NOT NULL
        ) s
        """,
    ),
    (
        # Emails (active) and phone numbers (stored value and as entered, active or not: a
        # number given up by one customer and now used by another still links the two).
        "identity_values",
        r"""
        SELECT kind, key, customer_id, count(*) OVER (PARTITION BY kind, key) AS owners
        FROM (
            SELECT 'email' AS kind, lower(btrim(cp.value)) AS key, cp.customer_id
            FROM callcenter_contactpoint cp
            JOIN callcenter_customer c ON c.id = cp.customer_id AND c.status = %(active)s
            WHERE cp.kind = %(email)s AND cp.is_active
            UNION
            SELECT 'phone', key, customer_id FROM (
                -- Stored values are E.164 already; only what was typed needs reading.
                SELECT cp.customer_id, substr(cp.value, 2) AS key
                FROM callcenter_contactpoint cp
                JOIN callcenter_customer c ON c.id = cp.customer_id AND c.status = %(active)s
                WHERE cp.kind = %(phone)s AND cp.value LIKE '+%%'
                UNION ALL
                SELECT customer_id,
                       CASE
                           WHEN raw LIKE '+%%' THEN digits
                           WHEN digits LIKE '00%%' THEN substr(digits, 3)
                           WHEN digits LIKE '0%%' THEN %(cc)s || substr(digits, 2)
                           WHEN digits LIKE %(cc)s || '%%'
                                AND length(digits) > length(%(cc)s) + 6 THEN digits
                           ELSE %(cc)s || digits
                       END
                FROM (
                    SELECT cp.customer_id, btrim(v.raw) AS raw,
                           regexp_replace(v.raw, '\D', '', 'g') AS digits
                    FROM callcenter_contactpoint cp
                    JOIN callcenter_customer c
                      ON c.id = cp.customer_id AND c.status = %(active)s
                    CROSS JOIN LATERAL (
                        VALUES (CASE WHEN cp.value NOT LIKE '+%%' THEN cp.value END),
                               (NULLIF(cp.raw_value, cp.value))
                    ) AS v(raw)
                    WHERE cp.kind = %(phone)s AND v.raw <> ''
                ) r
                WHERE digits <> ''
            ) k
            WHERE length(key) BETWEEN 8 AND 15
        ) v
        """,
    ),
    (
        # The distinct names of active customers, to probe with `%` through a trigram index.
        "identity_names",
        "SELECT DISTINCT name FROM callcenter_customer WHERE status = %(active)s",
    ),
    (
        # Near-identical, different names: one GIN index probe per distinct name that is long
        # enough to have a near-identical spelling (never a cross join).
        "identity_similar",
        """
        SELECT n.name AS name_a, m.name AS name_b, similarity(n.name, m.name) AS similarity
        FROM identity_names n
        CROSS JOIN LATERAL (
            SELECT d.name FROM identity_names d WHERE d.name %% n.name AND d.name <> n.name
        ) m
        WHERE array_length(show_trgm(n.name), 1) >= %(min_trigrams)s
        """,
    ),
    (
        # Namesakes (identical or near-identical names) that share a supporting value; joined
        # on the name and the value together, so a common name is only ever compared within
        # one city, birthday or company.
        "identity_name_matches",
        """
        SELECT x.id AS a, y.id AS b, x.name AS name_a, y.name AS name_b,
               1.0::float AS similarity, x.kind, x.display
        FROM identity_supports x
        JOIN identity_supports y
          ON y.name_key = x.name_key AND y.kind = x.kind AND y.key = x.key AND x.id < y.id
        WHERE x.supports
        UNION ALL
        SELECT x.id, y.id, x.name, y.name, sn.similarity::float, x.kind, x.display
        FROM identity_similar sn
        JOIN identity_supports x ON x.name = sn.name_a
        JOIN identity_supports y
          ON y.name = sn.name_b AND y.kind = x.kind AND y.key = x.key AND x.id < y.id
        WHERE x.supports AND y.supports AND x.name_key <> y.name_key
        """,
    ),
)

_FINDER_WRITE_SQL = """
WITH signals AS (
    SELECT x.customer_id AS a, y.customer_id AS b, x.kind,
           CASE WHEN x.kind = 'phone' THEN '+' || x.key ELSE x.key END AS value,
           NULL::float AS similarity
    FROM identity_values x
    JOIN identity_values y ON y.kind = x.kind AND y.key = x.key AND x.customer_id < y.customer_id
    WHERE x.owners <= %(max_owners)s
    UNION ALL
    SELECT a, b, 'name',
           CASE WHEN name_a = name_b THEN name_a ELSE name_a || ' ~ ' || name_b END,
           max(similarity)
    FROM identity_name_matches GROUP BY a, b, name_a, name_b
    UNION ALL
    SELECT a, b, kind, display, max(similarity)
    FROM identity_name_matches GROUP BY a, b, kind, display
),
weighted AS (
    SELECT a, b, kind, value, similarity,
           CASE kind
               WHEN 'name' THEN 0.0
               WHEN 'email' THEN %(w_email)s
               WHEN 'phone' THEN %(w_phone)s
               WHEN 'birthday' THEN %(w_birthday)s * similarity
               WHEN 'company' THEN %(w_company)s * similarity
               WHEN 'city' THEN %(w_city)s * similarity
           END AS weight,
           CASE kind
               WHEN 'email' THEN 1 WHEN 'phone' THEN 2 WHEN 'name' THEN 3
               WHEN 'birthday' THEN 4 WHEN 'company' THEN 5 ELSE 6
           END AS position
    FROM signals
),
scored AS (
    SELECT a, b,
           round((1 - exp(sum(ln(1 - LEAST(weight, 0.99)))))::numeric, 4)::float AS score,
           jsonb_agg(
               CASE WHEN kind = 'name'
                    THEN jsonb_build_object(
                        'kind', kind, 'value', value, 'similarity', round(similarity::numeric, 2)
                    )
                    ELSE jsonb_build_object('kind', kind, 'value', value)
               END
               ORDER BY position, value
           ) AS reasons
    FROM weighted
    GROUP BY a, b
),
written AS (
    -- New pairs are inserted; an existing pair is updated only while it is open, so a
    -- dismissed (or merged) pair is never reopened.
    INSERT INTO callcenter_mergeproposal
        (customer_a_id, customer_b_id, score, reasons, status, created_at, updated_at)
    SELECT a, b, score, reasons, %(open)s, now(), now() FROM scored
    ON CONFLICT (customer_a_id, customer_b_id) DO UPDATE
        SET score = EXCLUDED.score, reasons = EXCLUDED.reasons, updated_at = EXCLUDED.updated_at
        WHERE callcenter_mergeproposal.status = %(open)s
          AND (callcenter_mergeproposal.score <> EXCLUDED.score
               OR callcenter_mergeproposal.reasons <> EXCLUDED.reasons)
    RETURNING (xmax = 0) AS inserted
)
SELECT (SELECT count(*) FROM scored),
       count(*) FILTER (WHERE inserted),
       count(*) FILTER (WHERE NOT inserted)
FROM written
"""


@dataclass(frozen=True)
class DuplicateScan:
    """What one run of the duplicate finder saw and wrote."""

    found: int
    created: int
    updated: int


@transaction.atomic
def merge_proposals_refresh(*, name_threshold: float = NAME_SIMILARITY_THRESHOLD) -> DuplicateScan:
    """Find candidate duplicate pairs among active customers and store them as proposals.

    Evidence: a shared email (active contact points), a shared phone number (stored value or
    as entered, active or inactive), or identical or near-identical names (pg_trgm) backed by
    the same birthday, city or company; a name alone is never enough. New pairs become open
    proposals; open proposals get the fresh score and reasons; merged and dismissed proposals
    are never touched (a dismissed pair stays dismissed). Safe to run any number of times.
    """
    if not 0 < name_threshold <= 1:
        raise ApplicationError(_("The name similarity threshold must be between 0 and 1."))
    params: dict[str, str | int | float] = {
        "active": CustomerStatus.ACTIVE,
        "email": ContactKind.EMAIL,
        "phone": ContactKind.PHONE,
        "open": MergeProposalStatus.OPEN,
        "cc": str(phonenumbers.country_code_for_region(settings.PHONE_DEFAULT_REGION)),
        "max_owners": MAX_SHARED_VALUE_OWNERS,
        "max_block": MAX_NAMESAKE_BLOCK,
        "city_max_namesakes": CITY_MAX_NAMESAKES,
        "city_max_carriers": CITY_MAX_NAME_CARRIERS,
        "min_trigrams": _min_trigrams(name_threshold),
        **{f"w_{kind}": weight for kind, weight in SIGNAL_WEIGHTS.items()},
    }
    with connection.cursor() as cursor:
        # Local to this transaction: `%` compares against this threshold; big sorts stay in
        # memory; JIT compilation cost seconds and won nothing on these statements.
        cursor.execute(
            "SELECT set_config('pg_trgm.similarity_threshold', %s, true), "
            "set_config('work_mem', %s, true), set_config('jit', 'off', true)",
            [str(name_threshold), FINDER_WORK_MEM],
        )
        for table, select in _FINDER_STEPS:
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
            cursor.execute(f"CREATE TEMPORARY TABLE {table} ON COMMIT DROP AS {select}", params)
            if table == "identity_names":
                # Probing the distinct names rechecks each candidate name once, where probing
                # customer_name_trgm rechecks every namesake's row, many times the work for
                # common names.
                cursor.execute("CREATE INDEX ON identity_names USING gin (name gin_trgm_ops)")
            cursor.execute(f"ANALYZE {table}")
        cursor.execute(_FINDER_WRITE_SQL, params)
        found, created, updated = cursor.fetchone()
    return DuplicateScan(found=found, created=created, updated=updated)


@transaction.atomic
def merge_proposals_refresh_unless_running() -> DuplicateScan | None:
    """Run the finder unless another run holds the finder's lock (then None, nothing done)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_try_advisory_xact_lock(hashtextextended(%s, 0))", [FINDER_LOCK_KEY]
        )
        if not cursor.fetchone()[0]:
            return None
    return merge_proposals_refresh()


def merge_proposals_find_later() -> None:
    """Run the finder in the background once the current transaction commits (the proposals
    page's "Find duplicates now"; the nightly run is the beat schedule's)."""
    enqueue_on_commit("callcenter.tasks.merge_proposals_find_task")
