"""Trigger parameters: which events of a type fire a rule, checked per trigger type when a
rule is saved and matched against each event's payload when it is processed."""

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import models
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from callcenter.choices import (
    ConsentChannel,
    InteractionChannel,
    SurveyKind,
    TicketKind,
    TicketPriority,
)
from callcenter.errors import ApplicationError
from callcenter.selectors.calendar import holiday_names
from care.choices import EventType
from care.models import CareSettings
from segments.models import Segment


def _error(message: str, field: str) -> ApplicationError:
    return ApplicationError(message, extra={"field": field})


Check = Callable[[Any, str], Any]


@dataclass(frozen=True)
class ParamCheck:
    """One trigger parameter: its check (the cleaned value, or ApplicationError naming it) and
    what the rule editor needs to offer it as a form field: its kind ("choice", "number",
    "text", "boolean", "segment", "date_field", "threshold_field", "holiday"), the choices of
    a choice, the range of a number."""

    check: Check
    kind: str
    choices: tuple[tuple[str, str | Promise], ...] = ()
    low: float | None = None
    high: float | None = None
    integer: bool = False

    def __call__(self, value: Any, name: str) -> Any:
        return self.check(value, name)


def _choice(choices: type[models.TextChoices]) -> ParamCheck:
    def check(value: Any, name: str) -> Any:
        if value not in choices.values:
            raise _error(
                _('trigger parameter "%(name)s": unknown value %(value)s; use one of %(allowed)s')
                % {"name": name, "value": value, "allowed": ", ".join(choices.values)},
                "trigger_params",
            )
        return value

    return ParamCheck(check, "choice", choices=tuple(choices.choices))


def _number(low: float, high: float, *, integer: bool = False) -> ParamCheck:
    def check(value: Any, name: str) -> Any:
        valid = isinstance(value, int | float) and not isinstance(value, bool)
        if integer:
            valid = valid and float(value).is_integer()
        if not valid or not low <= value <= high:
            kind = _("a whole number") if integer else _("a number")
            raise _error(
                _('trigger parameter "%(name)s" must be %(kind)s from %(low)s to %(high)s')
                % {"name": name, "kind": kind, "low": low, "high": high},
                "trigger_params",
            )
        return int(value) if integer else value

    return ParamCheck(check, "number", low=low, high=high, integer=integer)


def _text(value: Any, name: str) -> Any:
    if not isinstance(value, str) or not value.strip() or len(value) > 120:
        raise _error(
            _('trigger parameter "%(name)s" must be a non-empty text') % {"name": name},
            "trigger_params",
        )
    return value.strip()


def _boolean(value: Any, name: str) -> Any:
    if not isinstance(value, bool):
        raise _error(
            _('trigger parameter "%(name)s" must be true or false') % {"name": name},
            "trigger_params",
        )
    return value


def _segment(value: Any, name: str) -> Any:
    if not isinstance(value, str) or not Segment.objects.filter(slug=value).exists():
        raise _error(
            _('trigger parameter "%(name)s": unknown segment %(value)s')
            % {"name": name, "value": value},
            "trigger_params",
        )
    return value


def _inactivity_days(value: Any, name: str) -> Any:
    days = _number(1, 3650, integer=True)(value, name)
    configured = CareSettings.load().inactivity_days
    if days not in configured:
        raise _error(
            _(
                "No inactivity events are raised after %(days)s days; add %(days)s to the care "
                "settings' inactivity days (now %(configured)s) first."
            )
            % {"days": days, "configured": configured},
            "trigger_params",
        )
    return days


