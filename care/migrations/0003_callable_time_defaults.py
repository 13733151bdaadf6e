"""Care settings: the time defaults as callables (see CareSettings; a fixed time default trips
Django's check fields.W161 when it runs within seconds of that time of day). No schema change."""

import datetime
import functools

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("care", "0002_step_escalation"),
    ]

    operations = [
        migrations.AlterField(
            model_name="caresettings",
            name="business_end",
            field=models.TimeField(
                default=functools.partial(datetime.time, *(18, 0), **{}),
                verbose_name="business hours end",
            ),
        ),
        migrations.AlterField(
            model_name="caresettings",
            name="business_start",
            field=models.TimeField(
                default=functools.partial(datetime.time, *(9, 0), **{}),
                verbose_name="business hours start",
            ),
        ),
        migrations.AlterField(
            model_name="caresettings",
            name="quiet_end",
            field=models.TimeField(
                default=functools.partial(datetime.time, *(8, 0), **{}),
                verbose_name="quiet hours end",
            ),
        ),
        migrations.AlterField(
            model_name="caresettings",
            name="quiet_start",
            field=models.TimeField(
                default=functools.partial(datetime.time, *(21, 0), **{}),
                verbose_name="quiet hours start",
            ),
        ),
    ]
