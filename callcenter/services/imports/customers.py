"""Importing customers: profile fields, phones, emails, WeChat ids, consent and attributes.

An empty cell never overwrites: for a new customer it means the default, for an existing one
the stored value is kept. Contact points are added (or re-activated), never removed. Opt-out
changes are recorded in the consent history in one INSERT ... SELECT from `import_consent`, the
staging table of what changed.
"""

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from psycopg import Connection, Cursor

from callcenter.choices import (
    AccountRole,
    ConsentSource,
    CustomerKind,
    Gender,
    ImportKind,
    Language,
)
from callcenter.events import CONSENT_CHANGED, CUSTOMER_CREATED, DomainEvent
from callcenter.limits import attribute_limits

from . import cells
from .base import (
    Column,
    ImportContext,
    KindSpec,
    check_duplicate_ids,
    emit_batches,
    record_created,
)

COLUMNS = (
    Column("external_id", cells.text(64), required=True),
    Column("name", cells.text(200)),
    Column("kind", cells.choice(CustomerKind.values)),
    Column("phone", cells.phones, "text[]", extra_fields=(("phone_raw", "text[]"),)),
    Column("email", cells.emails, "text[]", extra_fields=(("email_raw", "text[]"),)),
    Column("wechat", cells.identifiers, "text[]"),
    Column("wecom", cells.identifiers, "text[]"),
    Column("birthday", cells.past_day, "date"),
    Column("city", cells.text(100)),
    Column("region", cells.text(100)),
    Column("timezone", cells.time_zone),
    Column("language", cells.choice(Language.values)),
    Column("sms_opt_out", cells.boolean, "boolean"),
    Column("call_opt_out", cells.boolean, "boolean"),
    Column("email_opt_out", cells.boolean, "boolean"),
    Column("do_not_contact", cells.boolean, "boolean"),
    Column("company_name", cells.text(200)),
    Column("industry", cells.text(100)),
    Column("employee_count", cells.whole_number(2_147_483_647), "integer"),
    Column("wechat_opt_out", cells.boolean, "boolean"),
    Column("wecom_opt_out", cells.boolean, "boolean"),
    Column("account_external_id", cells.text(64)),
    Column("account_role", cells.choice(AccountRole.values)),
    Column("gender", cells.choice(Gender.values)),
)


