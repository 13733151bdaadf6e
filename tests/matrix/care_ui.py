"""Decisions for the care pages: rule editor, templates, effectiveness, dashboard KPIs."""

from tests.matrix import Entry

EXPECTATIONS: dict[str, Entry] = {}
