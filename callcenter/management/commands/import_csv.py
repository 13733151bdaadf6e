"""`python manage.py import_csv KIND FILE [--no-events] [--user USERNAME]`.

Imports every row or nothing. On success prints the counts and seconds; on a bad file prints
every bad row as `line N: column: reason` (the header is line 1) and exits with status 1.
"""

from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from callcenter.choices import ImportStatus
from callcenter.services.imports import IMPORT_KINDS, csv_import


class Command(BaseCommand):
    help = (
        "Import a CSV file of customers, orders, interactions, tickets or surveys "
        "(upsert by external_id; a file with any bad row imports nothing)."
    )

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
            raise CommandError(f"{path}: no such file", returncode=2)
        user = None
        if options["user"]:
            user = get_user_model().objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"unknown user {options['user']}", returncode=2)
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
                f"{path.name}: rejected, nothing was imported "
                f"({run.rows} rows read in {run.seconds:.2f} s)"
            )
        unchanged = run.rows - run.created - run.updated
        self.stdout.write(
            f"{run.kind} {path.name}: {run.rows} rows, {run.created} created, "
            f"{run.updated} updated, {unchanged} unchanged in {run.seconds:.2f} s"
        )
