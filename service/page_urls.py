"""Page routes of the service app (tickets, SLA, scorecards, accounts)."""

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
