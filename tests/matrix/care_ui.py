"""Decisions for the care pages: rule editor, templates, effectiveness, dashboard KPIs.

Supervisors read rules, templates and reports; only admins create, edit, activate or
deactivate rules and templates (the editor itself is admin-only, reads included). Previewing a
template renders and changes nothing, so supervisors may do it too.
"""

from tests.matrix import ADMINS, MANAGERS, Entry, _page

EXPECTATIONS: dict[str, Entry] = {
    "care-rules": _page(get=MANAGERS),
    "care-rule-create": _page(get=ADMINS, post=ADMINS),
    "care-rule-edit": _page("rule", get=ADMINS, post=ADMINS),
    "care-rule-activate": _page("rule", post=ADMINS),
    "care-playbook-install": _page(post=ADMINS),
    "care-rule-deactivate": _page("rule", post=ADMINS),
    "care-rule-history": _page("rule", get=MANAGERS),
    "care-templates": _page(get=MANAGERS),
    "care-template-create": _page(get=ADMINS, post=ADMINS),
    "care-template-edit": _page("template", get=MANAGERS, post=ADMINS),
    "care-template-preview": _page(post=MANAGERS),
    "care-customer-picker": _page(get=MANAGERS),
    "care-effectiveness": _page(get=MANAGERS),
    "care-dashboard-kpis": _page(get=MANAGERS),
}
