"""API routes of the service app (mounted under /api/)."""

from django.urls import URLPattern, URLResolver, path

from service import apis_reports
from service.apis import ServiceTicketListApi

urlpatterns: list[URLPattern | URLResolver] = [
    path("service/tickets/", ServiceTicketListApi.as_view(), name="api-service-tickets"),
    path("service/sla/report/", apis_reports.SlaReportApi.as_view(), name="api-service-sla-report"),
    path(
        "service/scorecards/", apis_reports.ScorecardsApi.as_view(), name="api-service-scorecards"
    ),
]
