"""The metrics rows know when the clock alone next changes them (`orders_edge_at`,
`contacts_edge_at`): an incremental refresh re-aggregates the rows whose moment has come
instead of searching every order and contact for rows that crossed a window edge.

Rows stored before this migration get a moment in the past, so the first refresh after it finds
them all due and aggregates everybody, which computes the real moments.
"""

from django.db import migrations, models

_PAST = "UPDATE segments_customermetrics SET orders_edge_at = '2000-01-01T00:00:00Z'"


class Migration(migrations.Migration):
    dependencies = [
        ("segments", "0018_metrics_without_rf_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="customermetrics",
            name="orders_edge_at",
            field=models.DateTimeField(null=True, verbose_name="next change by the clock, orders"),
        ),
        migrations.AddField(
            model_name="customermetrics",
            name="contacts_edge_at",
            field=models.DateTimeField(
                null=True, verbose_name="next change by the clock, contacts and surveys"
            ),
        ),
        migrations.RunSQL(_PAST, migrations.RunSQL.noop),
    ]
