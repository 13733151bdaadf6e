"""API routes of care plans (mounted under /api/)."""

from django.urls import path

from care import apis, apis_campaigns

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
    path("care/campaigns/", apis_campaigns.CampaignListApi.as_view(), name="api-care-campaigns"),
    path(
        "care/campaigns/<int:pk>/",
        apis_campaigns.CampaignDetailApi.as_view(),
        name="api-care-campaign",
    ),
    path(
        "care/campaigns/<int:pk>/preview/",
        apis_campaigns.CampaignPreviewApi.as_view(),
        name="api-care-campaign-preview",
    ),
    path(
        "care/campaigns/<int:pk>/progress/",
        apis_campaigns.CampaignProgressApi.as_view(),
        name="api-care-campaign-progress",
    ),
    path(
        "care/campaigns/<int:pk>/launch/",
        apis_campaigns.CampaignLaunchApi.as_view(),
        name="api-care-campaign-launch",
    ),
    path(
        "care/campaigns/<int:pk>/pause/",
        apis_campaigns.CampaignPauseApi.as_view(),
        name="api-care-campaign-pause",
    ),
    path(
        "care/campaigns/<int:pk>/resume/",
        apis_campaigns.CampaignResumeApi.as_view(),
        name="api-care-campaign-resume",
    ),
    path(
        "care/campaigns/<int:pk>/cancel/",
        apis_campaigns.CampaignCancelApi.as_view(),
        name="api-care-campaign-cancel",
    ),
    path("events/", apis.EventListApi.as_view(), name="api-events"),
    path("events/<int:pk>/", apis.EventDetailApi.as_view(), name="api-event"),
]
