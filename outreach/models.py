"""Outreach models: filled in by the care/outreach issue."""
