"""Page routes of the service app (tickets, SLA, scorecards, accounts)."""

from django.urls import URLPattern, URLResolver, path

from service.views import reports

urlpatterns: list[URLPattern | URLResolver] = [
    path("service/sla/report/", reports.sla_report_view, name="service-sla-report"),
    path("service/scorecards/", reports.scorecards_view, name="service-scorecards"),
]
