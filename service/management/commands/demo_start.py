"""`python manage.py demo_start`: make the demo database alive (service.services.demo)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from service.services.demo import DemoRefused, demo_start


class Command(BaseCommand):
    help = (
        "Install the care playbook with its demo rules, put the demo staff in its queues, run "
        "the first refresh and model fits, replay a week of care work, the reachability "
        "pass and the duplicate finder. Only with dev settings on a database of demo data; "
        "once per database."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--if-allowed",
            action="store_true",
            help="Say why the demo is refused and exit 0 instead of failing (make run).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        def report(name: str, seconds: float, summary: str) -> None:
            self.stdout.write(f"  demo {name}: {seconds:.1f} s{f' ({summary})' if summary else ''}")
            self.stdout.flush()

        try:
            result = demo_start(on_step=report)
        except DemoRefused as exc:
            if options["if_allowed"]:
                self.stdout.write(f"Demo not started: {exc.message}")
                return
            raise CommandError(exc.message) from exc
        if not result.started:
            self.stdout.write(result.note)
            return
        total = sum(seconds for _name, seconds, _summary in result.steps)
        self.stdout.write(f"Demo started in {total:.1f} s.")
