"""The segment refresh: one run computes every customer's metrics and scores and moves segment
memberships, atomically.

All writes of a run happen in one transaction: if anything fails, metrics and members stay as
they were and the run is marked failed with the error. Requesting a run, the executor's lock
(one refresh at a time) and its progress are segments.services.refresh_runs.
"""

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import pandas as pd
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Subquery
from django.utils import timezone

from callcenter.jobs import enqueue_on_commit
from segments.choices import RunStatus, SegmentKind
from segments.models import (
    ChurnModel,
    ClusterProfile,
    RefreshRun,
    RfmSegmentDefinition,
    Segment,
    SegmentSettings,
    SegmentSnapshot,
    ValueModel,
)
from segments.selectors import refresh_latest_succeeded
from segments.services.behaviour import behaviour_ahead
from segments.services.churn import (
    ChurnModelUnusable,
    churn_model_current,
    churn_probabilities,
)
from segments.services.clusters import FittedClusters, cluster_customers
from segments.services.memberships import (
    builtin_memberships_refresh,
    builtin_sizes,
    rule_memberships_refresh,
)
from segments.services.metrics import (
    dirty_log_consume,
    dirty_log_snapshot,
    metrics_frame,
    metrics_frame_incremental,
    metrics_stored_rows,
    metrics_stored_rows_ahead,
    transaction_jit_off,
)
from segments.services.refresh_runs import (
    PhaseClock,
    ProgressCallback,
    refresh_failure_record,
    refresh_lock_release,
    refresh_lock_wait,
    refresh_progress_clear,
    segment_refresh_request,
)
from segments.services.scoring import (
    RfmCell,
    ScoringSettings,
    lifecycle_stages,
    rfm_scores,
    rfm_segments,
    value_potentials,
    value_tiers,
)
from segments.services.value_model import VALUE_COLUMNS, value_model_current, value_scores
from segments.services.writeback import metrics_changes, metrics_write
from segments.signals import segment_memberships_changed

logger = logging.getLogger(__name__)

CHURN_RETRY_AFTER = dt.timedelta(days=1)
# An incremental refresh builds on the stored metrics when the last run is at most this much
# older and at most this share of the customers need re-aggregating; else one full pass, which
# reads the covering indexes in customer order and is the cheaper of the two once a large share
# changed: reading every stored row back costs the incremental pass about half a full one, and
# each re-aggregated customer one index probe per history (docs/performance.md, the refresh).
INCREMENTAL_MAX_STEP = dt.timedelta(days=31)
INCREMENTAL_MAX_SHARE = 0.2
# Cluster centres are refitted when older than this (the weekly job); in between,
# customers are assigned to the stored centres.
CLUSTER_REFIT_AFTER = dt.timedelta(days=7)


