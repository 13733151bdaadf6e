"""Service levels: SLA policies and business calendars on tickets, routing of tickets, CSAT
after contacts, agent scorecards and business accounts' reports.

The top layer: it reads every app below it and fills their extension points.
"""
