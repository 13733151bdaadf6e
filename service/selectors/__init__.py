"""Reads of the service app: tickets with their SLA state, the SLA report and the agent
scorecards."""
