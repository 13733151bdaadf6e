from django.apps import AppConfig
from django.core import checks
from django.utils.translation import gettext_lazy as _


class OutreachConfig(AppConfig):
    name = "outreach"
    verbose_name = _("Outreach")

    def ready(self) -> None:
        from outreach.checks import outreach_backends_check, outreach_webhook_secret_check
        from outreach.parts import customer_page, desk, subject_data, user_form

        checks.register(outreach_backends_check, checks.Tags.compatibility)
        checks.register(outreach_webhook_secret_check, checks.Tags.security, deploy=True)
        for part in (customer_page, desk, subject_data, user_form):
            part.register()
