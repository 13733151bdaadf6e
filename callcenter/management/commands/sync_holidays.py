"""`python manage.py sync_holidays [--years 2025 2026]`: write the Chinese public holidays and
make-up working days from the `chinesecalendar` package into the holiday calendar."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone
from django.utils.translation import gettext as _

from callcenter.services.calendar import calendar_days_sync, package_years


class Command(BaseCommand):
    help = _(
        "Sync the Chinese public holidays and make-up working days of the given years (default: "
        "this year and the next) from the holiday package. Dates an admin added are kept."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--years", type=int, nargs="+", help=_("Years to sync."))

    def handle(self, *args: Any, **options: Any) -> None:
        this_year = timezone.localdate().year
        years = options["years"] or [this_year, this_year + 1]
        result = calendar_days_sync(years=years)
        if result.synced_years:
            self.stdout.write(
                _("Synced %(years)s: %(written)s days written, %(removed)s removed.")
                % {
                    "years": ", ".join(map(str, result.synced_years)),
                    "written": result.written,
                    "removed": result.removed,
                }
            )
        if result.missing_years:
            covered = package_years()
            self.stderr.write(
                _(
                    "The holiday package has no data for %(years)s (it covers %(first)s to "
                    "%(last)s): update chinesecalendar, or add these dates by hand."
                )
                % {
                    "years": ", ".join(map(str, result.missing_years)),
                    "first": covered.start,
                    "last": covered.stop - 1,
                }
            )
