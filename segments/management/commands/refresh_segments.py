"""`python manage.py refresh_segments [--as-of YYYY-MM-DD] [--window-days N] [--full|--repair]`."""

import datetime as dt
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from segments.choices import RunStatus
from segments.models import RefreshRun
from segments.services.refresh import as_of_from_date, segment_refresh_execute
from segments.services.refresh_runs import refresh_progress, segment_refresh_request
from segments.services.vacuum import refresh_tables_vacuum

POLL_SECONDS = 1.0


class Command(BaseCommand):
    help = "Refresh metrics, scores and segment memberships in the foreground."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--as-of", type=dt.date.fromisoformat, help="YYYY-MM-DD")
        parser.add_argument("--window-days", type=int)
        parser.add_argument(
            "--full",
            action="store_true",
            help="re-aggregate every customer (by default only those whose history changed)",
        )
        parser.add_argument(
            "--repair",
            action="store_true",
            help=(
                "re-aggregate every customer and diff every built-in segment's members against "
                "the metrics of all of them (puts right memberships that drifted from the "
                "metrics; --full diffs only the customers whose metrics changed)"
            ),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        window = options["window_days"]
        if window is not None and window < 1:
            raise CommandError("--window-days must be at least 1")
        as_of = as_of_from_date(options["as_of"]) if options["as_of"] else None
        run, created = segment_refresh_request(as_of=as_of, window_days=window, trigger="command")
        bar = tqdm(total=100, desc="refresh", unit="%", file=self.stderr._out)
        if created:
            run = segment_refresh_execute(
                run_id=run.pk,
                on_progress=self._advance(bar),
                full=options["full"],
                repair=options["repair"],
            )
        else:
            self.stderr.write(f"refresh #{run.pk} is already running; waiting for it")
            run = self._wait(run, bar)
        bar.close()
        if run.status != RunStatus.SUCCEEDED:
            raise CommandError(f"refresh #{run.pk} failed: {run.error.splitlines()[0]}")
        timings = ", ".join(f"{k} {v:.2f}s" for k, v in run.timings.items())
        self.stdout.write(f"refresh #{run.pk} done: {run.counts}")
        self.stdout.write(f"timings: {timings}")
        vacuumed = refresh_tables_vacuum()
        if vacuumed:
            done = ", ".join(f"{table} {seconds:.2f}s" for table, seconds in vacuumed.items())
            self.stdout.write(f"vacuumed: {done}")

    @staticmethod
    def _advance(bar: tqdm) -> Any:
        def update(phase: str, percent: int) -> None:
            bar.set_postfix_str(phase)
            bar.update(max(0, percent - bar.n))

        return update

    def _wait(self, run: RefreshRun, bar: tqdm) -> RefreshRun:
        update = self._advance(bar)
        while run.status == RunStatus.RUNNING:
            time.sleep(POLL_SECONDS)
            run.refresh_from_db()
            progress = refresh_progress(run=run)
            update(str(progress["phase"]), int(progress["percent"]))
        return run
