from django.apps import AppConfig
from django.core import checks
from django.utils.translation import gettext_lazy as _


class OutreachConfig(AppConfig):
    name = "outreach"
    verbose_name = _("Outreach")

    def ready(self) -> None:
        from outreach.checks import (
            outreach_backends_check,
            outreach_callback_keys_check,
            outreach_tracked_link_check,
            outreach_tracked_link_deploy_check,
            outreach_voice_secret_check,
            outreach_webhook_secret_check,
            outreach_wechat_callback_check,
            outreach_wecom_callback_check,
        )
        from outreach.parts import (
            call_followups,
            care_campaigns,
            care_outcomes,
            care_plans,
            care_playbook,
            care_queues,
            care_reports,
            care_tick,
            customer_page,
            desk,
            interaction_outcomes,
            subject_data,
            ticket_routing,
            user_form,
        )

        checks.register(outreach_backends_check, checks.Tags.compatibility)
        checks.register(outreach_webhook_secret_check, checks.Tags.security, deploy=True)
        checks.register(outreach_voice_secret_check, checks.Tags.security, deploy=True)
        checks.register(outreach_wechat_callback_check, checks.Tags.security, deploy=True)
        checks.register(outreach_tracked_link_check, checks.Tags.compatibility)
        checks.register(outreach_tracked_link_deploy_check, checks.Tags.security, deploy=True)
        checks.register(outreach_wecom_callback_check, checks.Tags.security, deploy=True)
        checks.register(outreach_callback_keys_check, checks.Tags.security)
        # For care: carry out its plans and campaigns, keep the queues its steps and playbook
        # name, name the outcomes its journeys branch on, feed its reports, run in its tick. For
        # callcenter's pages: the desk, customer page, user form and subject erasure, the
        # labels of task outcomes in interactions; routing of new tickets.
        for part in (
            care_campaigns,
            care_outcomes,
            care_plans,
            care_playbook,
            care_queues,
            care_reports,
            care_tick,
        ):
            part.register()
        for part in (
            call_followups,
            customer_page,
            desk,
            interaction_outcomes,
            subject_data,
            ticket_routing,
            user_form,
        ):
            part.register()
