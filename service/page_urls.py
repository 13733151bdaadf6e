"""Page routes of the service app (tickets, SLA, scorecards, accounts)."""

from django.urls import URLPattern, URLResolver, path

from service.views import account_reports, reports, sla, tickets

urlpatterns: list[URLPattern | URLResolver] = [
    path("service/sla/report/", reports.sla_report_view, name="service-sla-report"),
    path("service/scorecards/", reports.scorecards_view, name="service-scorecards"),
    path("tickets/", tickets.ticket_list_view, name="service-tickets"),
    path("tickets/<int:pk>/", tickets.ticket_detail_view, name="service-ticket"),
    path("tickets/<int:pk>/respond/", tickets.ticket_respond_view, name="service-ticket-respond"),
    path(
        "tickets/<int:pk>/customer-reply/",
        tickets.ticket_customer_reply_view,
        name="service-ticket-customer-reply",
    ),
    path("tickets/<int:pk>/wait/", tickets.ticket_wait_view, name="service-ticket-wait"),
    path("tickets/<int:pk>/resume/", tickets.ticket_resume_view, name="service-ticket-resume"),
    path("tickets/<int:pk>/assign/", tickets.ticket_assign_view, name="service-ticket-assign"),
    path("tickets/<int:pk>/resolve/", tickets.ticket_resolve_view, name="service-ticket-resolve"),
    path("tickets/<int:pk>/change/", tickets.ticket_change_view, name="service-ticket-change"),
    path("tickets/<int:pk>/reopen/", tickets.ticket_reopen_view, name="service-ticket-reopen"),
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
    path("service/sla/policies/", sla.policy_list_view, name="service-sla-policies"),
    path("service/sla/policies/new/", sla.policy_edit_view, name="service-sla-policy-create"),
    path(
        "service/sla/policies/install-defaults/",
        sla.policy_defaults_install_view,
        name="service-sla-defaults-install",
    ),
    path("service/sla/policies/<int:pk>/", sla.policy_edit_view, name="service-sla-policy-edit"),
    path(
        "service/sla/policies/<int:pk>/move/",
        sla.policy_move_view,
        name="service-sla-policy-move",
    ),
    path(
        "service/sla/policies/<int:pk>/history/",
        sla.policy_history_view,
        name="service-sla-policy-history",
    ),
    path("service/calendars/", sla.calendar_list_view, name="service-calendars"),
    path("service/calendars/new/", sla.calendar_edit_view, name="service-calendar-create"),
    path("service/calendars/<int:pk>/", sla.calendar_edit_view, name="service-calendar-edit"),
    path(
        "service/calendars/<int:pk>/dates/",
        sla.calendar_date_add_view,
        name="service-calendar-date-add",
    ),
    path(
        "service/calendars/dates/<int:pk>/remove/",
        sla.calendar_date_remove_view,
        name="service-calendar-date-remove",
    ),
]
