"""API routes of the service app (mounted under /api/)."""

from django.urls import URLPattern, URLResolver, path

from service.apis import ServiceTicketListApi

urlpatterns: list[URLPattern | URLResolver] = [
    path("service/tickets/", ServiceTicketListApi.as_view(), name="api-service-tickets"),
]
