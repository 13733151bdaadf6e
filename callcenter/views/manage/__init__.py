"""Pages of the admin area under /manage/: guardrails and settings, users and roles, audit log.

Admins change everything here. Supervisors may read the settings and the audit log (they run
segments and care day to day and need to see the guardrails and who changed what); agents get
403. The pages use the services of the apps they edit, so every change is validated and audited
the same way as through the API.
"""
