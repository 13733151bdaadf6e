"""`python manage.py erase_customer <customer id | external id> [--yes]`: erase a customer's
personal data on request, keeping only anonymous figures (audited, idempotent)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from callcenter.errors import ApplicationError
from callcenter.services.privacy import customer_erase, customer_find, erasure_confirmation


class Command(BaseCommand):
    help = _(
        "Anonymize one customer (and the customers merged into it): name, contact points, "
        "notes and other free text, custom attributes, addresses, birthday and external ids "
        "are erased; order amounts and dates and counts stay, so statistics remain right. "
        "Recorded in the audit log; running it again changes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("customer", help=_("Customer id or external id."))
        parser.add_argument(
            "--yes", action="store_true", help=_("Do not ask to type the confirmation.")
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            customer = customer_find(options["customer"])
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        if not options["yes"]:
            expected = erasure_confirmation([customer])
            question = _(
                "Erase the personal data of customer #%(id)s “%(name)s” for good? "
                "To confirm, type its external id (or number) %(text)s: "
            ) % {"id": customer.pk, "name": customer.name, "text": expected}
            if input(question).strip() != expected:
                raise CommandError(_("Nothing erased."))
        result = customer_erase(customer=customer, via="command")
        changed = ", ".join(f"{key} {count}" for key, count in sorted(result.changed.items()))
        self.stdout.write(
            _("Customer #%(id)s erased (%(changed)s).")
            % {"id": customer.pk, "changed": changed or _("nothing left to change")}
        )
