from django.apps import AppConfig
from django.contrib.auth import get_user_model
from django.core import checks
from django.db.backends.signals import connection_created
from django.db.models.signals import post_migrate, post_save
from django.utils.translation import gettext_lazy as _


def _install_periodic_tasks(sender: AppConfig, **kwargs: object) -> None:
    """Keep the beat schedule rows in step with callcenter.schedules after every migrate."""
    from callcenter.schedules import periodic_tasks_install

    periodic_tasks_install()


class CallcenterConfig(AppConfig):
    name = "callcenter"
    verbose_name = _("Customers")

    def ready(self) -> None:
        from django.contrib.auth.signals import user_login_failed

        from callcenter.auth_backends import login_failure_count
        from callcenter.checks import (
            integration_secrets_distinct_check,
            retired_webhook_secret_check,
            webhook_throttle_rate_check,
        )
        from callcenter.db_connections import connection_expiry_spread
        from callcenter.receivers import api_tokens_end_with_password

        checks.register(retired_webhook_secret_check, checks.Tags.security)
        checks.register(webhook_throttle_rate_check, checks.Tags.security)
        checks.register(integration_secrets_distinct_check, checks.Tags.security, deploy=True)

        post_migrate.connect(_install_periodic_tasks, sender=self, dispatch_uid="crm-schedules")
        connection_created.connect(connection_expiry_spread, dispatch_uid="crm-connection-expiry")
        # Failed logins count against their client address (the login throttle).
        user_login_failed.connect(login_failure_count, dispatch_uid="crm-login-failure-count")
        post_save.connect(
            api_tokens_end_with_password,
            sender=get_user_model(),
            dispatch_uid="crm-tokens-end-with-password",
        )
