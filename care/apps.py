from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CareConfig(AppConfig):
    name = "care"
    verbose_name = _("Care")

    def ready(self) -> None:
        from callcenter.events import domain_events
        from care.parts import settings as settings_part
        from care.parts import subject_data as subject_data_part
        from care.receivers import domain_events_received, segment_memberships_changed_received
        from segments.signals import segment_memberships_changed

        domain_events.connect(domain_events_received, dispatch_uid="care-outbox")
        segment_memberships_changed.connect(
            segment_memberships_changed_received, dispatch_uid="care-segment-events"
        )
        settings_part.register()
        subject_data_part.register()
