from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CareConfig(AppConfig):
    name = "care"
    verbose_name = _("Care")

    def ready(self) -> None:
        from callcenter.events import domain_events
        from care.parts import customer_page, desk, settings, subject_data
        from care.receivers import domain_events_received, segment_memberships_changed_received
        from segments.signals import segment_memberships_changed

        domain_events.connect(domain_events_received, dispatch_uid="care-outbox")
        segment_memberships_changed.connect(
            segment_memberships_changed_received, dispatch_uid="care-segment-events"
        )
        for part in (customer_page, desk, settings, subject_data):
            part.register()
