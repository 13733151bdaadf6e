"""The changed-customers log and the triggers that fill it.

Statement-level triggers with transition tables: one INSERT ... SELECT per statement, however
many rows it wrote (COPY imports and merges included). A trigger with transition tables serves
one event only, hence three per history table.
"""

from django.db import migrations, models

HISTORY_TABLES = (
    "callcenter_order",
    "callcenter_interaction",
    "callcenter_ticket",
    "callcenter_surveyresponse",
)
EVENTS = {
    "INSERT": "NEW TABLE AS new_rows",
    "UPDATE": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "DELETE": "OLD TABLE AS old_rows",
}

FUNCTIONS = """
CREATE FUNCTION segments_mark_history_dirty() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO segments_dirtycustomer (customer_id)
            SELECT DISTINCT customer_id FROM new_rows;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO segments_dirtycustomer (customer_id)
            SELECT customer_id FROM new_rows UNION SELECT customer_id FROM old_rows;
    ELSE
        INSERT INTO segments_dirtycustomer (customer_id)
            SELECT DISTINCT customer_id FROM old_rows;
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION segments_mark_customer_dirty() RETURNS trigger LANGUAGE plpgsql AS $$
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


def _trigger(table: str, event: str, function: str) -> str:
    return (
        f"CREATE TRIGGER segments_dirty_{event.lower()} AFTER {event} ON {table} "
        f"REFERENCING {EVENTS[event]} FOR EACH STATEMENT EXECUTE FUNCTION {function}();"
    )


CREATE = "\n".join(
    [
        FUNCTIONS,
        *(
            _trigger(table, event, "segments_mark_history_dirty")
            for table in HISTORY_TABLES
            for event in EVENTS
        ),
        *(
            _trigger("callcenter_customer", event, "segments_mark_customer_dirty")
            for event in ("INSERT", "UPDATE")
        ),
    ]
)
DROP = "\n".join(
    [
        *(
            f"DROP TRIGGER IF EXISTS segments_dirty_{event.lower()} ON {table};"
            for table in (*HISTORY_TABLES, "callcenter_customer")
            for event in EVENTS
        ),
        "DROP FUNCTION IF EXISTS segments_mark_history_dirty();",
        "DROP FUNCTION IF EXISTS segments_mark_customer_dirty();",
    ]
)


class Migration(migrations.Migration):
    dependencies = [
        ("segments", "0003_metrics_derived_days"),
        ("callcenter", "0003_agentprofile"),
    ]

    operations = [
        migrations.CreateModel(
            name="DirtyCustomer",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("customer_id", models.BigIntegerField(verbose_name="customer id")),
            ],
            options={
                "verbose_name": "changed customer",
                "verbose_name_plural": "changed customers",
            },
        ),
        migrations.RunSQL(CREATE, DROP),
    ]
