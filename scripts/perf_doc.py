"""Render the figures of docs/performance.md from the published benchmark runs.

    python scripts/perf_doc.py                 # rewrite the tables of docs/performance.md
    python scripts/perf_doc.py --check         # exit 1 (with a diff) if they are out of date
    python scripts/perf_doc.py --publish bench/results/latest.json   # keep a run, then rewrite

A published run is a report `make bench` wrote (bench/run.py), copied into
bench/results/published/ and committed, named by its start time. The prose of
docs/performance.md is written by hand; each table sits between the lines
`<!-- perf-doc:begin NAME -->` and `<!-- perf-doc:end NAME -->` and is replaced whole, one row
per published run, oldest first, each row naming the run it came from. Ratios are taken
against the baseline measured in the same run, since absolute figures on a shared machine move
from one day to the next. `make perf-doc` runs the first form; tests/test_perf_doc.py fails
while the document differs from what the committed runs render.
"""

from __future__ import annotations

import argparse
import datetime as dt
import difflib
import json
import re
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "performance.md"
PUBLISHED = ROOT / "bench" / "results" / "published"
BLOCK = re.compile(
    r"(?P<begin><!-- perf-doc:begin (?P<name>[\w-]+) -->\n)(?P<body>.*?)"
    r"(?P<end><!-- perf-doc:end (?P=name) -->)",
    re.DOTALL,
)
GENERATED_NOTE = "<!-- Generated from bench/results/published/ by `make perf-doc`: do not edit. -->"
MISSING = "–"
NO_RUN = (
    "_No published run yet: run `make bench`, then "
    "`python scripts/perf_doc.py --publish bench/results/latest.json`._"
)


@dataclass(frozen=True)
class Run:
    """One published report of `make bench` and the file it is kept in."""

    name: str
    report: dict[str, Any]

    @property
    def link(self) -> str:
        """The run's name, linked (from docs/) to its JSON file."""
        return f"[{self.name}](../bench/results/published/{self.name}.json)"

    def section(self, key: str) -> dict[str, Any]:
        value = self.report.get(key)
        return value if isinstance(value, dict) else {}


def runs_load(directory: Path = PUBLISHED) -> list[Run]:
    """Every published run in `directory`, oldest first (names are start times)."""
    return [
        Run(name=path.stem, report=json.loads(path.read_text(encoding="utf-8")))
        for path in sorted(directory.glob("*.json"))
    ]


def run_name(report: dict[str, Any]) -> str:
    """The file name (without .json) a report is published under: its start time in UTC."""
    started = dt.datetime.fromisoformat(str(report["started_at"]))
    if started.tzinfo is None:
        started = started.replace(tzinfo=dt.UTC)
    return started.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


# Formatting: one style for every figure, a dash for one the report does not have.


def _number(value: Any, digits: int = 0) -> str:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return MISSING
    return f"{value:,.{digits}f}"


def _seconds(value: Any) -> str:
    if not isinstance(value, int | float):
        return MISSING
    return f"{value:.2f} s" if value < 10 else f"{value:.1f} s"


def _ms(value: Any) -> str:
    return MISSING if not isinstance(value, int | float) else f"{value:.1f} ms"


def _mb(value: Any) -> str:
    if not isinstance(value, int | float):
        return MISSING
    return f"{value / 1024:.2f} GB" if value >= 1024 else f"{value:.0f} MB"


def _ratio(numerator: Any, denominator: Any) -> str:
    """numerator ÷ denominator as `2.35×`, a dash when either is missing or zero."""
    if not isinstance(numerator, int | float) or not isinstance(denominator, int | float):
        return MISSING
    if not denominator:
        return MISSING
    return f"{numerator / denominator:.2f}×"


def _yes_no(value: Any) -> str:
    return MISSING if not isinstance(value, bool) else ("yes" if value else "**no**")


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _failed(run: Run, section: dict[str, Any], width: int) -> list[str] | None:
    """The row of a benchmark this run did not run, or that failed (its error is in the run's
    file); None when it has figures."""
    if not section:
        return [run.link, "not in this run"] + [MISSING] * (width - 2)
    if "error" in section:
        return [run.link, "failed (its error is in the run's file)"] + [MISSING] * (width - 2)
    return None


# The tables, one function per benchmark: the header, then one row per run.


