"""API routes of the segmentation engine (mounted under /api/)."""

from django.urls import path

from segments import apis, apis_next_best_actions

urlpatterns = [
    path("segments/", apis.SegmentListApi.as_view(), name="api-segments"),
    path("segments/preview/", apis.SegmentPreviewApi.as_view(), name="api-segment-preview"),
    path("segments/fields/", apis.RuleFieldsApi.as_view(), name="api-segment-fields"),
    path("segments/refresh/", apis.RefreshApi.as_view(), name="api-segment-refresh"),
    path("segments/runs/", apis.RefreshRunListApi.as_view(), name="api-refresh-runs"),
    path("segments/runs/<int:pk>/", apis.RefreshRunDetailApi.as_view(), name="api-refresh-run"),
    path("segments/clusters/", apis.ClusterListApi.as_view(), name="api-clusters"),
    path("segments/churn-model/", apis.ChurnModelApi.as_view(), name="api-churn-model"),
    path("segments/value-models/", apis.ValueModelListApi.as_view(), name="api-value-models"),
    path(
        "segments/value-models/current/",
        apis.ValueModelCurrentApi.as_view(),
        name="api-value-model-current",
    ),
    path("segments/export/", apis.MetricsExportApi.as_view(), name="api-metrics-export"),
    path(
        "segments/next-best-actions/",
        apis_next_best_actions.NextBestActionListApi.as_view(),
        name="api-next-best-actions",
    ),
    path(
        "segments/next-best-actions/<int:pk>/",
        apis_next_best_actions.NextBestActionDetailApi.as_view(),
        name="api-next-best-action",
    ),
    path("segments/<int:pk>/", apis.SegmentDetailApi.as_view(), name="api-segment"),
    path(
        "segments/<int:pk>/members/", apis.SegmentMembersApi.as_view(), name="api-segment-members"
    ),
    path(
        "segments/<int:pk>/snapshots/",
        apis.SegmentSnapshotsApi.as_view(),
        name="api-segment-snapshots",
    ),
    path("segments/<int:pk>/export/", apis.SegmentExportApi.as_view(), name="api-segment-export"),
    path(
        "customers/<int:pk>/segments/",
        apis.CustomerSegmentsApi.as_view(),
        name="api-customer-segments",
    ),
    path(
        "customers/<int:pk>/metrics/",
        apis.CustomerMetricsApi.as_view(),
        name="api-customer-metrics",
    ),
]
