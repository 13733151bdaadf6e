from django.apps import AppConfig
from django.core import checks
from django.utils.translation import gettext_lazy as _


class OutreachConfig(AppConfig):
    name = "outreach"
    verbose_name = _("Outreach")

    def ready(self) -> None:
        from outreach.checks import outreach_backends_check, outreach_webhook_secret_check

        checks.register(outreach_backends_check, checks.Tags.compatibility)
        checks.register(outreach_webhook_secret_check, checks.Tags.security, deploy=True)

        # What outreach does for care: carries out its plans, keeps the queues its steps and
        # playbook name, feeds its reports and runs in its tick.
        from outreach.parts import care_plans, care_playbook, care_queues, care_reports, care_tick

        for part in (care_plans, care_playbook, care_queues, care_reports, care_tick):
            part.register()
