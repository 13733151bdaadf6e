"""Decisions for the foundation's pages and the REST API of every app."""

from callcenter.choices import Integration
from tests.matrix import ADMINS, LOGGED_IN, MANAGERS, PUBLIC, STAFF, Entry, _e, _page

EXPECTATIONS: dict[str, Entry] = {
    # Public by design: health carries no data; login/logout.
    "healthz": _e(get=PUBLIC),
    # The site icon: a redirect to a static file.
    "favicon": _e(get=PUBLIC),
    "login": _e(get=PUBLIC, post=PUBLIC, put=PUBLIC),
    "logout": _e(post=PUBLIC),
    # The API description: call-center users only.
    "api-schema": _e(get=STAFF),
    "api-docs": _page(get=STAFF),
    # The browsable API root lists URL names only (DRF default: any logged-in user).
    "api-root": _e(get=LOGGED_IN),
    # Webhooks: no user, a valid signature of the SMS gateway (of the voice platform for call
    # results) is the credential.
    "api-outreach-receipts": Entry(methods={"post": PUBLIC}, signed=Integration.SMS),
    "api-outreach-inbound-sms": Entry(methods={"post": PUBLIC}, signed=Integration.SMS),
    "api-outreach-call-results": Entry(methods={"post": PUBLIC}, signed=Integration.VOICE),
    # Tencent's callbacks: no user; WeChat's or WeCom's own signature in the query string is
    # the credential (tested in tests/outreach/test_weixin_callbacks.py and
    # test_wecom_callbacks.py), so without one every caller is refused.
    "api-outreach-wechat-callback": _e(get=frozenset(), post=frozenset()),
    "api-outreach-wecom-callback": _e(get=frozenset(), post=frozenset()),
    # Pages.
    "home": _page(get=STAFF),
    "import-csv": _page(get=MANAGERS, post=MANAGERS),
    "import-run": _page("import_run", get=MANAGERS),
    "customer-search": _page(get=STAFF),
    "customer-detail": _page("customer", get=STAFF),
    "customer-timeline": _page("customer", get=STAFF),
    # Agents see contact details masked and reveal one at a time (audited, rate-limited).
    "customer-reveal": _page("customer", post=STAFF),
    "customer-account": _page("customer", post=STAFF),
    # Customer profiles and history.
    "api-customer-list": _e(get=STAFF, post=STAFF),
    "api-customer-detail": _e("customer", get=STAFF, put=STAFF, patch=STAFF),
    "api-customer-consent": _e("customer", post=STAFF),
    "api-customer-account": _e("customer", post=STAFF),
    "api-customer-contact-points": _e("customer", post=STAFF),
    "api-customer-reveal": _e("customer", post=STAFF),
    "api-order-list": _e(get=STAFF, post=ADMINS),
    "api-order-detail": _e("order", get=STAFF),
    "api-interaction-list": _e(get=STAFF, post=STAFF),
    "api-interaction-detail": _e("interaction", get=STAFF),
    "api-ticket-list": _e(get=STAFF, post=STAFF),
    "api-ticket-detail": _e("ticket", get=STAFF),
    "api-ticket-resolve": _e("ticket", post=STAFF),
    "api-survey-list": _e(get=STAFF, post=ADMINS),
    "api-survey-detail": _e("survey", get=STAFF),
    "api-screenpop": _e(get=STAFF),
    # Imports and merges: supervisors and admins.
    "api-import-list": _e(get=MANAGERS, post=MANAGERS),
    "api-import-detail": _e("import_run", get=MANAGERS),
    "api-customer-merge": _e("customer", post=MANAGERS),
    "api-merge-proposal-list": _e(get=MANAGERS),
    "api-merge-proposal-merge": _e("merge_proposal", post=MANAGERS),
    "api-merge-proposal-dismiss": _e("merge_proposal", post=MANAGERS),
    # The duplicates page: the same people as the API (agents refused on the server).
    "merge-proposals": _page(get=MANAGERS),
    "merge-proposals-find": _page(post=MANAGERS),
    "merge-proposal-merge": _page("merge_proposal", get=MANAGERS, post=MANAGERS),
    "merge-proposal-dismiss": _page("merge_proposal", post=MANAGERS),
    # Segments: everyone reads segments and a customer's scores; supervisors manage, export.
    "api-segments": _e(get=STAFF, post=MANAGERS),
    "api-segment": _e("segment", get=STAFF, patch=MANAGERS, delete=MANAGERS),
    "api-segment-preview": _e(post=MANAGERS),
    "api-segment-fields": _e(get=MANAGERS),
    "api-segment-members": _e("segment", get=MANAGERS),
    "api-segment-snapshots": _e("segment", get=STAFF),
    "api-segment-export": _e("segment", get=MANAGERS),
    "api-metrics-export": _e(get=MANAGERS),
    "api-segment-refresh": _e(post=MANAGERS),
    "api-refresh-runs": _e(get=MANAGERS),
    "api-refresh-run": _e("refresh_run", get=MANAGERS),
    "api-clusters": _e(get=STAFF),
    "api-churn-model": _e(get=STAFF, post=MANAGERS),
    # The value model's fits: supervisors and admins read them (retraining is on the page).
    "api-value-models": _e(get=MANAGERS),
    "api-value-model-current": _e(get=MANAGERS),
    "api-customer-segments": _e("customer", get=STAFF),
    "api-customer-metrics": _e("customer", get=STAFF),
    # Care: supervisors read, admins change; any role (integrations) may report an event.
    "api-care-rules": _e(get=MANAGERS, post=ADMINS),
    "api-care-rule": _e("rule", get=MANAGERS, patch=ADMINS),
    "api-care-rule-activate": _e("rule", post=ADMINS),
    "api-care-rule-deactivate": _e("rule", post=ADMINS),
    "api-care-rule-versions": _e("rule", get=MANAGERS),
    "api-care-rule-diff": _e("rule", get=MANAGERS),
    "api-care-templates": _e(get=MANAGERS, post=ADMINS),
    "api-care-template": _e("template", get=MANAGERS, patch=ADMINS, delete=ADMINS),
    "api-care-template-preview": _e(post=ADMINS),
    "api-care-enrollments": _e(get=MANAGERS),
    "api-care-settings": _e(get=MANAGERS, patch=ADMINS),
    # API tokens: who holds one, revoking one (admins; keys are never shown).
    # The holiday calendar: everyone reads it; admins add and remove their own dates.
    "api-calendar-days": _e(get=STAFF, post=ADMINS),
    "api-calendar-day": _e("calendar_day", delete=ADMINS),
    "api-tokens": _e(get=ADMINS),
    "api-token": _e("managed_user", delete=ADMINS),
    # Posting: per event type (care.services.events.EVENT_POSTERS, tested in
    # tests/care/test_event_posters.py); agents may post no type, so none gets past the door.
    "api-events": _e(get=MANAGERS, post=MANAGERS),
    "api-event": _e("event", get=MANAGERS),
    # Outreach: agents work their tasks; supervisors see all queues and reassign.
    "api-outreach-tasks": _e(get=STAFF, post=STAFF),
    "api-outreach-task": _e("task", get=STAFF),
    "api-outreach-task-claim": _e("task", post=STAFF),
    "api-outreach-task-complete": _e("task", post=STAFF),
    "api-outreach-task-reschedule": _e("task", post=STAFF),
    "api-outreach-tasks-reassign": _e(post=MANAGERS),
    "api-outreach-my-queue": _e(get=STAFF),
    "api-outreach-queues": _e(get=MANAGERS),
}