def runs_table(runs: Sequence[Run]) -> str:
    header = ["run", "customers", "cores", "memory", "PostgreSQL", "load at start", "Python"]
    rows = []
    for run in runs:
        machine = run.section("machine")
        load = machine.get("load_average_at_start") or []
        rows.append(
            [
                run.link,
                _number(run.report.get("scale")),
                _number(machine.get("cores")),
                f"{machine['memory_gb']} GB" if "memory_gb" in machine else MISSING,
                str(machine.get("postgres", MISSING)),
                " / ".join(f"{x:.2f}" for x in load) or MISSING,
                str(machine.get("python", MISSING)),
            ]
        )
    return _table(header, rows)


def _nightly(refresh: dict[str, Any]) -> str:
    """The nightly refresh's wall time, and whether it went incremental."""
    nightly = refresh.get("refresh_next_day", {})
    counts = nightly.get("counts", {})
    seconds = _seconds(nightly.get("seconds"))
    aggregated, customers = counts.get("aggregated"), counts.get("customers")
    if aggregated is None or customers is None:
        return seconds
    if aggregated < customers:
        return f"{seconds} (incremental: {aggregated:,} re-aggregated)"
    return f"{seconds} (full pass)"


def refresh_table(runs: Sequence[Run]) -> str:
    header = [
        "run",
        "customers / orders / interactions",
        "first refresh (empty tables)",
        "again, after model training",
        "nightly, after a day",
        "full pass, same moment",
        "pandas baseline",
        "baseline ÷ nightly",
        "baseline ÷ full pass",
        "peak memory: nightly / baseline",
        "incremental = full",
    ]
    rows = []
    for run in runs:
        refresh = run.section("segment_refresh")
        failed = _failed(run, refresh, len(header))
        if failed:
            rows.append(failed)
            continue
        scale = refresh.get("scale", {})
        nightly = refresh.get("refresh_next_day", {})
        full = refresh.get("refresh_next_day_full", {})
        baseline = refresh.get("baseline", {})
        rows.append(
            [
                run.link,
                " / ".join(_number(scale.get(k)) for k in ("customers", "orders", "interactions")),
                _seconds(refresh.get("refresh", {}).get("seconds")),
                _seconds(refresh.get("refresh_again", {}).get("seconds")),
                _nightly(refresh),
                _seconds(full.get("seconds")),
                _seconds(baseline.get("seconds")),
                _ratio(baseline.get("seconds"), nightly.get("seconds")),
                _ratio(baseline.get("seconds"), full.get("seconds")),
                f"{_mb(nightly.get('peak_rss_mb'))} / {_mb(baseline.get('peak_rss_mb'))}",
                _yes_no(refresh.get("incremental_equals_full")),
            ]
        )
    return _table(header, rows)


REFRESH_PHASES = (
    "aggregate",
    "score",
    "churn",
    "value",
    "clusters",
    "write",
    "behaviour",
    "memberships",
    "snapshots",
)
REFRESH_RUNS = (
    ("refresh", "first refresh"),
    ("refresh_again", "again, after model training"),
    ("refresh_next_day", "nightly"),
    ("refresh_next_day_full", "full pass, same moment"),
)


def refresh_phases_table(runs: Sequence[Run]) -> str:
    header = ["run", "refresh", *REFRESH_PHASES, "phases in all", "wall (with commit)"]
    rows = []
    for run in runs:
        refresh = run.section("segment_refresh")
        failed = _failed(run, refresh, len(header))
        if failed:
            rows.append(failed)
            continue
        for key, label in REFRESH_RUNS:
            one = refresh.get(key, {})
            phases = one.get("phases", {})
            rows.append(
                [
                    run.link,
                    label,
                    *(_seconds(phases.get(phase)) for phase in REFRESH_PHASES),
                    _seconds(phases.get("total")),
                    _seconds(one.get("seconds")),
                ]
            )
    return _table(header, rows)