def check(cur: Cursor, ctx: ImportContext) -> None:
    """Bad rows that need the database: repeats, merged customers, missing names and company
    names of new or business customers, phones or WeChat ids owned by someone else, and
    custom attributes that would exceed CUSTOMER_ATTRIBUTES_MAX_KEYS with the stored ones."""
    check_duplicate_ids(cur)
    cur.execute(
        """
        INSERT INTO import_error (line, ok, column_name, code, value, detail)
        SELECT s.line, s.ok, 'attributes', 'too_many_attributes', '', n.keys::text
        FROM import_stage s
        JOIN callcenter_customer c ON c.external_id = s.external_id AND c.attributes <> '{}'
        CROSS JOIN LATERAL (
            SELECT count(*) AS keys FROM jsonb_object_keys(c.attributes || s.attributes)
        ) n
        WHERE s.attributes IS NOT NULL AND n.keys > %(max_keys)s
        """,
        {"max_keys": attribute_limits().max_keys},
    )
    cur.execute(
        """
        INSERT INTO import_error (line, ok, column_name, code, value, detail)
        SELECT s.line, s.ok, 'external_id', 'merged_customer', s.external_id,
               coalesce(m.external_id, '#' || m.id)
        FROM import_stage s
        JOIN callcenter_customer c ON c.external_id = s.external_id AND c.status <> 'active'
        JOIN callcenter_customer m ON m.id = c.merged_into_id;

        INSERT INTO import_error (line, ok, column_name, code, value, detail)
        SELECT s.line, s.ok, 'name', 'name_required', '', ''
        FROM import_stage s
        WHERE s.ok AND s.name IS NULL
          AND NOT EXISTS (SELECT 1 FROM callcenter_customer c WHERE c.external_id = s.external_id);

        INSERT INTO import_error (line, ok, column_name, code, value, detail)
        SELECT s.line, s.ok, 'company_name', 'company_required', '', ''
        FROM import_stage s
        LEFT JOIN callcenter_customer c ON c.external_id = s.external_id
        WHERE s.ok AND coalesce(s.kind, c.kind, 'person') = 'business'
          AND coalesce(s.company_name, c.company_name, '') = '';

        -- Account links: the account is a business customer stored or in the file (its
        -- kind as it will be after the import), active, not the row itself; the contact a
        -- person; a role needs an account.
        CREATE TEMP TABLE import_account ON COMMIT DROP AS
        SELECT s.line, s.ok, s.account_external_id AS ref,
               coalesce(s.kind, c.kind, 'person') AS contact_kind,
               s.account_external_id = s.external_id AS is_self,
               a.id IS NOT NULL OR f.line IS NOT NULL AS known,
               coalesce(f.kind, a.kind, CASE WHEN f.line IS NOT NULL THEN 'person' END)
                   AS account_kind,
               coalesce(a.status, 'active') AS account_status,
               m.external_id AS merged_into, a.merged_into_id
        FROM import_stage s
        LEFT JOIN callcenter_customer c ON c.external_id = s.external_id
        LEFT JOIN callcenter_customer a ON a.external_id = s.account_external_id
        LEFT JOIN callcenter_customer m ON m.id = a.merged_into_id
        LEFT JOIN LATERAL (
            SELECT f.line, f.kind FROM import_stage f
            WHERE f.external_id = s.account_external_id ORDER BY f.line LIMIT 1
        ) f ON true
        WHERE s.account_external_id IS NOT NULL;

        INSERT INTO import_error (line, ok, column_name, code, value, detail)
        SELECT x.line, x.ok, 'account_external_id',
               CASE WHEN x.is_self THEN 'account_self'
                    WHEN NOT x.known THEN 'unknown_account'
                    WHEN x.account_status <> 'active' THEN 'account_merged'
                    WHEN x.account_kind <> 'business' THEN 'account_not_business'
                    ELSE 'contact_not_person' END,
               x.ref, coalesce(x.merged_into, '#' || x.merged_into_id, '')
        FROM import_account x
        WHERE x.is_self OR NOT x.known OR x.account_status <> 'active'
           OR x.account_kind <> 'business' OR x.contact_kind <> 'person';

        INSERT INTO import_error (line, ok, column_name, code, value, detail)
        SELECT s.line, s.ok, 'account_role', 'role_needs_account', s.account_role, ''
        FROM import_stage s
        LEFT JOIN callcenter_customer c ON c.external_id = s.external_id
        WHERE s.account_role IS NOT NULL AND s.account_external_id IS NULL
          AND c.account_id IS NULL;

        CREATE TEMP TABLE import_contact ON COMMIT DROP AS
        SELECT s.line, s.ok, s.external_id, 'phone'::text AS kind, p.value, p.raw, p.position
        FROM import_stage s, unnest(s.phone, s.phone_raw) WITH ORDINALITY AS p(value, raw, position)
        UNION ALL
        SELECT s.line, s.ok, s.external_id, 'email', e.value, e.raw, e.position
        FROM import_stage s, unnest(s.email, s.email_raw) WITH ORDINALITY AS e(value, raw, position)
        UNION ALL
        SELECT s.line, s.ok, s.external_id, 'wechat', w.value, w.value, w.position
        FROM import_stage s, unnest(s.wechat) WITH ORDINALITY AS w(value, position)
        UNION ALL
        SELECT s.line, s.ok, s.external_id, 'wecom', w.value, w.value, w.position
        FROM import_stage s, unnest(s.wecom) WITH ORDINALITY AS w(value, position);

        INSERT INTO import_error (line, ok, column_name, code, value, detail)
        SELECT x.line, x.ok, x.kind, 'contact_taken', x.value,
               coalesce(o.external_id, '#' || o.id)
        FROM import_contact x
        JOIN callcenter_contactpoint p
          ON p.kind = x.kind AND p.system = '' AND p.value = x.value AND p.is_active
        JOIN callcenter_customer o ON o.id = p.customer_id
        WHERE x.kind <> 'email' AND o.external_id IS DISTINCT FROM x.external_id;

        INSERT INTO import_error (line, ok, column_name, code, value, detail)
        SELECT x.line, x.ok, x.kind, 'contact_repeated', x.value, f.first_line::text
        FROM import_contact x
        JOIN (
            SELECT kind, value, min(line) AS first_line,
                   (array_agg(external_id ORDER BY line))[1] AS first_id
            FROM import_contact WHERE kind <> 'email'
            GROUP BY kind, value HAVING count(*) > 1
        ) f ON f.kind = x.kind AND f.value = x.value
        WHERE x.line > f.first_line AND x.external_id IS DISTINCT FROM f.first_id;
        """
    )


