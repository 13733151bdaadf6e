"""Page routes of the service app (tickets, SLA, scorecards, accounts)."""

from django.urls import URLPattern, URLResolver, path

from service.views import account_reports

urlpatterns: list[URLPattern | URLResolver] = [
    path("accounts/<int:pk>/report/", account_reports.account_report_view, name="account-report"),
    path(
        "accounts/<int:pk>/report/generate/",
        account_reports.account_report_generate_view,
        name="account-report-generate",
    ),
    # Public: the PDF behind the link emailed to the account's contacts (a random token).
    path(
        "reports/<str:token>.pdf",
        account_reports.account_report_public_view,
        name="account-report-public",
    ),
]
