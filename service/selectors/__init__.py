"""Reads of the service app: the SLA report and the agent scorecards."""
