"""An index of the open tasks by enrollment: the minute's enrollments_complete asks, for every
active enrollment, whether its plan has an open task. Built concurrently: the tasks table of a
busy center is large and is written all day."""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("outreach", "0001_initial"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="outreachtask",
            index=models.Index(
                condition=models.Q(("status__in", ["pending", "claimed"])),
                fields=["enrollment"],
                name="task_open_by_enrollment",
            ),
        ),
    ]
