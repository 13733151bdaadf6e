from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SegmentsConfig(AppConfig):
    name = "segments"
    verbose_name = _("Segments")

    def ready(self) -> None:
        from callcenter.selectors.screenpop import screenpop_section_register
        from segments.parts import desk, generated_formats, settings, subject_data
        from segments.screenpop import segments_section

        screenpop_section_register("segments", segments_section)
        for part in (desk, generated_formats, settings, subject_data):
            part.register()
