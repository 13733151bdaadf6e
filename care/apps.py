from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CareConfig(AppConfig):
    name = "care"
    verbose_name = _("Care")

    def ready(self) -> None:
        from callcenter.events import domain_events
        from care.parts.customer_page import care_customer_page_register
        from care.parts.desk import care_desk_register
        from care.receivers import domain_events_received, segment_memberships_changed_received
        from segments.signals import segment_memberships_changed

        domain_events.connect(domain_events_received, dispatch_uid="care-outbox")
        segment_memberships_changed.connect(
            segment_memberships_changed_received, dispatch_uid="care-segment-events"
        )
        care_desk_register()
        care_customer_page_register()
