"""One index of memberships by customer, (customer_id, exited_at), instead of two: the foreign
key's index of all of them and a partial one of the open ones. A customer's open memberships are
its `exited_at IS NULL` range; each entry of a refresh writes one index fewer.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("callcenter", "0012_order_rollup_category_channel"),
        ("segments", "0019_metrics_clock_edges"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="segmentmembership",
            name="membership_open_by_customer",
        ),
        migrations.AlterField(
            model_name="segmentmembership",
            name="customer",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="segment_memberships",
                to="callcenter.customer",
                verbose_name="customer",
            ),
        ),
        migrations.AddIndex(
            model_name="segmentmembership",
            index=models.Index(fields=["customer", "exited_at"], name="membership_by_customer"),
        ),
    ]
