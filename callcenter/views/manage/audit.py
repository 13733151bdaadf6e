"""The audit log: filter by kind, actor, dates and customer; each entry's before and after."""

import datetime as dt
import json
from typing import Any

from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from callcenter.forms_manage import AuditFilterForm
from callcenter.http import AuthenticatedHttpRequest
from callcenter.models import AuditLog, Customer
from callcenter.numbers import whole_number
from callcenter.roles import MANAGER_ROLES
from callcenter.views import role_required

User = get_user_model()
ENTRIES_PER_PAGE = 50

# Kind -> (label, action prefixes). An action is "<object>.<verb>".
KINDS: dict[str, tuple[Any, tuple[str, ...]]] = {
    "rules": (_("Rule changes"), ("care_rule.", "segment.")),
    "templates": (_("Templates"), ("care_template.",)),
    "exports": (_("Exports"), ("export.",)),
    "merges": (_("Merges"), ("customer.merge", "merge_proposal.")),
    "consent": (_("Consent changes"), ("consent.",)),
    "settings": (
        _("Settings"),
        (
            "care_settings.",
            "segment_settings.",
            "rfm_grid.",
            "refresh_schedule.",
            "calendar_day.",
        ),
    ),
    "users": (_("Users"), ("user.", "token.")),
    "customers": (_("Customers and imports"), ("customer.create", "customer.update", "import.")),
    "privacy": (
        _("Reads, reveals, exports and erasures"),
        (
            "customer.list_read",
            "contact_point.reveal",
            "customer.subject_export",
            "customer.erase",
        ),
    ),
}

ACTION_LABELS: dict[str, Any] = {
    "care_rule.create": _("Care rule created"),
    "care_rule.update": _("Care rule changed"),
    "care_rule.activate": _("Care rule activated"),
    "care_rule.deactivate": _("Care rule deactivated"),
    "segment.create": _("Segment created"),
    "segment.update": _("Segment changed"),
    "segment.delete": _("Segment deleted"),
    "care_template.create": _("Template created"),
    "care_template.update": _("Template changed"),
    "care_template.delete": _("Template deleted"),
    "export.metrics": _("Metrics exported"),
    "customer.merge": _("Customers merged"),
    "merge_proposal.dismiss": _("Merge proposal dismissed"),
    "consent.change": _("Consent changed"),
    "care_settings.update": _("Contact guardrails changed"),
    "segment_settings.update": _("Lifecycle and tier thresholds changed"),
    "rfm_grid.update": _("RFM segments changed"),
    "refresh_schedule.update": _("Refresh schedule changed"),
    "calendar_day.add": _("Holiday calendar date added"),
    "calendar_day.remove": _("Holiday calendar date removed"),
    "user.create": _("User created"),
    "user.update": _("User profile changed"),
    "user.role": _("Role changed"),
    "user.activate": _("User reactivated"),
    "user.deactivate": _("User deactivated"),
    "user.password": _("Password reset"),
    "user.queues": _("Call queues changed"),
    "user.routing": _("Skills or ticket capacity changed"),
    "routing_rule.create": _("Routing rule created"),
    "routing_rule.update": _("Routing rule changed"),
    "routing_rule.delete": _("Routing rule deleted"),
    "ticket.route": _("Ticket moved to a queue or agent"),
    "token.issue": _("API token issued"),
    "token.revoke": _("API token revoked"),
    "token.password_change": _("API token ended by a password change"),
    "customer.create": _("Customer created"),
    "customer.update": _("Customer changed"),
    "import.run": _("CSV imported"),
    "customer.list_read": _("Customers listed by an agent"),
    "contact_point.reveal": _("Contact detail revealed"),
    "customer.subject_export": _("Personal data exported"),
    "customer.erase": _("Personal data erased"),
}


