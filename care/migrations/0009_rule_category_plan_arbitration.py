"""Rule categories and plan arbitration: a category per rule, the held status and the plan that
outranked an enrollment.

Existing rules get a category from what they are: the playbook's by their key (the same
categories as care/playbook/rules.py), a rule about a complaint (triggered by a ticket, or with
a service step) `service`, any other `marketing` (the default for new rules). Set-based: one
UPDATE per category.
"""

import django.db.models.deletion
from django.db import migrations, models

PLAYBOOK_CATEGORIES = {
    "complaint-opened": "service",
    "complaint-resolved": "service",
    "negative-call-sentiment": "service",
    "nps-detractor": "service",
    "churn-risk-high-value": "retention",
    "business-first-order": "retention",
    "first-order": "retention",
    "dormant-wake-up": "retention",
    "nps-promoter": "marketing",
    "birthday": "marketing",
    "business-monthly-report": "marketing",
}


def categories_backfill(apps, schema_editor):
    CareRule = apps.get_model("care", "CareRule")
    CareStep = apps.get_model("care", "CareStep")
    rules = CareRule.objects.filter(playbook_key="")
    rules.filter(
        models.Q(trigger_type__in=["ticket_opened", "ticket_resolved"])
        | models.Q(pk__in=CareStep.objects.filter(touch_kind="service").values("rule_id"))
    ).update(category="service")
    for category in sorted(set(PLAYBOOK_CATEGORIES.values())):
        keys = [key for key, value in PLAYBOOK_CATEGORIES.items() if value == category]
        CareRule.objects.filter(playbook_key__in=keys).update(category=category)


class Migration(migrations.Migration):

    dependencies = [
        ('care', '0008_threshold_trigger'),
    ]

    operations = [
        migrations.AddField(
            model_name='carerule',
            name='category',
            field=models.CharField(choices=[('service', 'Service'), ('retention', 'Retention'), ('marketing', 'Marketing'), ('collections', 'Collections')], default='marketing', help_text='A customer is in at most one plan of a category at a time (the higher priority wins); service plans never compete.', max_length=16, verbose_name='category'),
        ),
        migrations.AddField(
            model_name='enrollment',
            name='outranked_by',
            field=models.ForeignKey(blank=True, help_text='The plan of the same category that preempted or held back this one.', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='care.enrollment', verbose_name='outranked by'),
        ),
        migrations.AlterField(
            model_name='carerule',
            name='priority',
            field=models.SmallIntegerField(default=0, help_text='Higher wins within a category (-1000 to 1000).', verbose_name='priority'),
        ),
        migrations.AlterField(
            model_name='enrollment',
            name='status',
            field=models.CharField(choices=[('active', 'Active'), ('completed', 'Completed'), ('stopped', 'Stopped'), ('held', 'Held back')], default='active', max_length=16, verbose_name='status'),
        ),
        migrations.RunPython(categories_backfill, migrations.RunPython.noop),
    ]