def import_table(runs: Sequence[Run]) -> str:
    header = [
        "run",
        "orders (after customers)",
        "import",
        "rows/s",
        "importer CPU",
        "PostgreSQL CPU",
        "peak memory",
        "same file again",
        "target",
    ]
    rows = []
    for run in runs:
        figures = run.section("csv_import")
        failed = _failed(run, figures, len(header))
        if failed:
            rows.append(failed)
            continue
        target = figures.get("target_seconds")
        met = figures.get("within_target")
        rows.append(
            [
                run.link,
                f"{_number(figures.get('orders'))} ({_number(figures.get('customers'))})",
                _seconds(figures.get("orders_seconds")),
                _number(figures.get("orders_rows_per_second")),
                _seconds(figures.get("orders_python_cpu_seconds")),
                _seconds(figures.get("orders_postgres_cpu_seconds")),
                _mb(figures.get("orders_peak_rss_mb")),
                _seconds(figures.get("orders_again_seconds")),
                MISSING if target is None else f"{_seconds(target)}: {'met' if met else 'missed'}",
            ]
        )
    return _table(header, rows)


def screenpop_table(runs: Sequence[Run]) -> str:
    header = [
        "run",
        "customers",
        "clients × seconds",
        "saturated: screen-pop",
        "/healthz",
        "ratio",
        "paced: achieved",
        "p50",
        "p99",
        "/healthz p99",
        "p99 ratio",
        "errors",
    ]
    rows = []
    for run in runs:
        figures = run.section("screenpop")
        failed = _failed(run, figures, len(header))
        if failed:
            rows.append(failed)
            continue
        card, health = figures.get("screenpop", {}), figures.get("healthz", {})
        paced, health_paced = figures.get("screenpop_paced", {}), figures.get("healthz_paced", {})
        load = figures.get("load", {})
        errors = sum(
            part.get("non_2xx", 0) + part.get("socket_errors", 0) for part in (card, paced)
        )
        rate = load.get("paced_rate_per_second")
        rows.append(
            [
                run.link,
                _number(figures.get("scale", {}).get("customers")),
                f"{_number(load.get('connections'))} × {_number(load.get('seconds'))}",
                f"{_number(card.get('requests_per_second'))} req/s",
                f"{_number(health.get('requests_per_second'))} req/s",
                _ratio(card.get("requests_per_second"), health.get("requests_per_second")),
                f"{_number(paced.get('requests_per_second'))} of {_number(rate)} req/s",
                _ms(paced.get("p50_ms")),
                _ms(paced.get("p99_ms")),
                _ms(health_paced.get("p99_ms")),
                _ratio(paced.get("p99_ms"), health_paced.get("p99_ms")),
                _number(errors),
            ]
        )
    return _table(header, rows)


def events_table(runs: Sequence[Run]) -> str:
    header = [
        "run",
        "events at rate",
        "worker processes",
        "processed/s",
        "p50",
        "p90",
        "p99",
        "max",
        "lost",
        "enrolled twice",
        "outbox empty after the last post",
    ]
    rows = []
    for run in runs:
        figures = run.section("event_to_enrollment")
        failed = _failed(run, figures, len(header))
        if failed:
            rows.append(failed)
            continue
        latency, load = figures.get("latency_ms", {}), figures.get("load", {})
        rate = load.get("rate_per_second")
        rows.append(
            [
                run.link,
                f"{_number(figures.get('scale', {}).get('events'))} at "
                f"{_number(rate) if rate != 'unlimited' else 'unlimited'}/s",
                _number(load.get("worker_concurrency")),
                _number(figures.get("processed_per_second"), 1),
                *(_ms(latency.get(key)) for key in ("p50", "p90", "p99", "max")),
                _number(figures.get("lost")),
                _number(figures.get("enrolled_twice")),
                _seconds(figures.get("drain_seconds_after_last_post")),
            ]
        )
    return _table(header, rows)


def _pass(figures: dict[str, Any]) -> str:
    """A time-events pass: its wall time and the events it created."""
    return f"{_seconds(figures.get('seconds'))} ({_number(figures.get('events'))} events)"


def dates_table(runs: Sequence[Run]) -> str:
    header = [
        "run",
        "customers",
        "date rules",
        "pass without date rules",
        "pass with date rules",
        "ratio",
        "date rules' statement",
        "date events",
        "second run",
        "new events in the second run",
    ]
    rows = []
    for run in runs:
        figures = run.section("date_triggers")
        failed = _failed(run, figures, len(header))
        if failed:
            rows.append(failed)
            continue
        baseline = figures.get("baseline", {})
        with_dates = figures.get("with_date_rules", {})
        second = figures.get("second_run", {})
        rules = figures.get("date_rules")
        rows.append(
            [
                run.link,
                _number(figures.get("scale", {}).get("customers")),
                _number(len(rules)) if isinstance(rules, list) else MISSING,
                _pass(baseline),
                _pass(with_dates),
                _ratio(with_dates.get("seconds"), baseline.get("seconds")),
                _seconds(figures.get("date_rules_statement_seconds")),
                _number(with_dates.get("counts", {}).get("date_reached")),
                _seconds(second.get("seconds")),
                _number(second.get("events")),
            ]
        )
    return _table(header, rows)


