"""Fixtures of the fault tests: the loopback SMS gateway and settings pointing at it (shared
with the outreach tests). Committed database access is `committed_rows` (tests/conftest.py)."""

from tests.outreach.conftest import committed, gateway, http_sms  # noqa: F401 - fixtures
