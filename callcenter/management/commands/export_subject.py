"""`python manage.py export_subject <customer id | external id> [--output FILE]`: subject
access, every personal datum we hold about one customer as JSON (audited)."""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from callcenter.errors import ApplicationError
from callcenter.services.privacy import (
    customer_find,
    customer_subject_export,
    subject_export_json,
)


class Command(BaseCommand):
    help = _(
        "Export everything stored about one customer (profile, contact points, orders, "
        "interactions, tickets, surveys, consent history, segments, care and outreach) as JSON. "
        "The export is recorded in the audit log."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("customer", help=_("Customer id or external id."))
        parser.add_argument(
            "--output", "-o", help=_("Write the JSON to this file instead of standard output.")
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            customer = customer_find(options["customer"])
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        text = subject_export_json(customer_subject_export(customer=customer, via="command"))
        if options["output"]:
            Path(options["output"]).write_text(text + "\n", encoding="utf-8")
            self.stderr.write(
                _("Personal data of customer #%(id)s written to %(file)s.")
                % {"id": customer.pk, "file": options["output"]}
            )
        else:
            self.stdout.write(text)
