from django.apps import AppConfig
from django.core import checks
from django.utils.translation import gettext_lazy as _


class OutreachConfig(AppConfig):
    name = "outreach"
    verbose_name = _("Outreach")

    def ready(self) -> None:
        from outreach.checks import outreach_backends_check, outreach_webhook_secret_check
        from outreach.parts import subject_data as subject_data_part
        from outreach.parts import user_form as user_form_part

        checks.register(outreach_backends_check, checks.Tags.compatibility)
        checks.register(outreach_webhook_secret_check, checks.Tags.security, deploy=True)
        subject_data_part.register()
        user_form_part.register()