# What changed in consent: one row per customer and channel whose opt-out the file changes
# (new customers: only opt-outs, since opted in is the default). Taken before the writes.
CONSENT_CHANGES = """
CREATE TEMP TABLE import_consent ON COMMIT DROP AS
SELECT s.external_id, c.id AS customer_id, v.channel, v.opted_out
FROM import_stage s
LEFT JOIN callcenter_customer c ON c.external_id = s.external_id
CROSS JOIN LATERAL (VALUES
    ('sms', s.sms_opt_out, c.sms_opt_out),
    ('call', s.call_opt_out, c.call_opt_out),
    ('email', s.email_opt_out, c.email_opt_out),
    ('all', s.do_not_contact, c.do_not_contact),
    ('wechat', s.wechat_opt_out, c.wechat_opt_out),
    ('wecom', s.wecom_opt_out, c.wecom_opt_out)
) AS v(channel, opted_out, current)
WHERE v.opted_out IS NOT NULL AND v.opted_out IS DISTINCT FROM coalesce(v.current, false)
"""

# Existing customers: every non-empty cell replaces the stored value; rows that would not
# change are left alone (so they are not counted as updated).
UPDATE_EXISTING = """
WITH updated AS (
    UPDATE callcenter_customer c SET
        name = coalesce(s.name, c.name),
        kind = coalesce(s.kind, c.kind),
        company_name = coalesce(s.company_name, c.company_name),
        industry = coalesce(s.industry, c.industry),
        employee_count = coalesce(s.employee_count, c.employee_count),
        birthday = coalesce(s.birthday, c.birthday),
        gender = coalesce(s.gender, c.gender),
        city = coalesce(s.city, c.city),
        region = coalesce(s.region, c.region),
        timezone = coalesce(s.timezone, c.timezone),
        language = coalesce(s.language, c.language),
        sms_opt_out = coalesce(s.sms_opt_out, c.sms_opt_out),
        call_opt_out = coalesce(s.call_opt_out, c.call_opt_out),
        email_opt_out = coalesce(s.email_opt_out, c.email_opt_out),
        do_not_contact = coalesce(s.do_not_contact, c.do_not_contact),
        wechat_opt_out = coalesce(s.wechat_opt_out, c.wechat_opt_out),
        wecom_opt_out = coalesce(s.wecom_opt_out, c.wecom_opt_out),
        attributes = c.attributes || coalesce(s.attributes, '{}'::jsonb),
        updated_at = %(now)s
    FROM import_stage s
    WHERE c.external_id = s.external_id AND c.status = 'active'
      AND (c.name, c.kind, c.company_name, c.industry, c.employee_count, c.birthday, c.city,
           c.region, c.timezone, c.language, c.sms_opt_out, c.call_opt_out, c.email_opt_out,
           c.do_not_contact, c.wechat_opt_out, c.wecom_opt_out, c.attributes, c.gender)
          IS DISTINCT FROM
          (coalesce(s.name, c.name), coalesce(s.kind, c.kind),
           coalesce(s.company_name, c.company_name), coalesce(s.industry, c.industry),
           coalesce(s.employee_count, c.employee_count), coalesce(s.birthday, c.birthday),
           coalesce(s.city, c.city), coalesce(s.region, c.region),
           coalesce(s.timezone, c.timezone), coalesce(s.language, c.language),
           coalesce(s.sms_opt_out, c.sms_opt_out), coalesce(s.call_opt_out, c.call_opt_out),
           coalesce(s.email_opt_out, c.email_opt_out),
           coalesce(s.do_not_contact, c.do_not_contact),
           coalesce(s.wechat_opt_out, c.wechat_opt_out),
           coalesce(s.wecom_opt_out, c.wecom_opt_out),
           c.attributes || coalesce(s.attributes, '{}'::jsonb), coalesce(s.gender, c.gender))
    RETURNING c.id
)
INSERT INTO import_changed (id) SELECT id FROM updated
"""

