"""Reads of the service app: tickets with their SLA state."""
