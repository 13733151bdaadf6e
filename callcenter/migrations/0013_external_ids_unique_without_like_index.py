"""External ids of orders, interactions, tickets and surveys: unique by a named constraint,
without the `varchar_pattern_ops` index Django adds beside `unique=True` on a text field
(`callcenter.models.activity.external_id_unique`).

In the database the existing unique constraint is renamed and the pattern index dropped: no
index is rebuilt, so the upgrade takes no time on ten million orders. The unique constraint's
name is looked up (Django named it when the table was created or the field last altered).
"""

from django.db import migrations, models

TABLES = {
    "order": "callcenter_order",
    "interaction": "callcenter_interaction",
    "surveyresponse": "callcenter_surveyresponse",
    "ticket": "callcenter_ticket",
}

_FORWARD = """
DO $$
DECLARE
    unique_name text;
    pattern_index regclass;
BEGIN
    SELECT c.conname INTO STRICT unique_name
    FROM pg_constraint c JOIN pg_attribute a
        ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
    WHERE c.conrelid = '{table}'::regclass AND c.contype = 'u'
        AND array_length(c.conkey, 1) = 1 AND a.attname = 'external_id';
    EXECUTE format('ALTER TABLE {table} RENAME CONSTRAINT %I TO %I',
                   unique_name, '{model}_external_id_unique');
    FOR pattern_index IN
        SELECT i.indexrelid::regclass
        FROM pg_index i
        JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
        JOIN pg_opclass o ON o.oid = i.indclass[0]
        WHERE i.indrelid = '{table}'::regclass AND i.indnatts = 1
            AND a.attname = 'external_id' AND o.opcname = 'varchar_pattern_ops'
    LOOP
        EXECUTE format('DROP INDEX %s', pattern_index);
    END LOOP;
END $$;
"""

_BACKWARD = """
ALTER TABLE {table} RENAME CONSTRAINT {model}_external_id_unique TO {table}_external_id_key;
CREATE INDEX {table}_external_id_like ON {table} (external_id varchar_pattern_ops);
"""


def _field(*, nullable: bool) -> models.CharField:
    if nullable:
        return models.CharField(blank=True, max_length=64, null=True, verbose_name="external id")
    return models.CharField(max_length=64, verbose_name="external id")


class Migration(migrations.Migration):
    dependencies = [
        ("callcenter", "0012_order_rollup_category_channel"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                operation
                for model in TABLES
                for operation in (
                    migrations.AlterField(
                        model_name=model,
                        name="external_id",
                        field=_field(nullable=model != "order"),
                    ),
                    migrations.AddConstraint(
                        model_name=model,
                        constraint=models.UniqueConstraint(
                            fields=("external_id",), name=f"{model}_external_id_unique"
                        ),
                    ),
                )
            ],
            database_operations=[
                migrations.RunSQL(
                    _FORWARD.format(model=model, table=table),
                    _BACKWARD.format(model=model, table=table),
                )
                for model, table in TABLES.items()
            ],
        ),
    ]