# Profile fields a date trigger may count from (timestamps, taken on the customer's local day);
# any other date is a custom attribute, "attr:<key>". The birthday has a trigger of its own.
DATE_PROFILE_FIELDS = ("created_at", "consent_updated_at")
# How date and threshold triggers name a custom attribute: "attr:<key>".
ATTRIBUTE_PREFIX = "attr:"
# A date trigger counting hours from the moment reaches at most a month either side of it.
MAX_OFFSET_HOURS = 720
_ATTRIBUTE_KEY = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def _date_field(value: Any, name: str) -> Any:
    if isinstance(value, str) and value.startswith(ATTRIBUTE_PREFIX):
        if _ATTRIBUTE_KEY.fullmatch(value.removeprefix(ATTRIBUTE_PREFIX)):
            return value
    elif value in DATE_PROFILE_FIELDS:
        return value
    raise _error(
        _(
            'trigger parameter "%(name)s": unknown date %(value)s; use "attr:<key>" for a custom '
            "attribute (letters, digits, _ . -) or one of %(allowed)s"
        )
        % {"name": name, "value": value, "allowed": ", ".join(DATE_PROFILE_FIELDS)},
        "trigger_params",
    )


# Metrics a threshold trigger may watch: the numeric columns of the customer metrics (as the
# rule builder offers them); any other number is a custom attribute, "attr:<key>".
THRESHOLD_METRICS = (
    "frequency",
    "monetary",
    "avg_order_value",
    "orders_lifetime",
    "orders_90d",
    "spend_90d",
    "interactions_30d",
    "complaints_90d",
    "last_nps",
    "avg_sentiment_30d",
    "r_score",
    "f_score",
    "m_score",
)
THRESHOLD_METRIC_PREFIX = "metric:"
THRESHOLD_DIRECTIONS = ("above", "below")
DIRECTION_LABELS = {"above": gettext_lazy("Rises above"), "below": gettext_lazy("Falls below")}


def _threshold_field(value: Any, name: str) -> Any:
    if isinstance(value, str):
        key = value.removeprefix(ATTRIBUTE_PREFIX)
        if value.startswith(ATTRIBUTE_PREFIX) and _ATTRIBUTE_KEY.fullmatch(key):
            return value
        metric = value.removeprefix(THRESHOLD_METRIC_PREFIX)
        if value.startswith(THRESHOLD_METRIC_PREFIX) and metric in THRESHOLD_METRICS:
            return value
    raise _error(
        _(
            'trigger parameter "%(name)s": unknown value %(value)s; use "attr:<key>" for a '
            'custom attribute (letters, digits, _ . -) or "metric:<name>" with one of %(allowed)s'
        )
        % {"name": name, "value": value, "allowed": ", ".join(THRESHOLD_METRICS)},
        "trigger_params",
    )


def _direction(value: Any, name: str) -> Any:
    if value not in THRESHOLD_DIRECTIONS:
        raise _error(
            _('trigger parameter "%(name)s": unknown value %(value)s; use one of %(allowed)s')
            % {"name": name, "value": value, "allowed": ", ".join(THRESHOLD_DIRECTIONS)},
            "trigger_params",
        )
    return value


# A holiday trigger names a holiday of the calendar, or this for every holiday. Its events are
# emitted for their rule (PER_RULE_EVENTS), so "holiday" is not matched against the payload.
ANY_HOLIDAY = "any"


def _holiday(value: Any, name: str) -> Any:
    known = holiday_names()
    if value != ANY_HOLIDAY and value not in known:
        raise _error(
            _(
                'trigger parameter "%(name)s": unknown holiday %(value)s; use "%(any)s" or one of '
                "%(allowed)s"
            )
            % {"name": name, "value": value, "any": ANY_HOLIDAY, "allowed": ", ".join(known)},
            "trigger_params",
        )
    return value


TEXT = ParamCheck(_text, "text")
BOOLEAN = ParamCheck(_boolean, "boolean")
SEGMENT = ParamCheck(_segment, "segment")
INACTIVITY_DAYS = ParamCheck(_inactivity_days, "number", low=1, high=3650, integer=True)
DATE_FIELD = ParamCheck(_date_field, "date_field")
THRESHOLD_FIELD = ParamCheck(_threshold_field, "threshold_field")
DIRECTION = ParamCheck(
    _direction, "choice", choices=tuple((d, DIRECTION_LABELS[d]) for d in THRESHOLD_DIRECTIONS)
)
HOLIDAY = ParamCheck(_holiday, "holiday")

