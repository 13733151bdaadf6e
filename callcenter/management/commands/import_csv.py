"""`python manage.py import_csv KIND FILE [--no-events] [--user USERNAME]`.

Imports every row or nothing, in this process (whatever its size, up to IMPORT_MAX_UPLOAD_MB).
On success prints the counts and seconds; on a bad file prints every bad row as
`line N: column: reason` (the header is line 1) and exits with status 1; a file too large is
refused with status 2.
"""

from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from callcenter.choices import ImportStatus
from callcenter.errors import ApplicationError
from callcenter.services.imports import IMPORT_KINDS, csv_import, import_size_check


class Command(BaseCommand):
    help = (
        "Import a CSV file of customers, orders, interactions, tickets or surveys "
        "(upsert by external_id; a file with any bad row imports nothing)."
    )
    # A data command: the system checks import every URLconf and view (seconds of start-up)
    # and check nothing the import depends on.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=list(IMPORT_KINDS))
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--no-events",
            action="store_true",
            help="Load history without announcing events (no care plans are triggered).",
        )
        parser.add_argument("--user", help="Username recorded as the one who ran the import.")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(_("%(path)s: no such file") % {"path": path}, returncode=2)
        try:
            import_size_check(size=path.stat().st_size)
        except ApplicationError as exc:
            raise CommandError(f"{path.name}: {exc.message}", returncode=2) from exc
        user = None
        if options["user"]:
            user = get_user_model().objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(
                    _("unknown user %(user)s") % {"user": options["user"]}, returncode=2
                )
        with path.open("rb") as file:
            run = csv_import(
                kind=options["kind"],
                file=file,
                file_name=path.name,
                started_by=user,
                announce=not options["no_events"],
            )
        if run.status == ImportStatus.REJECTED:
            for error in run.errors:
                self.stderr.write(error)
            raise CommandError(
                _(
                    "%(file)s: rejected, nothing was imported "
                    "(%(rows)s rows read in %(seconds).2f s)"
                )
                % {"file": path.name, "rows": run.rows, "seconds": run.seconds}
            )
        unchanged = run.rows - run.created - run.updated
        self.stdout.write(
            _(
                "%(kind)s %(file)s: %(rows)s rows, %(created)s created, %(updated)s updated, "
                "%(unchanged)s unchanged in %(seconds).2f s"
            )
            % {
                "kind": run.kind,
                "file": path.name,
                "rows": run.rows,
                "created": run.created,
                "updated": run.updated,
                "unchanged": unchanged,
                "seconds": run.seconds,
            }
        )
