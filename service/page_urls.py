"""Page routes of the service app (tickets, SLA, scorecards, accounts)."""

from django.urls import URLPattern, URLResolver, path

from service.views import sla

urlpatterns: list[URLPattern | URLResolver] = [
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