def as_of_from_date(day: dt.date) -> dt.datetime:
    """The start of `day` in TIME_ZONE (what `--as-of D` means)."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def _scoring_settings(settings: SegmentSettings) -> ScoringSettings:
    return ScoringSettings(
        new_days=settings.new_days,
        dormant_days=settings.dormant_days,
        lost_days=settings.lost_days,
        churn_threshold=settings.churn_threshold,
        rhythm_factor=settings.rhythm_factor,
        rhythm_min_orders=settings.rhythm_min_orders,
        tier_method=settings.tier_method,
        high_threshold=float(settings.high_threshold),
        medium_threshold=float(settings.medium_threshold),
        business_high_threshold=float(settings.business_high_threshold),
        business_medium_threshold=float(settings.business_medium_threshold),
        high_percentile=settings.high_percentile,
        medium_percentile=settings.medium_percentile,
    )


def score_frame(
    frame: pd.DataFrame, *, grid: list[RfmCell], scoring: ScoringSettings
) -> pd.DataFrame:
    """RFM scores and segment, value tier and average order value (lifecycle comes later,
    once the churn probabilities are known)."""
    rfm_scores(frame)
    frame["rfm_segment"] = rfm_segments(frame, grid)
    frame["value_tier"] = value_tiers(frame, scoring)
    frequency = frame["frequency"].where(frame["frequency"] > 0)
    frame["avg_order_value"] = frame["monetary"] / frequency
    return frame


def _cluster_segments_sync(profiles: list[dict]) -> None:
    """One built-in segment per cluster found; clusters no longer found become inactive."""
    numbers = {str(p["number"]) for p in profiles}
    for profile in profiles:
        Segment.objects.update_or_create(
            kind=SegmentKind.CLUSTER,
            key=str(profile["number"]),
            defaults={
                "name": f"{profile['number']}. {profile['label']}",
                "slug": f"cluster-{profile['number']}",
                "is_active": True,
            },
        )
    Segment.objects.filter(kind=SegmentKind.CLUSTER).exclude(key__in=numbers).update(
        is_active=False
    )


def _snapshots_write(run: RefreshRun, moves: dict, sizes: dict[int, int], now: dt.datetime) -> int:
    """One snapshot per segment: its size after this run (`sizes`; absent means empty) and
    its entries and exits."""
    sizes = {pk: sizes.get(pk, 0) for pk in Segment.objects.values_list("pk", flat=True)}
    snapshots = [
        SegmentSnapshot(
            segment_id=segment_id,
            run=run,
            taken_at=now,
            size=size,
            entered=moves.get((segment_id, "entered"), 0),
            exited=moves.get((segment_id, "exited"), 0),
        )
        for segment_id, size in sizes.items()
    ]
    SegmentSnapshot.objects.bulk_create(snapshots)
    Segment.objects.filter(pk__in=sizes).update(last_refreshed_at=now)
    # One UPDATE ... FROM (VALUES ...) would need raw SQL; segment counts are small (hundreds).
    for segment_id, size in sizes.items():
        Segment.objects.filter(pk=segment_id).exclude(size=size).update(size=size)
    return len(snapshots)


def _builtin_signature() -> str:
    """A digest of the built-in segments (id, key, active). While it stays the same, their
    memberships follow the metrics rows alone, so only changed rows need a diff."""
    rows = (
        Segment.objects.exclude(kind=SegmentKind.RULE)
        .order_by("pk")
        .values_list("pk", "key", "is_active")
    )
    return hashlib.sha256(json.dumps(list(rows)).encode()).hexdigest()


def incremental_possible(run: RefreshRun, previous: RefreshRun | None) -> bool:
    """Whether `run` can build on the metrics `previous` (the last successful run) stored."""
    return (
        previous is not None
        and bool(previous.builtin_segments)
        and previous.window_days == run.window_days
        and previous.as_of <= run.as_of <= previous.as_of + INCREMENTAL_MAX_STEP
    )


def needs_full_pass(run: RefreshRun) -> bool:
    """True when the run will aggregate every customer (no earlier run to build on)."""
    return not incremental_possible(run, _previous_run())


def _previous_run() -> RefreshRun | None:
    return refresh_latest_succeeded()


def _previous_builtin_signature() -> str | None:
    previous = _previous_run()
    return None if previous is None else previous.builtin_segments


def _churn_training_tried_recently() -> bool:
    """After a refresh without a model, training is queued at most once a day (the weekly
    schedule and the button retrain on demand)."""
    since = timezone.now() - CHURN_RETRY_AFTER
    return ChurnModel.objects.filter(trained_at__gte=since).exists()


def _value_training_tried_recently() -> bool:
    """As for the churn model: after a refresh without a value model, its training is queued at
    most once a day."""
    since = timezone.now() - CHURN_RETRY_AFTER
    return ValueModel.objects.filter(trained_at__gte=since).exists()


def _value_scored(
    frame: pd.DataFrame, settings: SegmentSettings, model: ValueModel | None, as_of: dt.datetime
) -> ValueModel | None:
    """Add the value model's figures and the potential-value layer to the frame (NaN and ''
    without a model); returns the model that scored, if any."""
    if model is not None:
        try:
            scores = value_scores(
                model=model, frame=frame, as_of=as_of, yearly_rate=settings.value_discount_rate
            )
        except (KeyError, TypeError, ValueError):
            logger.warning("value model v%s cannot score this data", model.version)
            model = None
    for name in VALUE_COLUMNS:
        frame[name] = scores[name] if model is not None else np.nan
    frame["value_potential"] = value_potentials(frame, percentile=settings.potential_percentile)
    return model


def _compute(
    run: RefreshRun, start: Callable[[str], None], *, full: bool, frame: pd.DataFrame | None
) -> dict:
    settings = SegmentSettings.load()
    scoring = _scoring_settings(settings)
    grid = [
        RfmCell(d.name, d.r_min, d.r_max, d.fm_min, d.fm_max)
        for d in RfmSegmentDefinition.objects.order_by("position")
    ]
    start("aggregate")
    previous, given = None, frame is not None
    if frame is None:
        frame, previous, aggregated = _aggregate(run, full=full)
    else:
        aggregated = len(frame)
    start("score")
    score_frame(frame, grid=grid, scoring=scoring)
    start("churn")
    model = churn_model_current()
    frame["churn_probability"] = np.nan
    if model is not None:
        try:
            frame["churn_probability"] = churn_probabilities(model=model, frame=frame)
        except ChurnModelUnusable:
            logger.warning(
                "churn model v%s cannot score this data; lifecycle uses rhythm only", model.version
            )
            model = None
    frame["lifecycle_stage"] = lifecycle_stages(frame, scoring)
    start("value")
    value_model = _value_scored(frame, settings, value_model_current(), run.as_of)
    start("clusters")
    latest = list(
        ClusterProfile.objects.filter(
            run_id=Subquery(ClusterProfile.objects.order_by("-run_id").values("run_id")[:1])
        ).order_by("number")
    )
    fitted = _reusable_clusters(latest, settings)
    clustering = cluster_customers(
        frame=frame,
        k_min=settings.cluster_k_min,
        k_max=settings.cluster_k_max,
        prefer_k=len(latest) or None,
        fitted=fitted,
    )
    frame["cluster"] = clustering.labels if clustering is not None else pd.NA
    return {
        "frame": frame,
        "given": given,
        "previous": previous,
        "aggregated": aggregated,
        "clustering": clustering,
        "clusters_fitted_at": latest[0].fitted_at if fitted is not None else timezone.now(),
        "model": model,
        "value_model": value_model,
    }


def _reusable_clusters(
    latest: list[ClusterProfile], settings: SegmentSettings
) -> FittedClusters | None:
    """The last fitted centres while they are recent and within the k range (a weekly refit
    follows changes in behaviour; between refits, cluster numbers mean the same thing)."""
    if not latest or any(not profile.center or not profile.scaling for profile in latest):
        return None
    fitted_at = latest[0].fitted_at
    if fitted_at is None or fitted_at < timezone.now() - CLUSTER_REFIT_AFTER:
        return None
    if not settings.cluster_k_min <= len(latest) <= settings.cluster_k_max:
        return None
    return FittedClusters(
        mean=latest[0].scaling["mean"],
        scale=latest[0].scaling["scale"],
        centers={profile.number: profile.center for profile in latest},
        silhouette=latest[0].silhouette,
    )


def _aggregate(run: RefreshRun, *, full: bool) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """Raw metrics of every active customer: incrementally from the stored ones when the last
    successful run used the same window a little earlier, else (or when `full`) in one full
    pass. Returns the frame, every stored row (`metrics_stored_rows`, read on another
    connection meanwhile) for the write-back to compare with, and how many customers were
    aggregated."""
    dirty_log_snapshot()
    previous = _previous_run()
    # Inside the refresh's own transaction (see _execute_locked), which writes nothing before.
    with metrics_stored_rows_ahead(own_transaction=True) as stored_rows:
        if not full and incremental_possible(run, previous):
            result = metrics_frame_incremental(
                as_of=run.as_of,
                window_days=run.window_days,
                max_share=INCREMENTAL_MAX_SHARE,
                stored_rows=stored_rows,
            )
            if result is not None:
                return result
        frame = metrics_frame(as_of=run.as_of, window_days=run.window_days, own_transaction=True)
        return frame, stored_rows(), len(frame)


def segment_refresh_execute(
    *,
    run_id: int,
    on_progress: ProgressCallback | None = None,
    full: bool = False,
    frame: pd.DataFrame | None = None,
    repair: bool = False,
) -> RefreshRun:
    """Execute a requested run; safe to call twice (a second call returns the run once it is no
    longer running, waiting while another executor holds the lock, see `refresh_lock_wait`). `full`
    re-aggregates every customer even when an incremental pass would do; `repair` also diffs
    every built-in segment's members against the metrics of every customer, not only of those
    whose metrics row changed (memberships that drifted from the metrics, say after a restore
    or a manual edit, are put right; a full pass alone leaves them); `frame` is the raw
    metrics of every active customer aggregated elsewhere (by workers, see
    segments.services.distributed), leaving the changed-customers log for the next run."""
    if not refresh_lock_wait(run_id):
        logger.info("refresh %s is no longer running or its lock stayed busy", run_id)
        return RefreshRun.objects.get(pk=run_id)
    try:
        run = RefreshRun.objects.get(pk=run_id)
        if run.status != RunStatus.RUNNING:
            return run
        return _execute_locked(run, on_progress, full=full or repair, frame=frame, repair=repair)
    finally:
        refresh_lock_release()


def _metrics_and_clusters_write(run: RefreshRun, computed: dict, now: dt.datetime) -> dict:
    """Write the scored metrics and the run's cluster profiles; returns the write's counts."""
    frame = computed["frame"]
    # Taken out of `computed`, and let go of once compared (see `metrics_changes`).
    previous = computed.pop("previous")
    if previous is None:
        # A frame the workers aggregated: the stored rows are read now.
        previous = metrics_stored_rows()
    changes = metrics_changes(frame=frame, previous=previous)
    del previous
    counts = metrics_write(changes=changes, now=now)
    del changes
    if not computed["given"]:
        # A frame aggregated by workers, earlier, may miss what the log holds now: the
        # log stays for the next run.
        dirty_log_consume()
    clustering = computed["clustering"]
    if clustering is not None:
        ClusterProfile.objects.bulk_create(
            ClusterProfile(
                run=run,
                silhouette=clustering.silhouette,
                fitted_at=computed["clusters_fitted_at"],
                **profile,
            )
            for profile in clustering.profiles
        )
        _cluster_segments_sync(clustering.profiles)
    return counts


@contextmanager
def _behaviour_ahead(
    run: RefreshRun, computed: dict, now: dt.datetime
) -> Iterator[Callable[[], dict]]:
    """Buying habits and service history (segments.services.behaviour), started after the
    metrics (whose last orders it reads) in the same transaction, its habits computed on a
    second connection meanwhile; yields the function that writes them and returns its
    counts."""
    if computed["given"]:
        # The frame came from workers: no log snapshot was taken (and none is consumed).
        dirty_log_snapshot()
    previous = _previous_run()
    with behaviour_ahead(
        as_of=run.as_of,
        previous_as_of=previous.as_of if previous is not None else None,
        now=now,
        own_transaction=True,
    ) as finish:
        yield finish


def _run_counts(
    computed: dict, moves: dict, *, write: dict, snapshots: int, changed_only: bool
) -> dict:
    """What the run did, for its record: the write's counts and the rest of the run's."""
    frame, clustering, model = computed["frame"], computed["clustering"], computed["model"]
    return {
        **write,
        "customers": len(frame),
        "aggregated": computed["aggregated"],
        "scored": int(frame["r_score"].notna().sum()),
        "entered": sum(v for (_s, kind), v in moves.items() if kind == "entered"),
        "exited": sum(v for (_s, kind), v in moves.items() if kind == "exited"),
        "snapshots": snapshots,
        "clusters": len(clustering.profiles) if clustering is not None else 0,
        "churn_model_version": model.version if model is not None else None,
        "value_model_version": (
            computed["value_model"].version if computed["value_model"] is not None else None
        ),
        "memberships_diffed": write["membership_candidates"] if changed_only else len(frame),
    }


def _execute_locked(
    run: RefreshRun,
    on_progress: ProgressCallback | None,
    *,
    full: bool,
    frame: pd.DataFrame | None,
    repair: bool,
) -> RefreshRun:
    clock = PhaseClock(run.pk, on_progress)
    try:
        with transaction.atomic():
            transaction_jit_off()
            computed = _compute(run, clock.start, full=full, frame=frame)
            now = timezone.now()
            clock.start("write")
            written = _metrics_and_clusters_write(run, computed, now)
            signature = _builtin_signature()
            changed_only = not repair and _previous_builtin_signature() == signature
            # The built-in segments follow the metrics alone: they are diffed while the
            # habits are computed on a second connection; the rule segments, which may read
            # the habits, after these are written.
            with _behaviour_ahead(run, computed, now) as behaviour_finish:
                clock.start("memberships")
                moves = builtin_memberships_refresh(
                    run_id=run.pk, now=now, changed_only=changed_only
                )
                clock.start("behaviour")
                written.update(behaviour_finish())
            clock.start("rules")
            rule_moves, rule_sizes = rule_memberships_refresh(
                run_id=run.pk, as_of=run.as_of, now=now, builtin_moves=moves
            )
            moves.update(rule_moves)
            clock.start("snapshots")
            sizes = {**builtin_sizes(computed["frame"]), **rule_sizes}
            snapshot_count = _snapshots_write(run, moves, sizes, now)
            segment_memberships_changed.send(sender=RefreshRun, run_id=run.pk)
            counts = _run_counts(
                computed, moves, write=written, snapshots=snapshot_count, changed_only=changed_only
            )
            RefreshRun.objects.filter(pk=run.pk).update(
                status=RunStatus.SUCCEEDED,
                finished_at=timezone.now(),
                phase="done",
                percent=100,
                timings=clock.finish(),
                counts=counts,
                builtin_segments=signature,
            )
        if computed["model"] is None and not _churn_training_tried_recently():
            # A first model is trained in the background so this refresh stays fast; the
            # next refresh scores with it.
            enqueue_on_commit("segments.tasks.churn_model_train_task")
        if computed["value_model"] is None and not _value_training_tried_recently():
            enqueue_on_commit("segments.tasks.value_model_train_task")
    except Exception as exc:
        logger.exception("segment refresh %s failed", run.pk)
        refresh_failure_record(run=run, exc=exc, timings=clock.finish())
    refresh_progress_clear(run_id=run.pk)
    run.refresh_from_db()
    if on_progress is not None:
        on_progress(run.phase, run.percent)
    return run


def segment_refresh(
    *,
    as_of: dt.datetime | None = None,
    window_days: int | None = None,
    requested_by: User | None = None,
    on_progress: ProgressCallback | None = None,
    full: bool = False,
) -> RefreshRun:
    """Request and execute a refresh in this process (the foreground command and tests)."""
    run, created = segment_refresh_request(
        as_of=as_of, window_days=window_days, requested_by=requested_by
    )
    if not created:
        return run
    return segment_refresh_execute(run_id=run.pk, on_progress=on_progress, full=full)
