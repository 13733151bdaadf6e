"""`python manage.py demo_traffic [--once]`: demo calls and complaints every few seconds.

A loop process that `make run` starts beside web, worker and beat when DEMO_TRAFFIC is on,
rather than a Celery beat entry: beat's schedule is rows in the database (installed on every
migrate, production's included) that would outlive the flag, while this process exists only
in the demo `make run` starts and stops with it. Each beat still goes through the real
services (service.services.demo.demo_traffic_tick).
"""

import random
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import close_old_connections

from callcenter.errors import ApplicationError
from service.services.demo import DemoRefused, demo_traffic_refusal, demo_traffic_tick


class Command(BaseCommand):
    help = (
        "Ring the demo agents' desks and open complaints every DEMO_TRAFFIC_SECONDS. Only with "
        "DEMO_TRAFFIC on, dev settings and a started demo database."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="One beat, then exit.")

    def handle(self, *args: Any, **options: Any) -> None:
        reason = demo_traffic_refusal()
        if reason is not None:
            raise CommandError(f"Demo traffic refused: {reason}")
        rng = random.Random()  # noqa: S311 - demo traffic, not a secret
        seconds = float(settings.DEMO_TRAFFIC_SECONDS)
        self.stdout.write(f"Demo traffic: a call every {seconds:g} s (DEMO_TRAFFIC=0 stops it).")
        while True:
            close_old_connections()
            try:
                beat = demo_traffic_tick(rng=rng)
            except DemoRefused as exc:
                raise CommandError(f"Demo traffic refused: {exc.message}") from exc
            except ApplicationError as exc:
                self.stderr.write(f"demo traffic: {exc.message}")
            else:
                ticket = f", complaint ticket #{beat['ticket_id']}" if beat["ticket_id"] else ""
                self.stdout.write(
                    f"demo call to {beat['agent']} from customer #{beat['customer_id']} "
                    f"({beat['delivered']} desk(s) open){ticket}"
                )
            self.stdout.flush()
            if options["once"]:
                return
            time.sleep(seconds)
