"""The "holiday" trigger: a new event type (choices of rules' triggers and of events)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('care', '0006_call_result_event'),
    ]

    operations = [
        migrations.AlterField(
            model_name='carerule',
            name='trigger_type',
            field=models.CharField(choices=[('ticket_opened', 'Ticket opened'), ('ticket_resolved', 'Ticket resolved'), ('first_order', 'First order'), ('order_placed', 'Order placed'), ('order_refunded', 'Order refunded'), ('survey_submitted', 'Survey answered'), ('interaction_logged', 'Interaction logged'), ('consent_changed', 'Consent changed'), ('customer_created', 'Customer created'), ('segment_entered', 'Segment entered'), ('segment_exited', 'Segment exited'), ('birthday', 'Birthday'), ('anniversary', 'Membership anniversary'), ('inactivity', 'No order for N days'), ('monthly', 'First day of the month'), ('date_reached', 'Date reached'), ('holiday', 'Holiday'), ('customer_replied', 'Customer replied'), ('call_result', 'Automated call result'), ('external', 'External event')], max_length=32, verbose_name='trigger'),
        ),
        migrations.AlterField(
            model_name='event',
            name='type',
            field=models.CharField(choices=[('ticket_opened', 'Ticket opened'), ('ticket_resolved', 'Ticket resolved'), ('first_order', 'First order'), ('order_placed', 'Order placed'), ('order_refunded', 'Order refunded'), ('survey_submitted', 'Survey answered'), ('interaction_logged', 'Interaction logged'), ('consent_changed', 'Consent changed'), ('customer_created', 'Customer created'), ('segment_entered', 'Segment entered'), ('segment_exited', 'Segment exited'), ('birthday', 'Birthday'), ('anniversary', 'Membership anniversary'), ('inactivity', 'No order for N days'), ('monthly', 'First day of the month'), ('date_reached', 'Date reached'), ('holiday', 'Holiday'), ('customer_replied', 'Customer replied'), ('call_result', 'Automated call result'), ('external', 'External event')], max_length=32, verbose_name='type'),
        ),
    ]