def campaign_table(runs: Sequence[Run]) -> str:
    header = [
        "run",
        "members",
        "preview",
        "audience frozen",
        "enrollments",
        "tasks paced and created",
        "whole run",
        "tasks",
        "per member: campaign / per-event path",
        "second start: new tasks",
    ]
    rows = []
    for run in runs:
        figures = run.section("campaign")
        failed = _failed(run, figures, len(header))
        if failed:
            rows.append(failed)
            continue
        campaign = figures.get("campaign", {})
        phases = campaign.get("phases", {})
        baseline = figures.get("baseline_per_event", {})
        rows.append(
            [
                run.link,
                _number(campaign.get("members")),
                _seconds(figures.get("preview", {}).get("seconds")),
                _seconds(phases.get("freeze")),
                _seconds(phases.get("enroll")),
                _seconds(phases.get("plan")),
                _seconds(campaign.get("run_seconds")),
                _number(campaign.get("tasks")),
                f"{_number(campaign.get('ms_per_member'), 3)} / "
                f"{_number(baseline.get('ms_per_member'), 1)} ms",
                _number(figures.get("second_start", {}).get("new_tasks")),
            ]
        )
    return _table(header, rows)


def _sla_as_expected(figures: dict[str, Any]) -> str:
    """Whether the sweep warned, breached and escalated the clocks the benchmark set to, and
    its second run changed nothing (what bench/sla.py checks)."""
    sweep, idle = figures.get("sweep", {}), figures.get("idle", {})
    expected = figures.get("expected", {})
    keys = ("warned", "breached", "escalated", "attached")
    if not expected or any(key not in sweep or key not in idle for key in keys):
        return MISSING
    good = (
        sweep["warned"] == expected.get("warning")
        and sweep["breached"] == sweep["escalated"] == expected.get("breaching")
        and not any(idle[key] for key in keys)
    )
    return _yes_no(good)


def sla_table(runs: Sequence[Run]) -> str:
    header = [
        "run",
        "open tickets",
        "attach (policy and dues)",
        "sweep",
        "warned / breached / escalated",
        "reassigned",
        "again, nothing due",
        "per ticket: sweep / per-ticket loop",
        "loop ÷ sweep",
        "loop's sample",
        "as expected",
    ]
    rows = []
    for run in runs:
        figures = run.section("ticket_sla_sweep")
        failed = _failed(run, figures, len(header))
        if failed:
            rows.append(failed)
            continue
        attach, sweep = figures.get("attach", {}), figures.get("sweep", {})
        baseline = figures.get("baseline_per_ticket_loop", {})
        rows.append(
            [
                run.link,
                _number(figures.get("tickets")),
                _seconds(attach.get("seconds")),
                _seconds(sweep.get("seconds")),
                " / ".join(_number(sweep.get(key)) for key in ("warned", "breached", "escalated")),
                _number(sweep.get("reassigned")),
                _seconds(figures.get("idle", {}).get("seconds")),
                f"{_number(figures.get('sweep_ms_per_ticket'), 3)} / "
                f"{_number(baseline.get('ms_per_ticket'), 2)} ms",
                _ratio(baseline.get("ms_per_ticket"), figures.get("sweep_ms_per_ticket")),
                _number(baseline.get("tickets")),
                _sla_as_expected(figures),
            ]
        )
    return _table(header, rows)


def _best_cold(figures: dict[str, Any]) -> str:
    """A query's best warm time, its first (cold) run beside it."""
    return f"{_seconds(figures.get('seconds'))} (cold {_seconds(figures.get('cold_seconds'))})"


