"""The "threshold crossed" trigger: a new event type and the per rule and customer state that
makes it fire once per crossing."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('callcenter', '0006_calendar_days'),
        ('care', '0007_holiday_trigger'),
    ]

    operations = [
        migrations.AlterField(
            model_name='carerule',
            name='trigger_type',
            field=models.CharField(choices=[('ticket_opened', 'Ticket opened'), ('ticket_resolved', 'Ticket resolved'), ('first_order', 'First order'), ('order_placed', 'Order placed'), ('order_refunded', 'Order refunded'), ('survey_submitted', 'Survey answered'), ('interaction_logged', 'Interaction logged'), ('consent_changed', 'Consent changed'), ('customer_created', 'Customer created'), ('segment_entered', 'Segment entered'), ('segment_exited', 'Segment exited'), ('birthday', 'Birthday'), ('anniversary', 'Membership anniversary'), ('inactivity', 'No order for N days'), ('monthly', 'First day of the month'), ('date_reached', 'Date reached'), ('holiday', 'Holiday'), ('threshold_crossed', 'Threshold crossed'), ('customer_replied', 'Customer replied'), ('call_result', 'Automated call result'), ('external', 'External event')], max_length=32, verbose_name='trigger'),
        ),
        migrations.AlterField(
            model_name='event',
            name='type',
            field=models.CharField(choices=[('ticket_opened', 'Ticket opened'), ('ticket_resolved', 'Ticket resolved'), ('first_order', 'First order'), ('order_placed', 'Order placed'), ('order_refunded', 'Order refunded'), ('survey_submitted', 'Survey answered'), ('interaction_logged', 'Interaction logged'), ('consent_changed', 'Consent changed'), ('customer_created', 'Customer created'), ('segment_entered', 'Segment entered'), ('segment_exited', 'Segment exited'), ('birthday', 'Birthday'), ('anniversary', 'Membership anniversary'), ('inactivity', 'No order for N days'), ('monthly', 'First day of the month'), ('date_reached', 'Date reached'), ('holiday', 'Holiday'), ('threshold_crossed', 'Threshold crossed'), ('customer_replied', 'Customer replied'), ('call_result', 'Automated call result'), ('external', 'External event')], max_length=32, verbose_name='type'),
        ),
        migrations.CreateModel(
            name='ThresholdState',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('is_over', models.BooleanField(verbose_name='past the threshold')),
                ('crossings', models.PositiveIntegerField(default=0, verbose_name='crossings')),
                ('changed_at', models.DateTimeField(verbose_name='changed at')),
                ('customer', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='callcenter.customer', verbose_name='customer')),
                ('rule', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='care.carerule', verbose_name='rule')),
            ],
            options={
                'verbose_name': 'threshold state',
                'verbose_name_plural': 'threshold states',
                'constraints': [models.UniqueConstraint(fields=('rule', 'customer'), name='threshold_state_once')],
            },
        ),
    ]
