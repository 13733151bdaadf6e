"""Page routes of outreach: the agent's queue and the supervisors' queue board."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
