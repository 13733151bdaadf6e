"""API routes of the service app (mounted under /api/)."""

from django.urls import URLPattern, URLResolver, path

from service import apis_reports, apis_sla
from service.apis import ServiceTicketListApi
from service.views import account_reports_api

urlpatterns: list[URLPattern | URLResolver] = [
    path("service/tickets/", ServiceTicketListApi.as_view(), name="api-service-tickets"),
    path("service/sla/report/", apis_reports.SlaReportApi.as_view(), name="api-service-sla-report"),
    path(
        "service/scorecards/", apis_reports.ScorecardsApi.as_view(), name="api-service-scorecards"
    ),
    path(
        "service/accounts/<int:pk>/reports/",
        account_reports_api.AccountReportListApi.as_view(),
        name="api-account-reports",
    ),
    path(
        "service/accounts/<int:pk>/reports/<str:month>.pdf",
        account_reports_api.AccountReportPdfApi.as_view(),
        name="api-account-report-pdf",
    ),
    path("service/sla/policies/", apis_sla.PolicyListApi.as_view(), name="api-sla-policies"),
    path(
        "service/sla/policies/<int:pk>/", apis_sla.PolicyDetailApi.as_view(), name="api-sla-policy"
    ),
    path(
        "service/sla/policies/<int:pk>/move/",
        apis_sla.PolicyMoveApi.as_view(),
        name="api-sla-policy-move",
    ),
    path(
        "service/sla/policies/<int:pk>/versions/",
        apis_sla.PolicyVersionsApi.as_view(),
        name="api-sla-policy-versions",
    ),
    path("service/calendars/", apis_sla.CalendarListApi.as_view(), name="api-calendars"),
    path("service/calendars/<int:pk>/", apis_sla.CalendarDetailApi.as_view(), name="api-calendar"),
    path(
        "service/calendars/<int:pk>/dates/",
        apis_sla.CalendarDatesApi.as_view(),
        name="api-calendar-dates",
    ),
    path(
        "service/calendar-dates/<int:pk>/",
        apis_sla.CalendarDateDetailApi.as_view(),
        name="api-calendar-date",
    ),
]
