"""Orders' covering index `order_customer_rollup` also carries category and channel.

The refresh's buying habits (segments.services.behaviour) read each recomputed customer's
orders through this index; without the two columns every order cost a heap page (the nightly
pass's main cost). The index is rebuilt under another name concurrently, the old one dropped
concurrently and the new one renamed (a rename takes a brief SHARE UPDATE EXCLUSIVE lock):
orders can be written throughout, and there is always one index for the screen-pop and the
refresh to use.
"""

from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("callcenter", "0011_customer_gender"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="order",
            index=models.Index(
                fields=["customer", "-placed_at"],
                include=["status", "amount", "category", "channel"],
                name="order_customer_rollup_new",
            ),
        ),
        RemoveIndexConcurrently(model_name="order", name="order_customer_rollup"),
        migrations.RenameIndex(
            model_name="order",
            new_name="order_customer_rollup",
            old_name="order_customer_rollup_new",
        ),
    ]
