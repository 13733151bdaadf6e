"""The SLA policies and business calendar a new install starts with (installed with the care
playbook, `care.playbook.playbook_setups`, or `manage.py install_sla_defaults`).

- "Business hours": Monday to Friday 09:00-18:00 in the site's time zone, closed on public
  holidays (and open on make-up working days).
- "VIP" (high value tier), first in order: first response 30 min, next response 1 h,
  resolution 2 h, around the clock.
- "To B" (business customers): first response 1 h, next response 4 h, resolution 24 h, in
  business hours.
- "B2C" (people): first response 10 min, next response 30 min, resolution 2 h, around the
  clock.
Objects are found by name: what exists (an admin's edits included) is left alone, so running
it again creates nothing.
"""

from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils.translation import gettext_noop

from callcenter.choices import CustomerKind
from segments.choices import ValueTier
from service.models import BusinessCalendar, SlaPolicy
from service.services.sla_admin import business_calendar_create, sla_policy_create

DEFAULT_CALENDAR = gettext_noop("Business hours")
DEFAULT_HOURS = {str(day): [["09:00", "18:00"]] for day in range(5)}
# (name, conditions, first response, next response, resolution, in business hours)
DEFAULT_POLICIES: list[tuple[str, dict[str, Any], int, int, int, bool]] = [
    ("VIP", {"value_tiers": [ValueTier.HIGH.value]}, 30, 60, 120, False),
    (
        gettext_noop("To B"),
        {"customer_kinds": [CustomerKind.BUSINESS.value]},
        60,
        240,
        24 * 60,
        True,
    ),
    ("B2C", {"customer_kinds": [CustomerKind.PERSON.value]}, 10, 30, 120, False),
]


@transaction.atomic
def sla_defaults_install(*, installed_by: User | None = None) -> dict[str, Any]:
    """Create the default calendar and policies that do not exist yet; their counts."""
    calendar = BusinessCalendar.objects.filter(name=DEFAULT_CALENDAR).first()
    calendars_created = 0
    if calendar is None:
        calendar = business_calendar_create(
            created_by=installed_by,
            name=DEFAULT_CALENDAR,
            timezone=settings.TIME_ZONE,
            hours=DEFAULT_HOURS,
            follows_public_holidays=True,
        )
        calendars_created = 1
    existing = set(SlaPolicy.objects.values_list("name", flat=True))
    policies_created = 0
    for name, conditions, first, following, resolution, business in DEFAULT_POLICIES:
        if name in existing:
            continue
        sla_policy_create(
            created_by=installed_by,
            name=name,
            calendar_id=calendar.pk if business else None,
            first_response_minutes=first,
            next_response_minutes=following,
            resolution_minutes=resolution,
            **conditions,
        )
        policies_created += 1
    return {"sla_calendars_created": calendars_created, "sla_policies_created": policies_created}
