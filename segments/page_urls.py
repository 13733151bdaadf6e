"""Page routes of the supervisor workspace: dashboard, segments, clusters and churn."""

from django.urls import path

from segments.views import clusters, customer, dashboard, editor, refresh, segments

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
    path("segments/<int:pk>/members/", segments.segment_members_view, name="segment-members"),
    path("segments/<int:pk>/settings/", segments.segment_settings_view, name="segment-settings"),
    path(
        "customers/<int:pk>/segments/",
        customer.customer_segments_view,
        name="customer-segments-fragment",
    ),
    path("clusters/", clusters.clusters_view, name="clusters"),
    path("clusters/retrain/", clusters.churn_retrain_view, name="churn-retrain"),
    path(
        "clusters/value-model/retrain/",
        clusters.value_model_retrain_view,
        name="value-model-retrain",
    ),
]
