"""Page routes of the supervisor workspace: dashboard, segments, next best actions, clusters
and churn."""

from django.urls import path

from segments.views import (
    clusters,
    customer,
    dashboard,
    editor,
    next_best_actions,
    refresh,
    segments,
)

urlpatterns = [
    path("dashboard/", dashboard.dashboard_view, name="dashboard"),
    path("dashboard/cell/", segments.rf_cell_view, name="dashboard-cell"),
    path("segments/", segments.segment_list_view, name="segment-list"),
    path("segments/new/", editor.segment_editor_view, name="segment-create"),
    path("segments/refresh/", refresh.refresh_view, name="segment-refresh"),
    path("segments/refresh/history/", refresh.refresh_history_view, name="segment-refresh-history"),
    path(
        "segments/refresh/<int:pk>/progress/",
        refresh.refresh_progress_view,
        name="segment-refresh-progress",
    ),
    path("segments/<int:pk>/", segments.segment_detail_view, name="segment-detail"),
    path("segments/<int:pk>/edit/", editor.segment_editor_view, name="segment-edit"),
    path("segments/<int:pk>/size/", segments.segment_size_view, name="segment-size"),
    path("segments/<int:pk>/members/", segments.segment_members_view, name="segment-members"),
    path("segments/<int:pk>/settings/", segments.segment_settings_view, name="segment-settings"),
    path(
        "customers/<int:pk>/segments/",
        customer.customer_segments_view,
        name="customer-segments-fragment",
    ),
    path(
        "next-best-actions/",
        next_best_actions.next_best_action_list_view,
        name="next-best-actions",
    ),
    path(
        "next-best-actions/new/",
        next_best_actions.next_best_action_editor_view,
        name="next-best-action-create",
    ),
    path(
        "next-best-actions/<int:pk>/edit/",
        next_best_actions.next_best_action_editor_view,
        name="next-best-action-edit",
    ),
    path(
        "next-best-actions/<int:pk>/move/",
        next_best_actions.next_best_action_move_view,
        name="next-best-action-move",
    ),
    path(
        "next-best-actions/<int:pk>/delete/",
        next_best_actions.next_best_action_delete_view,
        name="next-best-action-delete",
    ),
    path("clusters/", clusters.clusters_view, name="clusters"),
    path("clusters/retrain/", clusters.churn_retrain_view, name="churn-retrain"),
    path(
        "clusters/value-model/retrain/",
        clusters.value_model_retrain_view,
        name="value-model-retrain",
    ),
]
