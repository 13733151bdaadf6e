"""Page routes of the admin area under /manage/: settings, users and roles, audit log."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
