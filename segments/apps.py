from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SegmentsConfig(AppConfig):
    name = "segments"
    verbose_name = _("Segments")

    def ready(self) -> None:
        from callcenter.selectors.screenpop import screenpop_section_register
        from segments.parts import settings as settings_part
        from segments.parts import subject_data as subject_data_part
        from segments.screenpop import segments_section

        screenpop_section_register("segments", segments_section)
        settings_part.register()
        subject_data_part.register()
