"""Decisions for the admin area under /manage/: settings, users and roles, audit log."""

from tests.matrix import Entry

EXPECTATIONS: dict[str, Entry] = {}
