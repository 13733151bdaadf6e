"""HTML pages of outreach: the agent's queue (`queue`) and the supervisors' board (`board`)."""
