"""Idempotency keys of events are unique per client (the user or integration that posted the
event), not across all clients. Events recorded before keep an empty client: the product's own
keys ("birthday:...", "segment_entered:...") stay what they were, and keys posted through the
API before this change keep their old "api:" prefix, so they collide with no new key."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('care', '0003_callable_time_defaults'),
    ]

    operations = [
        migrations.AddField(
            model_name='event',
            name='client',
            field=models.CharField(blank=True, db_default='', default='', help_text='Whose idempotency key this is: user:<id> or integration:<name> for events posted to the API, empty for the events this product records itself.', max_length=64, verbose_name='client'),
        ),
        migrations.AlterField(
            model_name='event',
            name='idempotency_key',
            field=models.CharField(blank=True, max_length=128, null=True, verbose_name='idempotency key'),
        ),
        migrations.AddConstraint(
            model_name='event',
            constraint=models.UniqueConstraint(fields=('client', 'idempotency_key'), name='event_client_idempotency_key'),
        ),
    ]
