"""Install the built-in segments of the potential-value layer (one per ValuePotential value).

The stored metrics rows predate spend ever (spend_lifetime, default 0), which an incremental
refresh would take from them for the customers it does not re-aggregate: the runs so far are
marked as nothing to build on (an empty built-in digest), so the next refresh is a full pass.
"""

from django.db import migrations
from django.utils import translation


def install_potential_segments(apps, schema_editor):
    from segments.choices import SegmentKind, ValuePotential

    segment = apps.get_model("segments", "Segment")
    kind = str(SegmentKind.POTENTIAL)
    # Installed under their English names; Segment.display_name shows them translated.
    with translation.override("en"):
        for value, label in ValuePotential.choices:
            segment.objects.get_or_create(
                kind=kind,
                key=value,
                defaults={"name": str(label), "slug": f"{kind}-{value}"},
            )


    apps.get_model("segments", "RefreshRun").objects.exclude(builtin_segments="").update(
        builtin_segments=""
    )


def remove_potential_segments(apps, schema_editor):
    apps.get_model("segments", "Segment").objects.filter(kind="potential").delete()


class Migration(migrations.Migration):
    dependencies = [("segments", "0010_value_model")]

    operations = [migrations.RunPython(install_potential_segments, remove_potential_segments)]
