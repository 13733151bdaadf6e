"""`make bench`: run every benchmark at one scale, print the figures, write JSON.

    SCALE=50000 make bench          # customers in the synthetic base (default 50,000)
    SCALE=1000000 make bench        # the targets' scale: 1M customers, 10M orders
    EVENTS=10000 make bench         # complaint events posted (default 1,000)
    EVENT_RATE=20 make bench        # events per second posted (default 20; 0: unlimited)
    SCREENPOP_SECONDS=30 make bench # length of each of the four load runs (default 15)
    DESKS=1000 DESK_CALL_RATE=50 make bench  # live desks held open, calls posted per second
    BENCH_ONLY=dates,events make bench  # only these (refresh, import, ml, dates, campaign,
                                        # screenpop, events, scorecard, sla, reach, desks);
                                        # the report says which ran
    BENCH_REUSE=1 make bench        # the refresh reuses the database built before (BENCH_DB);
                                    # its first refresh then finds the last run's rows, not
                                    # empty tables: build afresh for a run to publish

The date-trigger benchmark times the daily time-events pass over SCALE customers with five
date rules, against the same pass without them and the pass run again (idempotent).
The screen-pop benchmark needs `wrk` (Debian: apt-get install wrk); it runs against its own
database of SCALE customers, served by gunicorn as configured for production, beside a
/healthz baseline under the same load. The event benchmark starts a real Celery worker and
beat and gunicorn, posts EVENTS complaint events through the API and measures event to
enrollment. The desk benchmark holds DESKS live desks open on the stream server (uvicorn) and
posts calls to them through the CTI webhook, measuring ring-to-desk latency at the client and
the screen-pop with and without the desks, beside the threaded stream it replaced (needs `wrk`
and git). The scorecard benchmark times one week's agent scorecards at SCALE customers
against the care KPIs of the same week.

Each benchmark compares against a baseline measured in the same run where there is one (the
refresh against the usual read-everything-into-pandas approach, one SQL GROUP BY in PostgreSQL
and DuckDB fed by COPY), because this machine is shared and noisy: ratios next to absolute
figures, by wall time. Results go to bench/results/latest.json (and a time-stamped copy);
`python scripts/perf_doc.py --publish bench/results/latest.json` keeps a run in
bench/results/published/ (committed) and renders its figures into docs/performance.md.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import import_orders  # noqa: E402 - needs the project root on the path

RESULTS = ROOT / "bench" / "results"
DEFAULT_SCALE = 50_000


# The server settings the refresh's writes depend on, recorded with each run: the write phases
# move with the checkpoints max_wal_size allows and the pages shared_buffers holds. And JIT,
# which the SQL baseline runs with as the server says (the refresh turns it off for itself).
SERVER_SETTINGS = (
    "autovacuum",
    "checkpoint_timeout",
    "jit",
    "max_wal_size",
    "shared_buffers",
    "wal_compression",
    "work_mem",
)


def _machine() -> dict[str, object]:
    import psutil
    import psycopg

    with psycopg.connect(
        os.environ["DATABASE_URL"].replace("postgres://", "postgresql://", 1)
    ) as conn:
        server = conn.execute("SHOW server_version").fetchone()[0]
        settings = dict(
            conn.execute(
                "SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY(%s) "
                "ORDER BY name",
                [list(SERVER_SETTINGS)],
            ).fetchall()
        )
    versions = {}
    for package in ("django", "pandas", "numpy", "scikit-learn", "psycopg", "celery", "duckdb"):
        try:
            from importlib.metadata import version

            versions[package] = version(package)
        except Exception:  # noqa: BLE001 - a missing package is reported as such
            versions[package] = "missing"
    return {
        "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "postgres": server,
        "postgres_settings": settings,
        "platform": platform.platform(),
        "packages": versions,
    }


def _json_of(command: list[str]) -> dict:
    """A benchmark's JSON report. One that exits non-zero after printing its report (its own
    check failed: events lost, a baseline that did nothing) keeps its figures, marked with
    the error, so the failure shows with what it measured; one that printed none is the
    error alone."""
    result = subprocess.run(
        command, cwd=ROOT, env=os.environ, capture_output=True, text=True, check=False
    )
    text = result.stdout.strip()
    start = text.find("{")
    try:
        report = json.loads(text[start:]) if start >= 0 else None
    except json.JSONDecodeError:
        report = None
    if result.returncode == 0 and report is not None:
        return report
    if result.returncode == 0:
        return {"error": f"no JSON report: {text[-2000:]}"}
    if report is None:
        return {"error": (result.stderr or result.stdout)[-2000:]}
    return {**report, "error": f"exit code {result.returncode}: the benchmark's own check failed"}


BENCHMARKS = (
    "refresh",
    "import",
    "ml",
    "dates",
    "campaign",
    "screenpop",
    "events",
    "scorecard",
    "sla",
    "reach",
    "desks",
)


def _selected() -> tuple[str, ...]:
    """The benchmarks BENCH_ONLY names (all by default); an unknown name stops the run."""
    names = [name.strip() for name in os.environ.get("BENCH_ONLY", "").split(",") if name.strip()]
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        raise SystemExit(f"BENCH_ONLY: unknown {', '.join(unknown)}; use {', '.join(BENCHMARKS)}")
    return tuple(names) or BENCHMARKS


def main() -> int:
    scale = int(os.environ.get("SCALE", DEFAULT_SCALE))
    selected = _selected()
    python = sys.executable
    report: dict[str, object] = {
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "scale": scale,
        "benchmarks": list(selected),
        "machine": _machine(),
    }
    print(f"[bench] scale {scale:,} customers", flush=True)
    if "refresh" in selected:
        print("[bench] segment refresh vs. pandas, SQL and DuckDB baselines ...", flush=True)
        reuse = ["--reuse"] if os.environ.get("BENCH_REUSE") == "1" else []
        report["segment_refresh"] = _json_of(
            [python, "bench/refresh.py", "--customers", str(scale), *reuse]
        )
    if "import" in selected:
        print("[bench] CSV import ...", flush=True)
        orders = min(scale * 10, 1_000_000)
        try:
            report["csv_import"] = import_orders.run(
                orders=orders, customers=max(scale // 10, 1000)
            )
        except Exception as exc:  # noqa: BLE001 - one failed benchmark must not hide the others
            report["csv_import"] = {"error": f"{exc.__class__.__name__}: {exc}"}
    if "ml" in selected:
        print("[bench] churn model and clusters on a synthetic frame ...", flush=True)
        report["segments_ml"] = _json_of([python, "bench/segments_ml.py", "--rows", str(scale)])
    if "dates" in selected:
        print("[bench] time-events pass with five date rules vs. without ...", flush=True)
        report["date_triggers"] = _json_of(
            [python, "bench/date_triggers.py", "--customers", str(scale)]
        )
    if "campaign" in selected:
        print("[bench] campaign to a segment: audience and task creation ...", flush=True)
        report["campaign"] = _json_of([python, "bench/campaign.py", "--customers", str(scale)])
    if "screenpop" in selected:
        print("[bench] screen-pop under load (gunicorn, wrk) ...", flush=True)
        report["screenpop"] = _json_of(
            [
                python,
                "bench/screenpop.py",
                "--customers",
                str(scale),
                "--seconds",
                os.environ.get("SCREENPOP_SECONDS", "15"),
            ]
        )
    if "events" in selected:
        print("[bench] event to enrollment (API, Celery worker and beat) ...", flush=True)
        report["event_to_enrollment"] = _json_of(
            [
                python,
                "bench/events.py",
                "--events",
                os.environ.get("EVENTS", "1000"),
                "--rate",
                os.environ.get("EVENT_RATE", "20"),
            ]
        )
    if "scorecard" in selected:
        print("[bench] agent scorecards of a week vs. the care KPIs ...", flush=True)
        report["scorecard"] = _json_of([python, "bench/scorecard.py", "--customers", str(scale)])
    if "sla" in selected:
        print(
            "[bench] ticket SLA sweep over SCALE open tickets vs. a per-ticket loop ...", flush=True
        )
        report["ticket_sla_sweep"] = _json_of([python, "bench/sla.py", "--tickets", str(scale)])
    if "reach" in selected:
        print("[bench] reachability pass: first fill, nightly, incremental, full ...", flush=True)
        report["reach"] = _json_of(
            [python, "bench/reach.py", "--customers", str(scale), "--tasks", str(5 * scale)]
        )
    if "desks" in selected:
        print("[bench] live desks on the stream server vs. the threaded stream ...", flush=True)
        report["desks"] = _json_of(
            [
                python,
                "bench/desks.py",
                "--customers",
                str(scale),
                "--desks",
                os.environ.get("DESKS", "1000"),
                "--rate",
                os.environ.get("DESK_CALL_RATE", "50"),
                "--seconds",
                os.environ.get("SCREENPOP_SECONDS", "15"),
            ]
        )
    report["finished_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    RESULTS.mkdir(parents=True, exist_ok=True)
    text = json.dumps(report, indent=2, default=str)
    (RESULTS / "latest.json").write_text(text)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    (RESULTS / f"bench-{stamp}.json").write_text(text)
    print(_summary(report))
    print(f"[bench] written to {RESULTS / 'latest.json'}")
    print("[bench] to publish it: python scripts/perf_doc.py --publish bench/results/latest.json")
    return 0


def _summary(report: dict) -> str:
    lines = ["", "benchmark                         figure"]
    lines += _refresh_summary(report.get("segment_refresh", {}))
    imports = report.get("csv_import", {})
    if "orders_seconds" in imports:
        lines.append(
            f"import {imports['orders']:,} orders        {imports['orders_seconds']:.1f} s"
        )
    ml = report.get("segments_ml", {})
    for key in (
        "churn_probabilities_seconds",
        "score_seconds",
        "cluster_customers_seconds",
        "cluster_assign_seconds",
    ):
        if key in ml:
            lines.append(f"{key:<34}{ml[key]:.2f} s")
    lines += _date_triggers_summary(report.get("date_triggers", {}))
    lines += _campaign_summary(report.get("campaign", {}))
    lines += _scorecard_summary(report.get("scorecard", {}))
    lines += _sla_summary(report.get("ticket_sla_sweep", {}))
    lines += _reach_summary(report.get("reach", {}))
    lines += _desks_summary(report.get("desks", {}))
    pop = report.get("screenpop", {})
    if "screenpop" in pop:
        card, health = pop["screenpop"], pop["healthz"]
        paced, health_paced = pop["screenpop_paced"], pop["healthz_paced"]
        errors = sum(run["non_2xx"] + run["socket_errors"] for run in (card, paced))
        lines += [
            f"screen-pop capacity (saturated)   {card['requests_per_second']:.0f} req/s "
            f"(/healthz {health['requests_per_second']:.0f} req/s), {errors} errors",
            f"screen-pop paced p50 / p99        {paced['p50_ms']:.1f} / {paced['p99_ms']:.1f} ms "
            f"at {paced['requests_per_second']:.0f} req/s "
            f"(/healthz p99 {health_paced['p99_ms']:.1f} ms)",
        ]
    events = report.get("event_to_enrollment", {})
    if "latency_ms" in events:
        latency = events["latency_ms"]
        lines += [
            f"event to enrollment p50 / p99     {latency['p50']:.0f} / {latency['p99']:.0f} ms",
            f"events processed                  {events['processed']:,} of "
            f"{events['scale']['events']:,}, {events['processed_per_second']} /s, "
            f"lost {events['lost']}",
        ]
    for name, section in report.items():
        if isinstance(section, dict) and "error" in section:
            lines.append(f"{name}: FAILED {section['error'][-300:]}")
    return "\n".join(lines)


REFRESH_LABELS = (
    ("refresh", "first, empty tables"),
    ("refresh_again", "after the first model fit"),
    ("refresh_next_day", "nightly, after a day"),
    ("refresh_next_day_full", "full pass, same moment"),
    ("refresh_quiet", "after a quiet stretch"),
    ("refresh_quiet_full", "full pass, same moment"),
    ("refresh_refit", "after the weekly refit"),
    ("refresh_monday", "Monday night"),
    ("refresh_monday_full", "full pass, same moment"),
)


def _refresh_summary(refresh: dict) -> list[str]:
    """Every refresh run and baseline by wall time (commit included), as in the JSON; each run
    against the no-change full pass and the fastest baseline of the same run."""
    if "ratios" not in refresh:
        return []
    ratios = refresh["ratios"]
    best = ratios["best_baseline"]
    lines = []
    for key, label in REFRESH_LABELS:
        run = refresh[key]
        lines.append(
            f"refresh, {label:<25}{run['seconds']:.1f} s ({run['path']}), "
            f"{ratios['over_full_pass'][key]:.2f}x the no-change full pass, "
            f"{ratios['over_best_baseline'][key]:.2f}x the {best} baseline, "
            f"peak {run['peak_rss_mb']:.0f} MB"
        )
    for name, baseline in refresh["baselines"].items():
        lines.append(
            f"baseline, {name:<24}{baseline['seconds']:.1f} s, "
            f"peak {baseline['peak_rss_mb']:.0f} MB"
        )
    checks = refresh["checks"]
    lines += [
        f"full passes changed nothing       nightly {checks['nightly_full_changed_nothing']}, "
        f"quiet {checks['quiet_full_changed_nothing']}, "
        f"Monday {checks['monday_full_changed_nothing']}",
        f"incremental path checked          {checks['incremental_checked']} "
        f"(quiet run {checks['quiet_path']}, "
        f"{checks['quiet_share_aggregated']:.2%} re-aggregated)",
        f"baselines agree                   {checks['baselines_agree']}",
    ]
    calendar = refresh["calendar"]
    lines.append(
        f"calendar                          first {calendar['first_refreshes']}, "
        f"nightly {calendar['nightly']}, Monday {calendar['monday_night']}"
    )
    missed = [name for name, target in refresh["targets"].items() if not target["met"]]
    lines.append(f"refresh targets missed            {', '.join(missed) or 'none'}")
    return lines


def _desks_summary(figures: dict) -> list[str]:
    if "with_desks" not in figures:
        return []
    means, ratios = figures["means"], figures["with_over_without"]
    with_means, without_means = means["with_desks"], means["without_desks"]
    desks_counted = figures.get("conditions", {"with_desks": 2, "without_desks": 2})
    lines = []
    for key in ("with_desks", "with_desks_again"):
        desks = figures[key]["desks"]
        lines.append(
            f"live desks open (stream server)   {desks['statuses'].get('200', 0):,} of "
            f"{desks['desks']:,}; calls {desks['calls_received']:,} received of "
            f"{desks['calls_posted']:,} posted, {desks['duplicates']} twice",
        )
        for kind, label in (
            ("ring_to_event_ms", "ring to desk"),
            ("ring_to_card_ms", "ring to card"),
        ):
            ms = desks[kind]
            if ms.get("count"):
                lines.append(
                    f"{label + ' p50 / p95 / p99':<34}{ms['p50']} / {ms['p95']} / {ms['p99']} ms"
                )
    lines.append(
        f"screen-pop with / without desks   "
        f"{with_means['screenpop_requests_per_second']:.0f} / "
        f"{without_means['screenpop_requests_per_second']:.0f} req/s "
        f"(x{ratios['screenpop_requests_per_second']}), paced p99 "
        f"{with_means['screenpop_paced_p99_ms']:.1f} / "
        f"{without_means['screenpop_paced_p99_ms']:.1f} ms (x{ratios['screenpop_paced_p99']}; "
        f"means of {desks_counted['with_desks']} and {desks_counted['without_desks']} "
        "conditions, A B B A, B A A B...)"
    )
    spread = figures.get("paced_p99_spread")
    if spread:
        lines.append(
            f"paced p99 spread within a side     with desks x{spread['with_desks']}, "
            f"without x{spread['without_desks']} (largest / smallest: the run's own noise)"
        )
    old = figures.get("threaded_baseline", {})
    if "desks" in old:
        lines.append(
            f"threaded stream (baseline)        {old['desks']['statuses'].get('200', 0):,} of "
            f"{old['desks']['desks']:,} desks held, calls {old['desks']['calls_received']:,} "
            f"received; screen-pop {old['screenpop']['requests_per_second']:.0f} req/s, paced "
            f"p99 {old['screenpop_paced']['p99_ms']:.1f} ms, /healthz paced p99 "
            f"{old['healthz_paced']['p99_ms']:.1f} ms"
        )
    return lines


def _reach_summary(reach: dict) -> list[str]:
    if "first_fill" not in reach:
        return []
    return [
        f"reachability, {label:<22}  {reach[key]['seconds']:.2f} s"
        for key, label in (
            ("first_fill", "first fill"),
            ("nothing_new", "a day later"),
            ("incremental", "1% with a new call"),
            ("full_again", "full, nothing to write"),
        )
    ]


def _date_triggers_summary(dates: dict) -> list[str]:
    if "with_date_rules" not in dates:
        return []
    base, with_dates, again = dates["baseline"], dates["with_date_rules"], dates["second_run"]
    return [
        f"time events, no date rules        {base['seconds']:.2f} s, {base['events']:,} events",
        f"time events, {len(dates['date_rules'])} date rules         "
        f"{with_dates['seconds']:.2f} s, {with_dates['events']:,} events "
        f"({with_dates['counts'].get('date_reached', 0):,} dates), "
        f"{dates['with_date_rules_over_baseline']:.2f}x the baseline",
        f"date rules' one statement         {dates['date_rules_statement_seconds']:.2f} s "
        f"(median of {dates['repeat']})",
        f"time events, second run           {again['seconds']:.2f} s, "
        f"{again['events']:,} new events",
    ]


def _campaign_summary(figures: dict) -> list[str]:
    if "campaign" not in figures:
        return []
    run, base = figures["campaign"], figures["baseline_per_event"]
    return [
        f"campaign of {run['members']:,} members        {run['run_seconds']:.2f} s, "
        f"{run['tasks']:,} tasks (preview {figures['preview']['seconds']:.2f} s)",
        f"campaign per member               {run['ms_per_member']:.3f} ms "
        f"(per-event path {base['ms_per_member']:.1f} ms)",
    ]


def _scorecard_summary(figures: dict) -> list[str]:
    if "scorecard" not in figures:
        return []
    card = figures["scorecard"]
    return [
        f"scorecards of a week, {card['cards']} agents  {card['seconds']:.2f} s "
        f"(care KPIs {figures['baseline_care_kpis']['seconds']:.2f} s, "
        f"x{figures['scorecard_over_care_kpis']})",
    ]


def _sla_summary(figures: dict) -> list[str]:
    if "sweep" not in figures:
        return []
    sweep, idle = figures["sweep"], figures["idle"]
    loop = figures["baseline_per_ticket_loop"]
    return [
        f"SLA sweep of {figures['tickets']:,} tickets   {sweep['seconds']:.2f} s "
        f"({sweep['warned']:,} warned, {sweep['breached']:,} breached, "
        f"{sweep['escalated']:,} escalated); again {idle['seconds']:.2f} s",
        f"SLA per ticket: sweep / loop      {figures['sweep_ms_per_ticket']:.3f} / "
        f"{loop['ms_per_ticket']:.2f} ms (x{figures['per_ticket_loop_over_sweep']})",
    ]


if __name__ == "__main__":
    sys.exit(main())
