from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ServiceConfig(AppConfig):
    name = "service"
    verbose_name = _("Service levels")

    def ready(self) -> None:
        from service import parts

        parts.register_all()