INSERT_NEW = """
INSERT INTO callcenter_customer (
    created_at, updated_at, external_id, kind, status, name, company_name, industry,
    employee_count, birthday, city, region, timezone, language, sms_opt_out, call_opt_out,
    email_opt_out, do_not_contact, consent_updated_at, consent_source, attributes,
    wechat_opt_out, wecom_opt_out, gender)
SELECT %(now)s, %(now)s, s.external_id, coalesce(s.kind, 'person'), 'active', s.name,
       coalesce(s.company_name, ''), coalesce(s.industry, ''), s.employee_count, s.birthday,
       coalesce(s.city, ''), coalesce(s.region, ''), coalesce(s.timezone, %(time_zone)s),
       coalesce(s.language, %(language)s), coalesce(s.sms_opt_out, false),
       coalesce(s.call_opt_out, false), coalesce(s.email_opt_out, false),
       coalesce(s.do_not_contact, false), NULL, '', coalesce(s.attributes, '{}'::jsonb),
       coalesce(s.wechat_opt_out, false), coalesce(s.wecom_opt_out, false),
       coalesce(s.gender, '')
FROM import_stage s
WHERE NOT EXISTS (SELECT 1 FROM callcenter_customer c WHERE c.external_id = s.external_id)
ORDER BY s.line
"""

RECORD_CONSENT = """
INSERT INTO callcenter_consentchange
    (customer_id, channel, opted_out, source, changed_by_id, changed_at, note)
SELECT c.id, x.channel, x.opted_out, %(source)s, %(user_id)s, %(now)s, %(note)s
FROM import_consent x
JOIN callcenter_customer c ON c.external_id = x.external_id
"""

STAMP_CONSENT = """
UPDATE callcenter_customer c
SET consent_updated_at = %(now)s, consent_source = %(source)s
WHERE c.external_id IN (SELECT external_id FROM import_consent)
"""

# Account links, after the new customers exist (an account may be new in the same file): a
# contact joins the named account with the role given, else keeps its role (`other` when it
# had none); a role alone changes the role on the stored account.
LINK_ACCOUNTS = """
WITH linked AS (
    UPDATE callcenter_customer c SET
        account_id = coalesce(a.id, c.account_id),
        account_role = coalesce(s.account_role, nullif(c.account_role, ''), %(other_role)s),
        updated_at = %(now)s
    FROM import_stage s
    LEFT JOIN callcenter_customer a ON a.external_id = s.account_external_id
    WHERE c.external_id = s.external_id AND c.status = 'active'
      AND (s.account_external_id IS NOT NULL OR s.account_role IS NOT NULL)
      AND (c.account_id, c.account_role) IS DISTINCT FROM
          (coalesce(a.id, c.account_id),
           coalesce(s.account_role, nullif(c.account_role, ''), %(other_role)s))
    RETURNING c.id
)
INSERT INTO import_changed (id) SELECT id FROM linked
"""

