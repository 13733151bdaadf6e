"""docs/performance.md's tables are rendered from the committed benchmark runs
(scripts/perf_doc.py): the page is never out of date with them, every row names its run, and
ratios stand beside the absolute figures they come from."""

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("perf_doc", ROOT / "scripts" / "perf_doc.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Dataclasses look their module up in sys.modules while the module executes.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


perf_doc = _load_script()

ALL_BLOCKS = "\n\n".join(
    f"<!-- perf-doc:begin {name} -->\n<!-- perf-doc:end {name} -->" for name in perf_doc.TABLES
)


def _refresh(
    seconds: float,
    *,
    aggregated: int,
    customers: int = 1000,
    written: int = 0,
    entered: int = 0,
    exited: int = 0,
) -> dict:
    return {
        "seconds": seconds,
        "phases": {"aggregate": seconds / 2, "write": seconds / 4, "total": seconds - 0.1},
        "commit_seconds": 0.1,
        "counts": {
            "aggregated": aggregated,
            "customers": customers,
            "metrics_written": written,
            "metrics_deleted": 0,
            "entered": entered,
            "exited": exited,
        },
        "peak_rss_mb": 300.0,
    }


def _desk_condition(
    *,
    rate: float,
    paced_p99: float,
    desks: int,
    opened: dict[str, int],
    received: int,
    duplicates: int = 0,
    ring: tuple[float, float, float] | None = None,
    paced: tuple[float, float, float] | None = None,
    saturated: tuple[float, float, float] | None = None,
) -> dict:
    """One condition of bench/desks.py: the screen-pop under wrk and what the desk client saw
    (100 calls posted; ring to desk p50 / p95 / p99 over the run, paced and saturated)."""

    def latency(figures: tuple[float, float, float] | None) -> dict:
        if figures is None:
            return {"count": 0}
        return {"count": 50, **dict(zip(("p50", "p95", "p99"), figures, strict=True))}

    return {
        "screenpop": {"requests_per_second": rate, "p99_ms": 150.0, "non_2xx": 0},
        "screenpop_paced": {
            "requests_per_second": 149.0,
            "p50_ms": 4.0,
            "p99_ms": paced_p99,
            "non_2xx": 0,
            "socket_errors": 0,
        },
        "healthz_paced": {"p99_ms": 5.0, "non_2xx": 0, "socket_errors": 0},
        "desks": {
            "desks": desks,
            "statuses": opened,
            "calls_posted": 100,
            "post_errors": 0,
            "calls_received": received,
            "duplicates": duplicates,
            "post_ms": {"count": 100, "p99": 90.0},
            "ring_to_event_ms": latency(ring),
            "ring_to_event_ms_while_paced": latency(paced),
            "ring_to_event_ms_while_saturated": latency(saturated),
            "ring_to_card_ms": {"count": 0},
        },
    }


DESKS = {
    "benchmark": "desks",
    "scale": {"customers": 1000},
    "load": {
        "desks": 10,
        "calls_per_second": 50.0,
        "cards_fetched": False,
        "gunicorn_threads_per_worker": 16,
        "baseline_gunicorn_threads_per_worker": "gunicorn.conf.py's default (64)",
    },
    "without_desks": _desk_condition(rate=500.0, paced_p99=10.0, desks=0, opened={}, received=0),
    "with_desks": _desk_condition(
        rate=460.0,
        paced_p99=12.0,
        desks=10,
        opened={"200": 10},
        received=100,
        ring=(5.0, 80.0, 250.0),
        paced=(4.0, 20.0, 30.0),
        saturated=(100.0, 200.0, 300.0),
    ),
    "stream_server_rss_mb": {"idle": 200.0, "after": 320.0},
    "threaded_baseline": {
        "commit": "bd2098417c5a0135f1a1b4fbf74897d4767e502b",
        **_desk_condition(
            rate=700.0,
            paced_p99=30.0,
            desks=10,
            opened={"200": 4, "503": 6},
            received=40,
            duplicates=1,
            ring=(6.0, 60.0, 90.0),
            paced=(5.0, 15.0, 25.0),
            saturated=(50.0, 80.0, 120.0),
        ),
    },
    "targets": {"ring_to_desk_p99_ms": 200, "screenpop_within": 0.1, "met": False},
}


REPORT = {
    "started_at": "2026-12-05T03:46:12+00:00",
    "scale": 1000,
    "machine": {
        "cores": 2,
        "memory_gb": 23.4,
        "load_average_at_start": [1.5, 1.25, 1.0],
        "python": "3.11.9",
        "postgres": "15.4",
        "postgres_settings": {"max_wal_size": "1GB", "shared_buffers": "128MB"},
    },
    "segment_refresh": {
        "scale": {"customers": 1000, "orders": 10000, "interactions": 5000},
        "refresh": _refresh(30.0, aggregated=1000, written=1000, entered=4000),
        "refresh_again": _refresh(6.0, aggregated=1000, written=1000),
        "refresh_next_day": _refresh(5.0, aggregated=1000, written=300, entered=40, exited=40),
        "refresh_next_day_full": _refresh(4.0, aggregated=1000),
        "refresh_quiet": _refresh(2.0, aggregated=12, written=12),
        "refresh_quiet_full": _refresh(4.2, aggregated=1000),
        "refresh_refit": _refresh(4.8, aggregated=12, written=1000, entered=30, exited=30),
        "refresh_monday": _refresh(5.6, aggregated=1000, written=1000, entered=30, exited=30),
        "refresh_monday_full": _refresh(4.1, aggregated=1000),
        "calendar": {"nightly": "Sunday 2026-11-29 02:30 CST"},
        "baselines": {
            "pandas": {"seconds": 20.0, "peak_rss_mb": 2048.0},
            "sql": {"seconds": 2.5, "peak_rss_mb": 30.0},
            "duckdb": {"seconds": 3.2, "peak_rss_mb": 150.0},
        },
        "incremental_equals_full": True,
    },
    "csv_import": {"error": "RuntimeError: the database went away"},
    "date_triggers": {
        "scale": {"customers": 1000},
        "date_rules": [{"field": "attr:due", "offset_days": -3, "at_hour": 9}] * 5,
        "baseline": {"seconds": 0.5, "events": 40},
        "with_date_rules": {"seconds": 1.25, "events": 60, "counts": {"date_reached": 20}},
        "date_rules_statement_seconds": 0.5,
        "second_run": {"seconds": 1.0, "events": 0},
    },
    "campaign": {
        "preview": {"seconds": 0.2},
        "campaign": {
            "members": 1000,
            "run_seconds": 0.5,
            "tasks": 1800,
            "ms_per_member": 0.5,
            "phases": {"freeze": 0.05, "enroll": 0.1, "plan": 0.2},
        },
        "second_start": {"new_tasks": 0},
        "baseline_per_event": {"ms_per_member": 20.0},
    },
    "ticket_sla_sweep": {
        "tickets": 1000,
        "attach": {"seconds": 0.8, "tickets": 1000},
        "expected": {"breaching": 100, "warning": 280},
        "sweep": {
            "seconds": 0.25,
            "warned": 280,
            "breached": 100,
            "escalated": 100,
            "attached": 0,
            "reassigned": 90,
        },
        "idle": {"seconds": 0.05, "warned": 0, "breached": 0, "escalated": 0, "attached": 0},
        "sweep_ms_per_ticket": 0.25,
        "baseline_per_ticket_loop": {"tickets": 200, "seconds": 0.5, "ms_per_ticket": 2.5},
    },
    "scorecard": {
        "scale": {"customers": 1000, "generate_seconds": 1.5},
        "rows": {"tasks": 1000, "tickets_with_sla": 100, "surveys": 433},
        "scorecard": {"cold_seconds": 0.9, "seconds": 0.6, "cards": 200, "teams": 10},
        "baseline_care_kpis": {"cold_seconds": 0.5, "seconds": 0.4},
        "sla_report_8_weeks": {"cold_seconds": 0.2, "seconds": 0.1},
        "reconciles": True,
    },
    "screenpop": {
        "scale": {"customers": 1000},
        "load": {"connections": 32, "seconds": 15, "paced_rate_per_second": 300},
        "healthz": {"requests_per_second": 1000.0, "non_2xx": 0, "socket_errors": 0},
        "screenpop": {"requests_per_second": 500.0, "non_2xx": 1, "socket_errors": 0},
        "healthz_paced": {"requests_per_second": 290.0, "p50_ms": 2.0, "p99_ms": 5.0},
        "screenpop_paced": {
            "requests_per_second": 285.0,
            "p50_ms": 4.0,
            "p99_ms": 15.0,
            "non_2xx": 0,
            "socket_errors": 2,
        },
    },
    "desks": DESKS,
}


def test_documents_are_rendered_from_the_committed_runs() -> None:
    """Fails when docs/performance.md or the README and bench/results/published/ disagree: run
    `make perf-doc` and commit them."""
    runs = perf_doc.runs_load(perf_doc.PUBLISHED)
    for path, base in perf_doc.documents():
        current = path.read_text(encoding="utf-8")
        assert perf_doc.render(current, runs, base=base) == current, path


def test_the_readme_cites_its_figures_from_a_generated_block_naming_runs() -> None:
    readme = perf_doc.README.read_text(encoding="utf-8")
    block = readme.split("<!-- perf-doc:begin summary -->")[1].split("<!-- perf-doc:end summary")
    rows = [line for line in block[0].splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) > 1
    for row in rows[1:]:
        assert "](bench/results/published/" in row, row


def test_published_runs_are_reports_of_make_bench() -> None:
    for run in perf_doc.runs_load(perf_doc.PUBLISHED):
        assert run.name == perf_doc.run_name(run.report)
        assert {"started_at", "scale", "machine"} <= run.report.keys()


def test_rows_name_their_run_and_ratios_stand_beside_the_figures(tmp_path: Path) -> None:
    (tmp_path / "20261205T034612Z.json").write_text(json.dumps(REPORT))
    rendered = perf_doc.render(ALL_BLOCKS, perf_doc.runs_load(tmp_path))

    link = "[20261205T034612Z](../bench/results/published/20261205T034612Z.json)"
    for name in perf_doc.TABLES:
        block = rendered.split(f"begin {name} -->")[1].split("perf-doc:end")[0]
        # The run has every benchmark but two: their tables have no row.
        assert (link in block) == (name not in ("events", "ml")), name
    # The machine, with the server settings the write phases depend on.
    assert (
        "| 2 | 23.4 GB | 15.4 | max_wal_size 1GB, shared_buffers 128MB | 1.50 / 1.25 / 1.00 |"
        in (rendered)
    )
    # The refresh: three baselines, the fastest named; both full passes changed nothing and
    # the quiet run before its own was incremental.
    assert (
        "| 20.0 s | 2.50 s | 3.20 s | SQL GROUP BY | 300 MB / 2.00 GB | yes | yes | yes |"
        in rendered
    )
    # Each refresh by wall time against the no-change full pass, the fastest baseline and each.
    assert (
        "| nightly, after a day | full pass | 5.00 s | 1.25× | 2.00× | 0.25× | 2.00× | 1.56× "
        "| 300 MB | 300 / 40 / 40 |" in rendered
    )
    assert (
        "| after a quiet stretch | incremental (12 of 1,000 re-aggregated) | 2.00 s | 0.50× "
        "| 0.80× |" in rendered
    )
    # The weekly refit, apart from the first fit (whose potential-value entries are a one-off).
    assert (
        "| after the weekly refit | incremental (12 of 1,000 re-aggregated) | 4.80 s | 1.20× "
        in rendered
    )
    assert "| after the first model fit | full pass | 6.00 s | 1.50× " in rendered
    # The Monday night: a day, the weekly fits and the value model's new week.
    assert "| Monday night: a day, the weekly fits, the new week | full pass | 5.60 s | 1.40× " in (
        rendered
    )
    # The targets against the no-change full pass and the fastest baseline of the same run.
    assert (
        "| 1,000 | 1.25× met | 0.50× met | 1.50× **missed** | 1.20× met | 1.40× **missed** "
        "| 7.50× **missed** | 12.00× **missed** | 300 MB met |" in rendered
    )
    # Phases and the commit after them, each beside its ratio to the fastest baseline.
    assert "| nightly, after a day | 2.50 s (1.00×) | – | – | – | – | 1.25 s (0.50×) |" in (
        rendered
    )
    assert "| 0.10 s (0.04×) | 4.90 s (1.96×) | 5.00 s (2.00×) |" in rendered
    # The screen-pop against /healthz of the same run, errors of both of its runs counted.
    assert "| 500 req/s | 1,000 req/s | 0.50× |" in rendered
    assert "| 4.0 ms | 15.0 ms | 5.0 ms | 3.00× | 3 |" in rendered
    # The date rules' pass against the same pass without them, and its second run adds nothing.
    assert (
        "| 1,000 | 5 | 0.50 s (40 events) | 1.25 s (60 events) | 2.50× | 0.50 s | 20 | 1.00 s | 0 |"
        in rendered
    )
    # The campaign's run per member beside the per-event path of the same run.
    assert (
        "| 1,000 | 0.20 s | 0.05 s | 0.10 s | 0.20 s | 0.50 s | 1,800 | 0.500 / 20.0 ms | 0 |"
        in (rendered)
    )
    # The SLA sweep per ticket beside the per-ticket loop of the same run, checked as the
    # benchmark checks it; the scorecards beside the care KPIs of the same week.
    assert (
        "| 1,000 | 0.80 s | 0.25 s | 280 / 100 / 100 | 90 | 0.05 s | 0.250 / 2.50 ms | 10.00× "
        "| 200 | yes |" in rendered
    )
    assert (
        "| 1,000 | 1,000 / 100 / 433 | 200 (10) | 0.60 s (cold 0.90 s) | 0.40 s (cold 0.50 s) "
        "| 1.50× | 0.10 s (cold 0.20 s) | yes |" in rendered
    )
    # A benchmark that failed says so instead of showing figures; one that did not run adds no
    # row, and its table without rows says how to publish one.
    import_block = rendered.split("begin import -->")[1]
    assert "failed (its error is in the run's file)" in import_block.split("perf-doc:end")[0]
    events_block = rendered.split("begin events -->")[1].split("perf-doc:end")[0]
    assert link not in events_block
    assert "run `BENCH_ONLY=events make bench`" in events_block


def test_a_sweep_that_missed_its_clocks_or_moved_again_is_marked(tmp_path: Path) -> None:
    sla = REPORT["ticket_sla_sweep"]
    report = {
        **REPORT,
        "ticket_sla_sweep": {**sla, "idle": {**sla["idle"], "breached": 3}},
        "scorecard": {**REPORT["scorecard"], "reconciles": False},
    }
    (tmp_path / "20261205T034612Z.json").write_text(json.dumps(report))
    rendered = perf_doc.render(ALL_BLOCKS, perf_doc.runs_load(tmp_path))
    sla_block = rendered.split("begin sla -->")[1].split("perf-doc:end")[0]
    assert "| 200 | **no** |\n" in sla_block
    scorecard_block = rendered.split("begin scorecard -->")[1].split("perf-doc:end")[0]
    assert "| 0.10 s (cold 0.20 s) | **no** |\n" in scorecard_block


def test_without_a_published_run_each_table_says_how_to_publish_one(tmp_path: Path) -> None:
    rendered = perf_doc.render(ALL_BLOCKS, perf_doc.runs_load(tmp_path))
    assert rendered.count(perf_doc.NO_RUN) == len(perf_doc.TABLES)


def test_rendering_twice_changes_nothing(tmp_path: Path) -> None:
    (tmp_path / "20261205T034612Z.json").write_text(json.dumps(REPORT))
    runs = perf_doc.runs_load(tmp_path)
    once = perf_doc.render("prose\n\n" + ALL_BLOCKS + "\n\nmore prose\n", runs)
    assert perf_doc.render(once, runs) == once
    assert once.startswith("prose\n\n")
    assert once.endswith("\n\nmore prose\n")


@pytest.mark.parametrize(
    "document",
    [
        "<!-- perf-doc:begin nonsense -->\n<!-- perf-doc:end nonsense -->",
        "<!-- perf-doc:begin refresh -->\nno end",
        "<!-- perf-doc:end refresh -->",
    ],
)
def test_unknown_or_unmatched_markers_are_errors(document: str) -> None:
    with pytest.raises(ValueError, match="unknown table|unmatched marker"):
        perf_doc.render(document, [])


def test_publish_names_the_run_by_its_start_time_and_check_sees_the_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = tmp_path / "performance.md"
    doc.write_text("# figures\n\n" + ALL_BLOCKS + "\n")
    published = tmp_path / "published"
    readme = tmp_path / "README.md"
    readme.write_text(
        "# the project\n\n<!-- perf-doc:begin summary -->\n<!-- perf-doc:end summary -->\n"
    )
    monkeypatch.setattr(perf_doc, "DOC", doc)
    monkeypatch.setattr(perf_doc, "README", readme)
    monkeypatch.setattr(perf_doc, "PUBLISHED", published)
    monkeypatch.setattr(perf_doc, "ROOT", tmp_path)
    assert perf_doc.main([]) == 0
    assert perf_doc.main(["--check"]) == 0

    latest = tmp_path / "latest.json"
    latest.write_text(json.dumps({**REPORT, "started_at": "2026-12-06T11:00:00+08:00"}))
    monkeypatch.setattr(perf_doc, "DOC", tmp_path / "stale.md")
    (tmp_path / "stale.md").write_text(doc.read_text())
    (published / "20261206T030000Z.json").parent.mkdir(exist_ok=True)
    assert perf_doc.publish(latest, published) == published / "20261206T030000Z.json"
    assert perf_doc.main(["--check"]) == 1
    assert "out of date" in capsys.readouterr().err
    assert perf_doc.main([]) == 0
    assert perf_doc.main(["--check"]) == 0
    assert "20261206T030000Z" in (tmp_path / "stale.md").read_text()
    assert "[20261206T030000Z](bench/results/published/20261206T030000Z.json)" in readme.read_text()


def _with_refresh(refresh: dict, **changes: object) -> dict:
    return {**REPORT, "segment_refresh": {**refresh, **changes}}


def test_a_hollow_incremental_check_is_marked(tmp_path: Path) -> None:
    """The incremental path is checked only by an incremental run whose full pass of the same
    moment changed nothing; a run of the older format, with the pandas baseline alone, checked
    its nightly run."""
    refresh = REPORT["segment_refresh"]
    (tmp_path / "20261205T034612Z.json").write_text(
        json.dumps(_with_refresh(refresh, refresh_quiet=_refresh(2.0, aggregated=1000)))
    )
    (tmp_path / "20261205T044612Z.json").write_text(
        json.dumps(
            _with_refresh(refresh, refresh_quiet_full=_refresh(4.2, aggregated=1000, entered=1))
        )
    )
    old = {
        key: value
        for key, value in refresh.items()
        if key
        not in (
            "refresh_quiet",
            "refresh_quiet_full",
            "refresh_refit",
            "refresh_monday",
            "refresh_monday_full",
            "calendar",
            "baselines",
        )
    }
    old["baseline"] = {"seconds": 20.0, "peak_rss_mb": 2048.0}
    (tmp_path / "20261205T054612Z.json").write_text(json.dumps({**REPORT, "segment_refresh": old}))
    rendered = perf_doc.render(ALL_BLOCKS, perf_doc.runs_load(tmp_path))
    block = rendered.split("begin refresh -->")[1].split("perf-doc:end")[0]
    rows = [line for line in block.splitlines() if line.startswith("| [")]
    assert rows[0].endswith("| yes | **no** | yes |")  # the quiet run was a full pass
    assert rows[1].endswith("| **no** | **no** | yes |")  # its full pass entered a member
    # The older run: pandas alone, its nightly run a full pass, so nothing checked, and its
    # days not pinned to the week.
    assert rows[2].endswith(
        "| 20.0 s | – | – | pandas | 300 MB / 2.00 GB | yes | **no** | **no** |"
    )
    targets = rendered.split("begin refresh-targets -->")[1].split("perf-doc:end")[0]
    assert (
        "| 1,000 | 1.25× met | – | 1.50× **missed** | – | – | 7.50× **missed** "
        "| 1.50× **missed** |" in targets
    )


def test_the_summary_takes_each_figure_from_the_largest_run_that_has_it(tmp_path: Path) -> None:
    large = {**REPORT, "started_at": "2026-12-05T01:00:00+00:00", "scale": 1_000_000}
    large["segment_refresh"] = {
        **REPORT["segment_refresh"],
        "scale": {"customers": 1_000_000, "orders": 10_000_000, "interactions": 5_000_000},
    }
    del large["screenpop"]
    (tmp_path / "20261205T010000Z.json").write_text(json.dumps(large))
    (tmp_path / "20261205T034612Z.json").write_text(json.dumps(REPORT))
    document = "<!-- perf-doc:begin summary -->\n<!-- perf-doc:end summary -->\n"
    rendered = perf_doc.render(document, perf_doc.runs_load(tmp_path), base="")

    large_link = "[20261205T010000Z](bench/results/published/20261205T010000Z.json)"
    small_link = "[20261205T034612Z](bench/results/published/20261205T034612Z.json)"
    assert (
        "| segment refresh, full pass with nothing to change | 1,000,000 | 4.00 s "
        f"| 1.60× the fastest baseline (SQL GROUP BY), 0.20× pandas | {large_link} |" in rendered
    )
    assert (
        "| segment refresh, nightly after a day of activity | 1,000,000 | 5.00 s (full pass) "
        f"| 1.25× the full pass | {large_link} |" in rendered
    )
    assert (
        "| segment refresh, first into empty tables | 1,000,000 | 30.0 s | 7.50× the full pass, "
        f"12.00× the fastest baseline (SQL GROUP BY) | {large_link} |" in rendered
    )
    # Only the smaller run has the screen-pop.
    assert (
        f"| screen-pop, paced p99 | 1,000 | 15.0 ms at 285 req/s | 3.00× /healthz (5.0 ms) "
        f"| {small_link} |" in rendered
    )
    assert "../bench" not in rendered


def test_the_desk_tables_check_each_target_against_the_same_run(tmp_path: Path) -> None:
    """Issue 20's thousand desks: desks opened and calls delivered beside the threaded stream of
    the same run, ring to desk p99 paced, saturated and over the run, and the screen-pop with
    the desks open over the same run without them, each against its target."""
    (tmp_path / "20261205T034612Z.json").write_text(json.dumps(REPORT))
    rendered = perf_doc.render(ALL_BLOCKS, perf_doc.runs_load(tmp_path))

    link = "[20261205T034612Z](../bench/results/published/20261205T034612Z.json)"
    desks = rendered.split("begin desks -->")[1].split("perf-doc:end")[0]
    assert (
        f"| {link} | 10 desks, 50 calls/s | 10 of 10 / 4 of 10 (6 answered 503) "
        "| 100 of 100, 0 twice / 40 of 100, 1 twice | yes "
        "| 30.0 ms met | 300.0 ms **missed** | 250.0 ms **missed** "
        "| 460 ÷ 500 req/s: 0.92× met | 12.0 ms ÷ 10.0 ms: 1.20× **missed** | **missed** |"
    ) in desks
    # Each condition, the threads it ran with and the stream server's memory beside it.
    runs = rendered.split("begin desk-runs -->")[1].split("perf-doc:end")[0]
    assert (
        f"| {link} | no desk open | 16 | none | – | 90.0 ms | – | – | – "
        "| 500 req/s (150.0 ms) | 4.0 / 10.0 ms at 149 req/s | 5.0 ms | 0 | 200 MB idle |"
    ) in runs
    assert (
        f"| {link} | 10 desks on the stream server | 16 | 10 of 10 | 100 of 100, 0 twice "
        "| 90.0 ms | 4.0 / 20.0 / 30.0 ms | 100.0 / 200.0 / 300.0 ms | 5.0 / 80.0 / 250.0 ms "
        "| 460 req/s (150.0 ms) | 4.0 / 12.0 ms at 149 req/s | 5.0 ms | 0 "
        "| 320 MB with the desks |"
    ) in runs
    assert (
        f"| {link} | threaded stream (baseline), code at bd20984 "
        "| gunicorn.conf.py's default (64) | 4 of 10 (6 answered 503) | 40 of 100, 1 twice "
        "| 90.0 ms | 5.0 / 15.0 / 25.0 ms |"
    ) in runs
    # The README: the same figures from the same run, each naming it.
    summary = perf_doc.render(
        "<!-- perf-doc:begin summary -->\n<!-- perf-doc:end summary -->\n",
        perf_doc.runs_load(tmp_path),
        base="",
    )
    readme_link = "[20261205T034612Z](bench/results/published/20261205T034612Z.json)"
    assert (
        "| 10 live desks opened, calls delivered | 1,000 | 10 of 10; 100 of 100, 0 twice "
        f"| threaded stream: 4 of 10 (6 answered 503); 40 of 100, 1 twice | {readme_link} |"
    ) in summary
    assert (
        "| 10 live desks, ring to desk p99 while the API is saturated | 1,000 | 300.0 ms "
        f"| target < 200 ms **missed**; threaded stream 120.0 ms (its open desks only) "
        f"| {readme_link} |"
    ) in summary
    assert (
        "| screen-pop paced p99, 10 live desks open | 1,000 | 12.0 ms | 1.20× without them "
        f"(10.0 ms): target ≤ 1.10× **missed** | {readme_link} |"
    ) in summary


def test_desk_tables_take_the_repeated_conditions_together(tmp_path: Path) -> None:
    """A run in the order A B B A: the ratios are of the means of each pair (the single
    conditions' ratios would say otherwise), the ring and the desks opened are the worse
    with-desks condition's, the calls of both are summed, and each condition has its row with
    the CPU the stream server and the desk client used."""
    repeated = json.loads(json.dumps(DESKS))
    repeated["with_desks_again"] = _desk_condition(
        rate=540.0,
        paced_p99=9.0,
        desks=10,
        opened={"200": 9, "0": 1},
        received=100,
        ring=(5.0, 60.0, 120.0),
        paced=(4.0, 30.0, 45.0),
        saturated=(90.0, 110.0, 150.0),
    )
    repeated["without_desks_again"] = _desk_condition(
        rate=500.0, paced_p99=10.0, desks=0, opened={}, received=0
    )
    for key, stream, client in (("with_desks", 1.8, 0.9), ("without_desks_again", 0.3, 0.6)):
        repeated[key]["stream_server_cpu_seconds"] = stream
        repeated[key]["desks"].update(client_cpu_seconds=client, calls_seconds=18.0)
    repeated["means"] = {
        "with_desks": {"screenpop_requests_per_second": 500.0, "screenpop_paced_p99_ms": 10.5},
        "without_desks": {"screenpop_requests_per_second": 500.0, "screenpop_paced_p99_ms": 10.0},
    }
    (tmp_path / "20261206T170000Z.json").write_text(json.dumps({**REPORT, "desks": repeated}))
    rendered = perf_doc.render(ALL_BLOCKS, perf_doc.runs_load(tmp_path))

    desks = rendered.split("begin desks -->")[1].split("perf-doc:end")[0]
    assert (
        "| 10 desks, 50 calls/s | 9 of 10 (1 answered nothing) / 4 of 10 (6 answered 503) "
        "| 200 of 200, 0 twice / 40 of 100, 1 twice | yes "
        "| 45.0 ms met | 300.0 ms **missed** | 250.0 ms **missed** "
        "| 500 ÷ 500 req/s: 1.00× met | 10.5 ms ÷ 10.0 ms: 1.05× met |"
    ) in desks
    runs = rendered.split("begin desk-runs -->")[1].split("perf-doc:end")[0]
    rows = [line for line in runs.splitlines() if "20261206T170000Z" in line]
    assert [row.split(" | ")[1] for row in rows] == [
        "no desk open",
        "10 desks on the stream server",
        "10 desks on the stream server, again",
        "no desk open, again",
        "threaded stream (baseline), code at bd20984",
    ]
    assert rows[1].endswith("| 320 MB with the desks | stream server 10%, desk client 5% |")
    assert rows[2].endswith("| – | – |")
    assert rows[3].endswith("| – | stream server 2%, desk client 3% |")


def test_desk_tables_leave_out_runs_without_it_and_mark_a_failed_baseline(
    tmp_path: Path,
) -> None:
    """The desk benchmark runs alone, so runs without it add no rows; a faster screen-pop with
    the desks open is no miss, a call delivered twice is, and a baseline that failed says so."""
    without = {key: value for key, value in REPORT.items() if key != "desks"}
    (tmp_path / "20261205T010000Z.json").write_text(json.dumps(without))
    assert "run `BENCH_ONLY=desks make bench`" in perf_doc.desks_table(perf_doc.runs_load(tmp_path))

    better = json.loads(json.dumps(DESKS))
    better["with_desks"]["screenpop"]["requests_per_second"] = 600.0
    better["with_desks"]["screenpop_paced"]["p99_ms"] = 5.0
    better["with_desks"]["desks"]["duplicates"] = 1
    better["threaded_baseline"] = {"error": "CalledProcessError: git worktree add failed"}
    (tmp_path / "20261205T034612Z.json").write_text(json.dumps({**REPORT, "desks": better}))
    rendered = perf_doc.render(ALL_BLOCKS, perf_doc.runs_load(tmp_path))

    desks = rendered.split("begin desks -->")[1].split("perf-doc:end")[0]
    assert "20261205T010000Z" not in desks
    assert "| 100 of 100, 1 twice / – | **no** |" in desks
    assert "| 600 ÷ 500 req/s: 1.20× met | 5.0 ms ÷ 10.0 ms: 0.50× met |" in desks
    runs = rendered.split("begin desk-runs -->")[1].split("perf-doc:end")[0]
    assert "20261205T010000Z" not in runs
    assert (
        "| threaded stream (baseline) | gunicorn.conf.py's default (64) "
        "| failed (its error is in the run's file) | – |"
    ) in runs


def test_the_ml_table_shows_the_score_phase_and_the_assignment_where_a_run_has_them(
    tmp_path: Path,
) -> None:
    ml = {
        "rows": 1_000_000,
        "churn_fit_seconds": 2.0,
        "churn_holdout_auc": 0.84,
        "churn_probabilities_seconds": 1.5,
        "cluster_customers_seconds": 3.0,
        "cluster_k": 4,
        "cluster_silhouette": 0.41,
        "peak_rss_mb": 900.0,
    }
    newer = {**ml, "score_seconds": 0.66, "cluster_assign_seconds": 0.14}
    (tmp_path / "20261205T034612Z.json").write_text(json.dumps({**REPORT, "segments_ml": ml}))
    (tmp_path / "20261206T034612Z.json").write_text(
        json.dumps({**REPORT, "started_at": "2026-12-06T03:46:12+00:00", "segments_ml": newer})
    )
    rendered = perf_doc.render(ALL_BLOCKS, perf_doc.runs_load(tmp_path))
    block = rendered.split("begin ml -->")[1].split("perf-doc:end")[0]
    assert "| score phase | clusters | clusters: assign all |" in block
    assert "| 1.50 s | – | 3.00 s | – | 4 (0.41) |" in block
    assert "| 1.50 s | 0.66 s | 3.00 s | 0.14 s | 4 (0.41) |" in block
