"""API routes of the service app (mounted under /api/)."""

from django.urls import URLPattern, URLResolver, path

from service import apis

urlpatterns: list[URLPattern | URLResolver] = [
    path("service/sla/policies/", apis.PolicyListApi.as_view(), name="api-sla-policies"),
    path("service/sla/policies/<int:pk>/", apis.PolicyDetailApi.as_view(), name="api-sla-policy"),
    path(
        "service/sla/policies/<int:pk>/move/",
        apis.PolicyMoveApi.as_view(),
        name="api-sla-policy-move",
    ),
    path(
        "service/sla/policies/<int:pk>/versions/",
        apis.PolicyVersionsApi.as_view(),
        name="api-sla-policy-versions",
    ),
    path("service/calendars/", apis.CalendarListApi.as_view(), name="api-calendars"),
    path("service/calendars/<int:pk>/", apis.CalendarDetailApi.as_view(), name="api-calendar"),
    path(
        "service/calendars/<int:pk>/dates/",
        apis.CalendarDatesApi.as_view(),
        name="api-calendar-dates",
    ),
    path(
        "service/calendar-dates/<int:pk>/",
        apis.CalendarDateDetailApi.as_view(),
        name="api-calendar-date",
    ),
]
