"""Install the default RFM grid, the built-in segments and the settings row."""

from django.db import migrations


def install_defaults(apps, schema_editor):
    from segments.defaults import BUILTIN_SEGMENTS, DEFAULT_RFM_GRID

    definition = apps.get_model("segments", "RfmSegmentDefinition")
    segment = apps.get_model("segments", "Segment")
    apps.get_model("segments", "SegmentSettings").objects.get_or_create(pk=1)
    for position, (name, r_min, r_max, fm_min, fm_max) in enumerate(DEFAULT_RFM_GRID, start=1):
        definition.objects.update_or_create(
            name=name,
            defaults={
                "position": position,
                "r_min": r_min,
                "r_max": r_max,
                "fm_min": fm_min,
                "fm_max": fm_max,
            },
        )
    for kind, choices in BUILTIN_SEGMENTS:
        for value, label in choices.choices:
            segment.objects.get_or_create(
                kind=kind,
                key=value,
                defaults={"name": str(label), "slug": f"{kind}-{value}".replace("_", "-")},
            )


class Migration(migrations.Migration):
    dependencies = [("segments", "0001_initial")]

    operations = [migrations.RunPython(install_defaults, migrations.RunPython.noop)]
