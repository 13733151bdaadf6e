"""`python manage.py export_metrics FILE [--segment SLUG]`."""

from pathlib import Path
from typing import Any, TextIO, cast

from django.core.management.base import BaseCommand, CommandError, CommandParser

from segments.models import Segment
from segments.services.export import metrics_export


class Command(BaseCommand):
    help = "Write one CSV row per customer with its metrics and scores ('-' for stdout)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file")
        parser.add_argument("--segment", help="Only members of the segment with this slug.")

    def handle(self, *args: Any, **options: Any) -> None:
        segment = None
        if options["segment"]:
            segment = Segment.objects.filter(slug=options["segment"]).first()
            if segment is None:
                raise CommandError(f"unknown segment: {options['segment']}")
        if options["file"] == "-":
            # The wrapped stream (OutputWrapper keeps it in `_out`, which the stubs omit).
            metrics_export(stream=cast(TextIO, self.stdout._out).buffer, segment=segment)
            return
        path = Path(options["file"])
        with path.open("wb") as stream:
            size = metrics_export(stream=stream, segment=segment)
        self.stderr.write(f"wrote {size} bytes to {path}")
