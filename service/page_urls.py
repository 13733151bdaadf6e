"""Page routes of the service app (tickets, SLA, scorecards, accounts)."""

from django.urls import URLPattern, URLResolver, path

from service.views import reports, tickets

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
]
