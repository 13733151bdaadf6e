"""`python manage.py seed_demo [--customers N] [--password P] [--if-empty]`."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from callcenter.services.demo import DEMO_USERS, demo_seed


class Command(BaseCommand):
    help = "Create demo users (admin, supervisor, agent1, agent2) and realistic demo customers."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--customers", type=int, default=2000)
        parser.add_argument("--password", help="Password for the demo users (else random).")
        parser.add_argument(
            "--if-empty", action="store_true", help="Add customers only if there are none yet."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["customers"] < 0:
            self.stderr.write("--customers must not be negative")
            raise SystemExit(2)
        summary, password, generated = demo_seed(
            customers=options["customers"],
            password=options["password"],
            if_empty=options["if_empty"],
        )
        users = ", ".join(username for username, *_rest in DEMO_USERS)
        if generated:
            self.stdout.write(f"Demo users: {users}; password (shown once): {password}")
        else:
            self.stdout.write(f"Demo users: {users}")
        if summary is None:
            self.stdout.write("Customers exist already; no demo customers added.")
        else:
            self.stdout.write(
                f"Created {summary.customers} customers, {summary.orders} orders, "
                f"{summary.interactions} interactions, {summary.tickets} tickets, "
                f"{summary.surveys} survey responses."
            )
