"""Drop the customer metrics index on (R score, F score).

A nightly refresh changes the R or F score of a large share of the rows it updates; each such
update wrote a new entry in every index of the table instead of staying on its page as a
heap-only update. The only reader, the RFM grid's cell page, lists 1 in 25 customers, spread
over so many of the table's pages that a scan costs it about what the index saved
(docs/performance.md, the write-back). Dropped concurrently, so screen-pops and pages keep
reading the table meanwhile.
"""

from django.contrib.postgres.operations import RemoveIndexConcurrently
from django.db import migrations


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("segments", "0017_membership_run_indexes"),
    ]

    operations = [RemoveIndexConcurrently(model_name="customermetrics", name="metrics_rf")]