_ORDER_PARAMS: dict[str, ParamCheck] = {"min_amount": _number(0, 10**10), "category": TEXT}
TRIGGER_PARAMS: dict[str, dict[str, ParamCheck]] = {
    EventType.TICKET_OPENED: {"kind": _choice(TicketKind), "priority": _choice(TicketPriority)},
    EventType.TICKET_RESOLVED: {"kind": _choice(TicketKind)},
    EventType.FIRST_ORDER: _ORDER_PARAMS,
    EventType.ORDER_PLACED: _ORDER_PARAMS,
    EventType.ORDER_REFUNDED: _ORDER_PARAMS,
    EventType.SURVEY_SUBMITTED: {
        "kind": _choice(SurveyKind),
        "min_score": _number(0, 10, integer=True),
        "max_score": _number(0, 10, integer=True),
    },
    EventType.INTERACTION_LOGGED: {
        "channel": _choice(InteractionChannel),
        "sentiment_below": _number(-1, 1),
        # The call's reason as the agent logged it (compared without case).
        "reason": TEXT,
    },
    EventType.CONSENT_CHANGED: {"channel": _choice(ConsentChannel), "opted_out": BOOLEAN},
    EventType.CUSTOMER_CREATED: {},
    EventType.SEGMENT_ENTERED: {"segment": SEGMENT},
    EventType.SEGMENT_EXITED: {"segment": SEGMENT},
    EventType.BIRTHDAY: {},
    EventType.ANNIVERSARY: {"years": _number(1, 200, integer=True)},
    EventType.INACTIVITY: {"days": INACTIVITY_DAYS},
    EventType.MONTHLY: {},
    EventType.CUSTOMER_REPLIED: {"channel": TEXT},
    EventType.CALL_RESULT: {"result": TEXT, "intent": TEXT},
    EventType.EXTERNAL: {"name": TEXT},
    EventType.LINK_CLICKED: {},
    EventType.TASK_OUTCOME: {"outcome": TEXT},
    EventType.DATE_REACHED: {
        "field": DATE_FIELD,
        "offset_days": _number(-365, 365, integer=True),
        "at_hour": _number(0, 23, integer=True),
        # Instead of the two above: hours before (-) or after the moment itself.
        "offset_hours": _number(-MAX_OFFSET_HOURS, MAX_OFFSET_HOURS, integer=True),
    },
    EventType.HOLIDAY: {
        "holiday": HOLIDAY,
        "offset_days": _number(-30, 30, integer=True),
        "at_hour": _number(0, 23, integer=True),
    },
    EventType.CAMPAIGN: {},
    EventType.THRESHOLD_CROSSED: {
        "field": THRESHOLD_FIELD,
        "direction": DIRECTION,
        "value": _number(-(10**12), 10**12),
    },
}
REQUIRED_PARAMS: dict[str, tuple[str, ...]] = {
    EventType.SEGMENT_ENTERED: ("segment",),
    EventType.SEGMENT_EXITED: ("segment",),
    EventType.INACTIVITY: ("days",),
    EventType.DATE_REACHED: ("field",),
    EventType.HOLIDAY: ("holiday", "offset_days", "at_hour"),
    EventType.THRESHOLD_CROSSED: ("field", "direction", "value"),
}
# Events emitted for one rule (payload "rule"), which fire that rule only. Campaign events are
# raised only by a campaign run, for the campaign's journey.
PER_RULE_EVENTS = frozenset(
    {EventType.DATE_REACHED, EventType.HOLIDAY, EventType.THRESHOLD_CROSSED, EventType.CAMPAIGN}
)
# Of them, those the time-events pass emits by a date: one INSERT ... SELECT per rule.
DATED_RULE_EVENTS = (EventType.DATE_REACHED, EventType.HOLIDAY)
# Parameters compared for equality with the same key of the event payload.
EQUAL_PARAMS = (
    "kind",
    "priority",
    "category",
    "channel",
    "segment",
    "name",
    "opted_out",
    "days",
    "field",
    "offset_days",
    "at_hour",
    "offset_hours",
    "result",
    "intent",
    "outcome",
    "direction",
)


