"""Page routes of care: rule editor, templates, effectiveness reports."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
