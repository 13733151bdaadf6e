from django.apps import AppConfig
from django.db.backends.signals import connection_created
from django.db.models.signals import post_migrate
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
        from callcenter.db_connections import connection_expiry_spread

        post_migrate.connect(_install_periodic_tasks, sender=self, dispatch_uid="crm-schedules")
        connection_created.connect(connection_expiry_spread, dispatch_uid="crm-connection-expiry")
        # Failed logins count against their client address (the login throttle).
        user_login_failed.connect(login_failure_count, dispatch_uid="crm-login-failure-count")
