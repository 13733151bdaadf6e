"""HTML pages of the supervisor workspace: dashboard, segments (list, detail, rule editor,
refresh), clusters and churn. Supervisors and admins only; the URL configuration imports the
page modules directly."""

from callcenter.roles import MANAGER_ROLES

MANAGERS = MANAGER_ROLES
