"""Decisions for the supervisor workspace pages: dashboard, segments, clusters and churn."""

from tests.matrix import Entry

EXPECTATIONS: dict[str, Entry] = {}
