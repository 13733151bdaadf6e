"""Next best actions: the desk's "what to do" as rules admins edit (segments.next_best_actions),
with the defaults installed in English (their texts show translated while unchanged).

Named 0014: the reachability tables take 0013 on another branch; the lead re-points the
dependency at merge.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.utils import translation


def install_defaults(apps, schema_editor):
    from segments.defaults import DEFAULT_NEXT_BEST_ACTIONS

    action = apps.get_model("segments", "NextBestAction")
    with translation.override("en"):
        for entry in DEFAULT_NEXT_BEST_ACTIONS:
            action.objects.get_or_create(
                key=entry["key"],
                defaults={
                    "name": str(entry["name"]),
                    "position": entry["position"],
                    "condition": entry["condition"],
                    "action_text": str(entry["action_text"]),
                    "reason_text": str(entry["reason_text"]),
                    "channel": entry["channel"],
                },
            )


class Migration(migrations.Migration):
    dependencies = [
        ("segments", "0013_customer_reach"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="NextBestAction",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "created_at",
                    models.DateTimeField(
                        auto_now_add=True, db_index=True, verbose_name="created at"
                    ),
                ),
                ("updated_at", models.DateTimeField(auto_now=True, verbose_name="updated at")),
                (
                    "key",
                    models.SlugField(
                        blank=True,
                        help_text="For the installed defaults: which one (their texts show translated).",
                        max_length=40,
                        verbose_name="key",
                    ),
                ),
                ("name", models.CharField(max_length=120, verbose_name="name")),
                (
                    "position",
                    models.PositiveIntegerField(
                        default=100,
                        help_text="Lower positions are tried first.",
                        verbose_name="position",
                    ),
                ),
                ("is_active", models.BooleanField(default=True, verbose_name="active")),
                ("condition", models.JSONField(verbose_name="condition")),
                ("action_text", models.CharField(max_length=300, verbose_name="action")),
                (
                    "reason_text",
                    models.CharField(blank=True, max_length=300, verbose_name="reason"),
                ),
                (
                    "channel",
                    models.CharField(
                        blank=True,
                        choices=[
                            ("call", "Call"),
                            ("sms", "SMS"),
                            ("email", "Email"),
                            ("chat", "Chat"),
                            ("wechat", "WeChat"),
                            ("ivr", "IVR"),
                        ],
                        max_length=16,
                        verbose_name="suggested channel",
                    ),
                ),
                (
                    "created_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="created by",
                    ),
                ),
            ],
            options={
                "verbose_name": "next best action",
                "verbose_name_plural": "next best actions",
                "ordering": ("position", "pk"),
                "constraints": [
                    models.UniqueConstraint(
                        condition=models.Q(("key", ""), _negated=True),
                        fields=("key",),
                        name="next_best_action_default_once",
                    )
                ],
            },
        ),
        migrations.RunPython(install_defaults, migrations.RunPython.noop),
    ]
