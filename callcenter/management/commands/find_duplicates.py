"""`python manage.py find_duplicates`: propose likely duplicate customers for review."""

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from callcenter.errors import ApplicationError
from callcenter.services.identity import NAME_SIMILARITY_THRESHOLD, merge_proposals_refresh


class Command(BaseCommand):
    help = _(
        "Find likely duplicate customers (shared email or phone, similar name with the same "
        "birthday, city or company) and store them as merge proposals. Merges nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--name-threshold",
            type=float,
            default=NAME_SIMILARITY_THRESHOLD,
            help=_("Trigram similarity two names need (0-1, default %(default)s)."),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        try:
            scan = merge_proposals_refresh(name_threshold=options["name_threshold"])
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(
            _(
                "Found %(found)s duplicate pairs: %(created)s new proposals, %(updated)s open "
                "proposals updated (%(seconds).1f s)."
            )
            % {
                "found": scan.found,
                "created": scan.created,
                "updated": scan.updated,
                "seconds": time.monotonic() - started,
            }
        )
