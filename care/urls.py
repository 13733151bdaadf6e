"""API routes of care plans (mounted under /api/)."""

from django.urls import path

from care import apis

urlpatterns = [
    path("care/rules/", apis.RuleListApi.as_view(), name="api-care-rules"),
    path("care/rules/<int:pk>/", apis.RuleDetailApi.as_view(), name="api-care-rule"),
    path(
        "care/rules/<int:pk>/activate/",
        apis.RuleActivateApi.as_view(),
        name="api-care-rule-activate",
    ),
    path(
        "care/rules/<int:pk>/deactivate/",
        apis.RuleDeactivateApi.as_view(),
        name="api-care-rule-deactivate",
    ),
    path(
        "care/rules/<int:pk>/versions/",
        apis.RuleVersionsApi.as_view(),
        name="api-care-rule-versions",
    ),
    path(
        "care/rules/<int:pk>/versions/diff/",
        apis.RuleVersionDiffApi.as_view(),
        name="api-care-rule-diff",
    ),
    path("care/templates/", apis.TemplateListApi.as_view(), name="api-care-templates"),
    path(
        "care/templates/preview/",
        apis.TemplatePreviewApi.as_view(),
        name="api-care-template-preview",
    ),
    path("care/templates/<int:pk>/", apis.TemplateDetailApi.as_view(), name="api-care-template"),
    path("care/enrollments/", apis.EnrollmentListApi.as_view(), name="api-care-enrollments"),
    path("care/settings/", apis.CareSettingsApi.as_view(), name="api-care-settings"),
    path("events/", apis.EventListApi.as_view(), name="api-events"),
    path("events/<int:pk>/", apis.EventDetailApi.as_view(), name="api-event"),
]
