"""Outreach services: tasks (create, cancel, work), dispatch (sends), SLA sweep, webhooks."""