def scorecard_table(runs: Sequence[Run]) -> str:
    header = [
        "run",
        "customers",
        "tasks / tickets / surveys",
        "agents (teams)",
        "scorecards of a week",
        "care KPIs, same week",
        "scorecards ÷ care KPIs",
        "SLA report, 8 weeks",
        "cards add up to the KPIs",
    ]
    rows = []
    for run in runs:
        figures = run.section("scorecard")
        failed = _failed(run, figures, len(header))
        if failed:
            rows.append(failed)
            continue
        card, baseline = figures.get("scorecard", {}), figures.get("baseline_care_kpis", {})
        counts = figures.get("rows", {})
        rows.append(
            [
                run.link,
                _number(figures.get("scale", {}).get("customers")),
                " / ".join(
                    _number(counts.get(key)) for key in ("tasks", "tickets_with_sla", "surveys")
                ),
                f"{_number(card.get('cards'))} ({_number(card.get('teams'))})",
                _best_cold(card),
                _best_cold(baseline),
                _ratio(card.get("seconds"), baseline.get("seconds")),
                _best_cold(figures.get("sla_report_8_weeks", {})),
                _yes_no(figures.get("reconciles")),
            ]
        )
    return _table(header, rows)


def ml_table(runs: Sequence[Run]) -> str:
    header = [
        "run",
        "customers",
        "churn: fit",
        "holdout AUC",
        "churn: score all",
        "clusters",
        "k (silhouette)",
        "peak memory",
    ]
    rows = []
    for run in runs:
        figures = run.section("segments_ml")
        failed = _failed(run, figures, len(header))
        if failed:
            rows.append(failed)
            continue
        silhouette = figures.get("cluster_silhouette")
        rows.append(
            [
                run.link,
                _number(figures.get("rows")),
                _seconds(figures.get("churn_fit_seconds")),
                _number(figures.get("churn_holdout_auc"), 3),
                _seconds(figures.get("churn_probabilities_seconds")),
                _seconds(figures.get("cluster_customers_seconds")),
                f"{_number(figures.get('cluster_k'))} ({_number(silhouette, 2)})",
                _mb(figures.get("peak_rss_mb")),
            ]
        )
    return _table(header, rows)


TABLES: dict[str, Callable[[Sequence[Run]], str]] = {
    "runs": runs_table,
    "refresh": refresh_table,
    "refresh-phases": refresh_phases_table,
    "import": import_table,
    "screenpop": screenpop_table,
    "events": events_table,
    "dates": dates_table,
    "campaign": campaign_table,
    "sla": sla_table,
    "scorecard": scorecard_table,
    "ml": ml_table,
}


def render(document: str, runs: Sequence[Run]) -> str:
    """`document` with the body of every marked block replaced by its table."""

    def block(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in TABLES:
            raise ValueError(f"unknown table {name!r} (known: {', '.join(TABLES)})")
        body = TABLES[name](runs) if runs else NO_RUN
        return f"{match['begin']}{GENERATED_NOTE}\n\n{body}\n\n{match['end']}"

    rendered = BLOCK.sub(block, document)
    stray = re.search(r"<!-- perf-doc:(begin|end) [\w-]+ -->", BLOCK.sub("", rendered))
    if stray:
        raise ValueError(f"unmatched marker {stray.group(0)}")
    return rendered


def publish(report_path: Path, directory: Path = PUBLISHED) -> Path:
    """Copy a report into the published runs under its start time; returns the new path."""
    report = json.loads(report_path.read_text(encoding="utf-8"))
    target = directory / f"{run_name(report)}.json"
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(report_path, target)
    return target


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the document is stale")
    parser.add_argument("--publish", type=Path, metavar="REPORT", help="publish a run first")
    args = parser.parse_args(argv)
    if args.publish:
        print(f"published {publish(args.publish, PUBLISHED).relative_to(ROOT)}")
    current = DOC.read_text(encoding="utf-8")
    rendered = render(current, runs_load(PUBLISHED))
    if args.check:
        if rendered == current:
            return 0
        sys.stdout.writelines(
            difflib.unified_diff(
                current.splitlines(keepends=True),
                rendered.splitlines(keepends=True),
                "docs/performance.md",
                "docs/performance.md (from bench/results/published/)",
            )
        )
        print("docs/performance.md is out of date: run `make perf-doc`.", file=sys.stderr)
        return 1
    if rendered != current:
        DOC.write_text(rendered, encoding="utf-8")
        print(f"rewrote {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
