"""Decisions for the agent desk, CTI call events and live stream, my queue, queue board."""

from tests.matrix import Entry

EXPECTATIONS: dict[str, Entry] = {}
