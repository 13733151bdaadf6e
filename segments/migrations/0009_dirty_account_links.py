"""A change of a customer's business account marks the accounts dirty.

An account's metrics roll up its contacts' history (segments.services.metrics), so a contact
joining or leaving changes both the old and the new account's figures. The customer trigger of
0004 now also logs both accounts when `account_id` changes (and, as before, the customer when
its status or kind changes; the refresh adds a dirty contact's account itself).
"""

from django.db import migrations

MARK_ACCOUNTS = """
CREATE OR REPLACE FUNCTION segments_mark_customer_dirty() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO segments_dirtycustomer (customer_id)
            SELECT id FROM new_rows
            UNION SELECT account_id FROM new_rows WHERE account_id IS NOT NULL;
    ELSE
        INSERT INTO segments_dirtycustomer (customer_id)
            SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id
            WHERE n.status IS DISTINCT FROM o.status OR n.kind IS DISTINCT FROM o.kind
               OR n.account_id IS DISTINCT FROM o.account_id
            UNION
            SELECT a.account_id FROM new_rows n JOIN old_rows o ON o.id = n.id,
                   LATERAL (VALUES (n.account_id), (o.account_id)) AS a (account_id)
            WHERE n.account_id IS DISTINCT FROM o.account_id AND a.account_id IS NOT NULL;
    END IF;
    RETURN NULL;
END $$;
"""

MARK_STATUS_AND_KIND = """
CREATE OR REPLACE FUNCTION segments_mark_customer_dirty() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO segments_dirtycustomer (customer_id) SELECT id FROM new_rows;
    ELSE
        INSERT INTO segments_dirtycustomer (customer_id)
            SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id
            WHERE n.status IS DISTINCT FROM o.status OR n.kind IS DISTINCT FROM o.kind;
    END IF;
    RETURN NULL;
END $$;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("segments", "0008_refreshrun_succeeded_latest_index"),
        ("callcenter", "0009_service_contract"),
    ]

    operations = [migrations.RunSQL(MARK_ACCOUNTS, MARK_STATUS_AND_KIND)]