def trigger_params_validate(*, trigger_type: str | None, params: Any) -> dict[str, Any]:
    """The checked parameters of a trigger, or ApplicationError naming the bad one."""
    if trigger_type is None or trigger_type not in EventType.values:
        raise _error(_("Unknown trigger: %(value)s") % {"value": trigger_type}, "trigger_type")
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise _error(_("Trigger parameters must be a JSON object."), "trigger_params")
    allowed = TRIGGER_PARAMS[trigger_type]
    for name in params:
        if name not in allowed:
            raise _error(
                _('Trigger "%(trigger)s" takes no parameter "%(name)s" (it takes: %(allowed)s)')
                % {
                    "trigger": trigger_type,
                    "name": name,
                    "allowed": ", ".join(allowed) or _("none"),
                },
                "trigger_params",
            )
    required = REQUIRED_PARAMS.get(trigger_type, ())
    if trigger_type == EventType.DATE_REACHED:
        required = (*required, *_date_mode_params(params))
    for name in required:
        if name not in params:
            raise _param_error(
                _('Trigger "%(trigger)s" needs the parameter "%(name)s"')
                % {"trigger": trigger_type, "name": name},
                name,
            )
    cleaned: dict[str, Any] = {}
    for name, value in params.items():
        try:
            cleaned[name] = allowed[name](value, name)
        except ApplicationError as exc:
            # Which parameter is wrong, for the rule editor to show the error beside it.
            exc.extra.setdefault("param", name)
            raise
    if trigger_type == EventType.SURVEY_SUBMITTED:
        low, high = (0, 10) if cleaned.get("kind", SurveyKind.NPS) == SurveyKind.NPS else (1, 5)
        for name in ("min_score", "max_score"):
            if name in cleaned and not low <= cleaned[name] <= high:
                raise _param_error(
                    _('trigger parameter "%(name)s" must be from %(low)s to %(high)s')
                    % {"name": name, "low": low, "high": high},
                    name,
                )
        if cleaned.get("min_score", low) > cleaned.get("max_score", high):
            raise _param_error(_("min_score must not be above max_score"), "min_score")
    return cleaned


def _date_mode_params(params: dict[str, Any]) -> tuple[str, ...]:
    """The parameters a date trigger needs besides its field: a number of days and the local
    hour, or a number of hours from the moment; not both."""
    if "offset_hours" not in params:
        return ("offset_days", "at_hour")
    mixed = [name for name in ("offset_days", "at_hour") if name in params]
    if mixed:
        raise _param_error(
            _(
                'trigger parameter "%(name)s": give offset_hours alone (hours from the moment), '
                "or offset_days with at_hour (days from the date, at a local hour)"
            )
            % {"name": mixed[0]},
            mixed[0],
        )
    return ("offset_hours",)


def _param_error(message: str, param: str) -> ApplicationError:
    return ApplicationError(message, extra={"field": "trigger_params", "param": param})


def trigger_matches(*, params: dict[str, Any], payload: dict[str, Any]) -> bool:
    """Whether an event's payload satisfies a rule's (checked) trigger parameters."""
    for name, expected in params.items():
        if name in EQUAL_PARAMS or name == "years":
            if payload.get(name) != expected:
                return False
        elif name == "min_amount":
            try:
                if Decimal(str(payload.get("amount"))) < Decimal(str(expected)):
                    return False
            except (InvalidOperation, ValueError):
                return False
        elif name in ("min_score", "max_score"):
            score = payload.get("score")
            if not isinstance(score, int | float):
                return False
            if (name == "min_score" and score < expected) or (
                name == "max_score" and score > expected
            ):
                return False
        elif name == "reason":
            reason = payload.get("reason")
            if not isinstance(reason, str) or reason.strip().casefold() != expected.casefold():
                return False
        elif name == "sentiment_below":
            sentiment = payload.get("sentiment")
            if not isinstance(sentiment, int | float) or sentiment >= expected:
                return False
    return True
