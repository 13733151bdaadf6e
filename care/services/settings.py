"""Changing the care guardrails (one settings row), checked and audited."""

from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from callcenter.errors import ApplicationError
from callcenter.services.audit import audit_log_record
from care.models import CareSettings

EDITABLE_FIELDS = frozenset(
    {
        "quiet_start",
        "quiet_end",
        "business_start",
        "business_end",
        "business_days",
        "frequency_cap",
        "frequency_window_days",
        "max_attempts",
        "retry_base_seconds",
        "stop_words",
        "agent_daily_limit",
        "inactivity_days",
        "csat_interval_days",
        "csat_reply_hours",
    }
)


def _whole_numbers(value: Any, low: int, high: int, field: str) -> list[int]:
    if not isinstance(value, list) or not all(
        isinstance(item, int) and not isinstance(item, bool) and low <= item <= high
        for item in value
    ):
        raise ApplicationError(
            _("%(field)s must be a list of whole numbers from %(low)d to %(high)d")
            % {"field": field, "low": low, "high": high},
            extra={"field": field},
        )
    return sorted(set(value))


@transaction.atomic
def care_settings_update(*, updated_by: User | None = None, **fields: Any) -> CareSettings:
    """Change guardrails; every value is checked before anything is saved."""
    unknown = set(fields) - EDITABLE_FIELDS
    if unknown:
        raise ApplicationError(
            _("Unknown fields: %(fields)s") % {"fields": ", ".join(sorted(unknown))}
        )
    settings = CareSettings.load()
    settings = CareSettings.objects.select_for_update().get(pk=settings.pk)
    if "business_days" in fields:
        fields["business_days"] = _whole_numbers(fields["business_days"], 1, 7, "business_days")
    if "inactivity_days" in fields:
        fields["inactivity_days"] = _whole_numbers(
            fields["inactivity_days"], 1, 3650, "inactivity_days"
        )
    if "stop_words" in fields:
        words = fields["stop_words"]
        if not isinstance(words, list) or not all(
            isinstance(word, str) and 0 < len(word.strip()) <= 32 for word in words
        ):
            raise ApplicationError(
                _("stop_words must be a list of short words"), extra={"field": "stop_words"}
            )
        fields["stop_words"] = [word.strip() for word in words]
    for key, value in fields.items():
        setattr(settings, key, value)
    if settings.business_start >= settings.business_end:
        raise ApplicationError(
            _("Business hours must start before they end."), extra={"field": "business_start"}
        )
    try:
        settings.full_clean()
    except ValidationError as exc:
        raise ApplicationError(
            "; ".join(f"{key}: {' '.join(msgs)}" for key, msgs in exc.message_dict.items())
        ) from exc
    settings.save()
    audit_log_record(
        actor=updated_by,
        action="care_settings.update",
        object_type="care_settings",
        object_id=settings.pk,
        data={"changed": sorted(fields)},
    )
    return settings
