"""Customers' buying habits and service history (segments.services.behaviour).

The usual hour and weekday of a customer's orders are counted in their own time zone, so the
customer trigger (0004, 0009) now also logs a customer whose `timezone` changes; the refresh
recomputes them. The lead re-points the dependency at 0011 (the value model's) at merge.
"""

import django.core.validators
import django.db.models.deletion
from importlib import import_module

from django.db import migrations, models

# Undoing this migration restores 0009's trigger function.
MARK_ACCOUNTS = import_module("segments.migrations.0009_dirty_account_links").MARK_ACCOUNTS


MARK_TIMEZONE = """
CREATE OR REPLACE FUNCTION segments_mark_customer_dirty() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO segments_dirtycustomer (customer_id)
            SELECT id FROM new_rows
            UNION SELECT account_id FROM new_rows WHERE account_id IS NOT NULL;
    ELSE
        INSERT INTO segments_dirtycustomer (customer_id)
            SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id
            WHERE n.status IS DISTINCT FROM o.status OR n.kind IS DISTINCT FROM o.kind
               OR n.account_id IS DISTINCT FROM o.account_id
               OR n.timezone IS DISTINCT FROM o.timezone
            UNION
            SELECT a.account_id FROM new_rows n JOIN old_rows o ON o.id = n.id,
                   LATERAL (VALUES (n.account_id), (o.account_id)) AS a (account_id)
            WHERE n.account_id IS DISTINCT FROM o.account_id AND a.account_id IS NOT NULL;
    END IF;
    RETURN NULL;
END $$;
"""


class Migration(migrations.Migration):

    dependencies = [
        ('callcenter', '0011_customer_gender'),
        ('segments', '0011_potential_segments'),
    ]

    operations = [
        migrations.CreateModel(
            name='CustomerBehaviour',
            fields=[
                ('customer', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='behaviour', serialize=False, to='callcenter.customer', verbose_name='customer')),
                ('top_category', models.CharField(blank=True, max_length=100, verbose_name='top category')),
                ('top_category_share', models.FloatField(null=True, verbose_name="top category's share of spend")),
                ('category_shares', models.JSONField(default=dict, help_text='The top categories by spend and their share of all spend, 0 to 1.', verbose_name='spend share by category')),
                ('categories_count', models.IntegerField(default=0, verbose_name='categories bought')),
                ('repeat_category_share', models.FloatField(help_text='Share of orders in a category the customer had bought before.', null=True, verbose_name='repeat category share')),
                ('preferred_channel', models.CharField(blank=True, max_length=50, verbose_name='preferred channel')),
                ('preferred_channel_share', models.FloatField(null=True, verbose_name="preferred channel's share of orders")),
                ('usual_hour', models.SmallIntegerField(help_text="The hour of day most orders were placed, in the customer's time zone.", null=True, validators=[django.core.validators.MinValueValidator(0), django.core.validators.MaxValueValidator(23)], verbose_name='usual hour')),
                ('usual_weekday', models.SmallIntegerField(help_text="ISO weekday (1 Monday ... 7 Sunday), in the customer's time zone.", null=True, validators=[django.core.validators.MinValueValidator(1), django.core.validators.MaxValueValidator(7)], verbose_name='usual weekday')),
                ('median_gap_days', models.FloatField(help_text='Empty below two orders.', null=True, verbose_name='median days between orders')),
                ('tickets_inquiry_90d', models.IntegerField(default=0, verbose_name='inquiries in 90 days')),
                ('tickets_complaint_90d', models.IntegerField(default=0, verbose_name='complaints in 90 days')),
                ('tickets_suggestion_90d', models.IntegerField(default=0, verbose_name='suggestions in 90 days')),
                ('open_tickets', models.IntegerField(default=0, verbose_name='open tickets')),
                ('last_csat', models.SmallIntegerField(null=True, verbose_name='last CSAT')),
                ('refreshed_at', models.DateTimeField(verbose_name='last changed')),
            ],
            options={
                'verbose_name': 'customer buying habits',
                'verbose_name_plural': "customers' buying habits",
                'constraints': [models.CheckConstraint(condition=models.Q(models.Q(('usual_hour__isnull', True), models.Q(('usual_hour__gte', 0), ('usual_hour__lte', 23)), _connector='OR'), models.Q(('usual_weekday__isnull', True), models.Q(('usual_weekday__gte', 1), ('usual_weekday__lte', 7)), _connector='OR')), name='behaviour_hour_weekday_range')],
            },
        ),
        migrations.RunSQL(MARK_TIMEZONE, MARK_ACCOUNTS),
    ]