def _text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _details(data: Any) -> dict[str, Any]:
    """Readable details of an entry: a before/after table and the other facts as pairs."""
    if not isinstance(data, dict):
        return {"changes": [], "facts": [(_("details"), _text(data))]}
    before = data.get("before") if isinstance(data.get("before"), dict) else None
    after = data.get("after") if isinstance(data.get("after"), dict) else None
    changes = []
    if before is not None or after is not None:
        before, after = before or {}, after or {}
        for key in sorted(set(before) | set(after)):
            changes.append(
                {
                    "field": key,
                    "before": _text(before.get(key)) if key in before else "",
                    "after": _text(after.get(key)) if key in after else "",
                }
            )
    facts = [
        (key, _text(value))
        for key, value in sorted(data.items())
        if not (key in ("before", "after") and isinstance(value, dict))
    ]
    return {"changes": changes, "facts": facts}


# Object type -> page of one object (URL name taking its pk).
OBJECT_PAGES = {
    "customer": "customer-detail",
    "user": "manage-user",
    "segment": "segment-detail",
    "care_rule": "care-rule-history",
    "message_template": "care-template-edit",
}
# Object type -> section of the settings page.
SETTINGS_SECTIONS = {
    "care_settings": "guardrails",
    "segment_settings": "thresholds",
    "rfm_grid": "rfm",
    "periodic_task": "schedule",
}


def _object_url(entry: AuditLog) -> str | None:
    """Where the entry's object can be seen now (nothing for deleted objects)."""
    if entry.object_type == "calendar_day":
        return f"{reverse('manage-holidays')}?year={entry.object_id[:4]}"
    if entry.object_type in SETTINGS_SECTIONS:
        return f"{reverse('manage-settings')}#{SETTINGS_SECTIONS[entry.object_type]}"
    name = OBJECT_PAGES.get(entry.object_type)
    if name is None or not entry.object_id.isdigit() or entry.action.endswith(".delete"):
        return None
    try:
        return reverse(name, kwargs={"pk": int(entry.object_id)})
    except NoReverseMatch:
        return None


def _customer_ids(value: str) -> list[str]:
    """Ids of the customers matching an id or external id (one indexed query)."""
    match = Q(external_id=value)
    customer_id = whole_number(value)
    if customer_id is not None:
        match |= Q(pk=customer_id)
    return [str(pk) for pk in Customer.objects.filter(match).values_list("pk", flat=True)]


def _day_start(day: dt.date) -> dt.datetime:
    """Midnight of `day` in the user's current time zone."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def audit_entries(data: dict[str, Any]) -> Any:
    """Audit entries matching cleaned filter values, newest first, with their actors."""
    entries = AuditLog.objects.select_related("actor").order_by("-at", "-id")
    kind = data.get("kind")
    if kind in KINDS:
        prefixes = Q()
        for prefix in KINDS[kind][1]:
            prefixes |= Q(action__startswith=prefix)
        entries = entries.filter(prefixes)
    if data.get("actor") is not None:
        entries = entries.filter(actor=data["actor"])
    if data.get("date_from"):
        entries = entries.filter(at__gte=_day_start(data["date_from"]))
    if data.get("date_to"):
        entries = entries.filter(at__lt=_day_start(data["date_to"] + dt.timedelta(days=1)))
    customer = (data.get("customer") or "").strip()
    if customer:
        entries = entries.filter(object_type="customer", object_id__in=_customer_ids(customer))
    return entries


@require_GET
@role_required(MANAGER_ROLES)
def audit_log_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Filtered, paginated audit log; a fixed number of queries for any page."""
    actors = User.objects.filter(
        pk__in=AuditLog.objects.filter(actor__isnull=False).values("actor_id")
    ).order_by("username")
    form = AuditFilterForm(
        request.GET or None,
        kinds=[(key, label) for key, (label, _prefixes) in KINDS.items()],
        actors=actors,
    )
    data = form.cleaned_data if form.is_valid() else {}
    if form.is_bound and not form.is_valid():
        entries = AuditLog.objects.none()
    else:
        entries = audit_entries(data)
    page = Paginator(entries, ENTRIES_PER_PAGE).get_page(request.GET.get("page"))
    rows = [
        {
            "entry": entry,
            "label": ACTION_LABELS.get(entry.action, entry.action),
            "url": _object_url(entry),
            **_details(entry.data),
        }
        for entry in page.object_list
    ]
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "rows": rows, "query": query.urlencode()}
    return render(request, "manage/audit.html", context)
