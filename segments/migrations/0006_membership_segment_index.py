"""Drop the membership table's own index on segment_id: membership_segment_time leads with the
segment, and every index is written for each entry and exit of a refresh.

Only the index goes; Django's AlterField would also drop and re-add the foreign key, which
re-validates every membership row under a lock.
"""

import django.db.models.deletion
from django.db import migrations, models

INDEX = "segments_segmentmembership_segment_id_ee6ebe02"


class Migration(migrations.Migration):
    dependencies = [
        ("segments", "0005_cluster_centres"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="segmentmembership",
                    name="segment",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="memberships",
                        to="segments.segment",
                        verbose_name="segment",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{INDEX}"',
                    reverse_sql=f'CREATE INDEX "{INDEX}" ON "segments_segmentmembership" '
                    '("segment_id")',
                ),
            ],
        ),
    ]
