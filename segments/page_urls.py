"""Page routes of the supervisor workspace: dashboard, segments, clusters and churn."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
