"""Reachability and receptiveness (segments.CustomerReach), declared here and filled by outreach
(outreach.services.reach), with the moment of its last pass (ReachRefreshState); the capacity
priority "touch_value" (expected value of a touch)."""

import django.core.validators
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('callcenter', '0011_customer_gender'),
        ('segments', '0012_customer_behaviour'),
    ]

    operations = [
        migrations.CreateModel(
            name='ReachRefreshState',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('ran_at', models.DateTimeField(verbose_name='last run')),
            ],
            options={
                'verbose_name': 'reachability pass',
                'verbose_name_plural': 'reachability passes',
            },
        ),
        migrations.AlterField(
            model_name='segment',
            name='priority_field',
            field=models.CharField(choices=[('monetary', 'Spend in window'), ('churn_probability', 'Churn probability'), ('frequency', 'Orders in window'), ('recency_days', 'Days since last order'), ('spend_90d', 'Spend in 90 days'), ('predicted_value_365d', 'Predicted value, 365 days'), ('touch_value', 'Expected value of the touch')], default='monetary', max_length=32, verbose_name='priority'),
        ),
        migrations.CreateModel(
            name='CustomerReach',
            fields=[
                ('customer', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='reach', serialize=False, to='callcenter.customer', verbose_name='customer')),
                ('calls_attempted', models.IntegerField(null=True, verbose_name='calls attempted')),
                ('calls_answered', models.IntegerField(null=True, verbose_name='calls answered')),
                ('call_answer_share', models.FloatField(null=True, verbose_name='share of calls answered')),
                ('best_call_hour', models.SmallIntegerField(help_text="The hour of day most calls were answered, in the customer's time zone.", null=True, validators=[django.core.validators.MinValueValidator(0), django.core.validators.MaxValueValidator(23)], verbose_name='best hour to call')),
                ('sms_sent', models.IntegerField(null=True, verbose_name='SMS sent')),
                ('sms_delivered_share', models.FloatField(null=True, verbose_name='share of SMS delivered')),
                ('email_sent', models.IntegerField(null=True, verbose_name='emails sent')),
                ('email_delivered_share', models.FloatField(null=True, verbose_name='share of emails delivered')),
                ('has_working_phone', models.BooleanField(default=False, verbose_name='has a working phone')),
                ('call_response_share', models.FloatField(null=True, verbose_name='call response share')),
                ('call_conversion_share', models.FloatField(null=True, verbose_name='call conversion share')),
                ('sms_response_share', models.FloatField(null=True, verbose_name='SMS response share')),
                ('sms_conversion_share', models.FloatField(null=True, verbose_name='SMS conversion share')),
                ('email_response_share', models.FloatField(null=True, verbose_name='email response share')),
                ('email_conversion_share', models.FloatField(null=True, verbose_name='email conversion share')),
                ('wechat_response_share', models.FloatField(null=True, verbose_name='WeChat response share')),
                ('wechat_conversion_share', models.FloatField(null=True, verbose_name='WeChat conversion share')),
                ('best_channel', models.CharField(blank=True, choices=[('call', 'Call'), ('sms', 'SMS'), ('email', 'Email')], max_length=8, verbose_name='best channel to reach')),
                ('reachability', models.FloatField(help_text="The best channel's share of calls answered or messages delivered; an opted-out channel or one without a contact point counts 0.", null=True, verbose_name='reachability')),
                ('receptiveness', models.FloatField(help_text='Share of proactive touches that got a response.', null=True, verbose_name='receptiveness')),
                ('refreshed_at', models.DateTimeField(verbose_name='last changed')),
            ],
            options={
                'verbose_name': 'customer reachability',
                'verbose_name_plural': "customers' reachability",
                'constraints': [models.CheckConstraint(condition=models.Q(('best_call_hour__isnull', True), models.Q(('best_call_hour__gte', 0), ('best_call_hour__lte', 23)), _connector='OR'), name='reach_hour_range')],
            },
        ),
    ]