# Contact points are added; one given up earlier (inactive) is taken back into use. The first
# value of a cell becomes primary when the customer has no primary one of that kind yet.
UPSERT_CONTACTS = """
WITH written AS (
    INSERT INTO callcenter_contactpoint (
        created_at, updated_at, customer_id, kind, system, value, raw_value, label,
        is_primary, is_active)
    SELECT %(now)s, %(now)s, c.id, x.kind, '', x.value, left(x.raw, 254), '',
           x.position = 1 AND NOT EXISTS (
               SELECT 1 FROM callcenter_contactpoint p
               WHERE p.customer_id = c.id AND p.kind = x.kind AND p.is_active AND p.is_primary
           ),
           true
    FROM import_contact x
    JOIN callcenter_customer c ON c.external_id = x.external_id
    ON CONFLICT (customer_id, kind, system, value) DO UPDATE
        SET is_active = true, updated_at = EXCLUDED.updated_at
        WHERE NOT callcenter_contactpoint.is_active
    RETURNING customer_id
)
INSERT INTO import_changed (id) SELECT customer_id FROM written
"""


def write(cur: Cursor, ctx: ImportContext) -> tuple[int, int]:
    """Upsert customers, their contact points and consent history; (created, updated)."""
    params: dict[str, Any] = {
        "now": ctx.now,
        "time_zone": settings.TIME_ZONE,
        "language": Language.ZH_HANS.value,
        "source": ConsentSource.IMPORT.value,
        "user_id": ctx.user_id,
        "note": f"CSV import: {ctx.file_name}"[:255],
        "other_role": AccountRole.OTHER.value,
    }
    cur.execute(CONSENT_CHANGES)
    cur.execute("CREATE TEMP TABLE import_changed (id bigint) ON COMMIT DROP")
    cur.execute(UPDATE_EXISTING, params)
    created = record_created(cur, INSERT_NEW, params, customer_column="id")
    cur.execute(RECORD_CONSENT, params)
    cur.execute(STAMP_CONSENT, params)
    cur.execute(UPSERT_CONTACTS, params)
    cur.execute(LINK_ACCOUNTS, params)
    cur.execute(
        "SELECT count(DISTINCT ch.id) FROM import_changed ch "
        "WHERE NOT EXISTS (SELECT 1 FROM import_created c WHERE c.id = ch.id)"
    )
    row = cur.fetchone()
    assert row is not None  # an aggregate's one row
    updated = row[0]
    return created, updated


def _created_event(row: Sequence[Any]) -> list[DomainEvent]:
    return [DomainEvent(type=CUSTOMER_CREATED, customer_id=row[0])]


def _consent_event(row: Sequence[Any]) -> list[DomainEvent]:
    customer_id, channel, opted_out = row
    return [
        DomainEvent(
            type=CONSENT_CHANGED,
            customer_id=customer_id,
            payload={
                "channel": channel,
                "opted_out": opted_out,
                "source": ConsentSource.IMPORT.value,
            },
        )
    ]


def announce(conn: Connection, ctx: ImportContext) -> None:
    """customer_created for new customers; consent_changed for existing customers."""
    emit_batches(conn, "SELECT id FROM import_created ORDER BY id", {}, _created_event)
    emit_batches(
        conn,
        "SELECT customer_id, channel, opted_out FROM import_consent "
        "WHERE customer_id IS NOT NULL ORDER BY customer_id, channel",
        {},
        _consent_event,
    )


CUSTOMERS = KindSpec(
    kind=ImportKind.CUSTOMERS,
    columns=COLUMNS,
    check=check,
    write=write,
    announce=announce,
    attributes_field="attributes",
)
