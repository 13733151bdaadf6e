"""Care-plan models: filled in by the care/outreach issue."""
