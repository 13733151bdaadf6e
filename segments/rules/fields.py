"""The allow-list of a rule tree: fields, their types, operators, choices and labels."""

import builtins
from dataclasses import dataclass
from typing import Any

from django.db import models
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from callcenter.choices import (
    AccountRole,
    CustomerKind,
    Gender,
    Language,
    OrderStatus,
    TicketKind,
)
from callcenter.models import Interaction, Order, SurveyResponse, Ticket
from segments.choices import (
    AgeBand,
    IsoWeekday,
    LifecycleStage,
    RfmSegmentName,
    ValuePotential,
    ValueTier,
)

# Field types. "count" is an event count over the last N days; "attribute" a custom attribute.
NUMBER = "number"
DATE = "date"
STRING = "string"
CHOICE = "choice"
BOOL = "bool"
MEMBERSHIP = "membership"
COUNT = "count"
ATTRIBUTE = "attribute"

OPERATORS: dict[str, Promise] = {
    "eq": _("equals"),
    "ne": _("does not equal"),
    "lt": _("less than"),
    "lte": _("at most"),
    "gt": _("greater than"),
    "gte": _("at least"),
    "between": _("between"),
    "in": _("is one of"),
    "not_in": _("is none of"),
    "contains": _("contains"),
    "startswith": _("starts with"),
    "is_set": _("is set"),
    "is_empty": _("is empty"),
    "is_true": _("is true"),
    "is_false": _("is false"),
}
NO_VALUE_OPERATORS = frozenset({"is_set", "is_empty", "is_true", "is_false"})
LIST_OPERATORS = frozenset({"in", "not_in"})
ORDER_OPERATORS = frozenset({"lt", "lte", "gt", "gte", "between"})

_COMPARE = ("eq", "ne", "lt", "lte", "gt", "gte", "between")
_PRESENCE = ("is_set", "is_empty")
TYPE_OPERATORS: dict[str, tuple[str, ...]] = {
    NUMBER: _COMPARE + _PRESENCE,
    DATE: _COMPARE + _PRESENCE,
    STRING: ("eq", "ne", "in", "not_in", "contains", "startswith", *_PRESENCE),
    CHOICE: ("eq", "ne", "in", "not_in"),
    BOOL: ("is_true", "is_false"),
    MEMBERSHIP: ("in", "not_in"),
    COUNT: _COMPARE,
    ATTRIBUTE: tuple(OPERATORS),
}
TYPE_LABELS: dict[str, Promise] = {
    NUMBER: _("number"),
    DATE: _("date"),
    STRING: _("text"),
    CHOICE: _("choice"),
    BOOL: _("yes/no"),
    MEMBERSHIP: _("segment membership"),
    COUNT: _("event count"),
    ATTRIBUTE: _("custom attribute"),
}
FAMILIES: dict[str, Promise] = {
    "profile": _("Profile"),
    "consent": _("Consent"),
    "attributes": _("Custom attributes"),
    "metrics": _("Metrics and scores"),
    "membership": _("Segments"),
    "events": _("Events in the last days"),
    "habits": _("Buying habits"),
    "service": _("Service history"),
    "reach": _("Reachability"),
}


@dataclass(frozen=True)
class EventSpec:
    """Rows of `model` whose `time_field` falls in (as_of - days, as_of], counted or summed."""

    model: type[models.Model]
    time_field: str
    filters: tuple[tuple[str, Any], ...] = ()
    sum_field: str = ""


@dataclass(frozen=True)
class FieldSpec:
    """One allowed field: its type, the ORM path it reads from `Customer`, and what it accepts.

    `number` says how number values are held: "int" (whole numbers only), "decimal" (money,
    compared exactly) or "float". `invert` flips a yes/no field built on an `__isnull` path.
    `days_since` fields read a date at `path` and compare the whole days from it to the
    refresh's as-of moment (not stored: they would change every day).
    """

    name: str
    family: str
    type: str
    label: Promise
    path: str = ""
    number: str = "int"
    minimum: int | None = None
    maximum: int | None = None
    # builtins.type: within this class, `type` names the field above.
    choices: builtins.type[models.TextChoices] | None = None
    may_be_empty: bool = False
    invert: bool = False
    event: EventSpec | None = None
    days_since: bool = False
    # Derived when read against the refresh's as-of moment (see compiler.DERIVED): "age",
    # "age_band", "overdue_ratio". `path` is then what must be set for a value to exist.
    derived: str = ""
    # A choice whose values are the digits of a whole-number column (the usual weekday).
    numeric_choices: bool = False
    # A yes/no field of a row that may be missing: "is false" matches customers without it.
    missing_is_false: bool = False

    @property
    def operators(self) -> tuple[str, ...]:
        ops = TYPE_OPERATORS[self.type]
        return ops + _PRESENCE if self.type == CHOICE and self.may_be_empty else ops


def _profile(name: str, type_: str, label: Promise, path: str = "", **kw: Any) -> FieldSpec:
    return FieldSpec(name=name, family="profile", type=type_, label=label, path=path or name, **kw)


def _consent(name: str, label: Promise) -> FieldSpec:
    return FieldSpec(name=name, family="consent", type=BOOL, label=label, path=name)


def _metric(name: str, type_: str, label: Promise, path: str = "", **kw: Any) -> FieldSpec:
    return FieldSpec(
        name=name,
        family="metrics",
        type=type_,
        label=label,
        path=f"metrics__{path or name}",
        # A customer without a metrics row (never refreshed) has no value for any metric.
        may_be_empty=True,
        **kw,
    )


def _habit(name: str, type_: str, label: Promise, family: str = "habits", **kw: Any) -> FieldSpec:
    """A buying-habit or service-history field (segments.models.CustomerBehaviour)."""
    return FieldSpec(
        name=name,
        family=family,
        type=type_,
        label=label,
        path=f"behaviour__{name}",
        # A customer the refresh has not reached yet has no row.
        may_be_empty=True,
        **kw,
    )


def _reach(name: str, type_: str, label: Promise, **kw: Any) -> FieldSpec:
    """A reachability or receptiveness field (segments.models.CustomerReach, filled by outreach);
    shares are 0 to 1."""
    if type_ == NUMBER and "maximum" not in kw:
        kw = {"number": "float", "minimum": 0, "maximum": 1, **kw}
    return FieldSpec(
        name=name,
        family="reach",
        type=type_,
        label=label,
        path=f"reach__{name}",
        # A customer with nothing counted (no touch, call or phone) has no row.
        may_be_empty=type_ != BOOL,
        missing_is_false=type_ == BOOL,
        **kw,
    )


def _service(name: str, label: Promise, minimum: int = 0, **kw: Any) -> FieldSpec:
    return _habit(name, NUMBER, label, family="service", minimum=minimum, **kw)


def _event(name: str, label: Promise, event: EventSpec, number: str = "int") -> FieldSpec:
    return FieldSpec(
        name=name, family="events", type=COUNT, label=label, number=number, minimum=0, event=event
    )


_PAID = (("status", OrderStatus.PAID),)

_FIELD_LIST: list[FieldSpec] = [
    _profile("kind", CHOICE, _("customer kind"), choices=CustomerKind),
    _profile("city", STRING, _("city")),
    _profile("region", STRING, _("region")),
    _profile("language", CHOICE, _("language"), choices=Language),
    _profile("industry", STRING, _("industry")),
    _profile("company_name", STRING, _("company name")),
    _profile("employee_count", NUMBER, _("employee count")),
    _profile(
        "birthday_month", NUMBER, _("birthday month"), "birthday__month", minimum=1, maximum=12
    ),
    _profile("created_at", DATE, _("customer since"), "created_at__date"),
    _profile("gender", CHOICE, _("gender"), choices=Gender, may_be_empty=True),
    _profile("age", NUMBER, _("age"), "birthday", minimum=0, maximum=150, derived="age"),
    _profile(
        "age_band",
        CHOICE,
        _("age band"),
        "birthday",
        choices=AgeBand,
        may_be_empty=True,
        derived="age_band",
    ),
    _profile("advisor", STRING, _("advisor (user name)"), "advisor__username"),
    _profile("has_advisor", BOOL, _("has a dedicated advisor"), "advisor__isnull", invert=True),
    _profile(
        "is_account_contact",
        BOOL,
        _("contact of a business account"),
        "account__isnull",
        invert=True,
    ),
    _profile("account_role", CHOICE, _("role in the account"), choices=AccountRole),
    _profile("account", STRING, _("business account (name)"), "account__name"),
    _consent("sms_opt_out", _("SMS opt-out")),
    _consent("call_opt_out", _("call opt-out")),
    _consent("email_opt_out", _("email opt-out")),
    _consent("do_not_contact", _("do not contact")),
    _consent("wechat_opt_out", _("WeChat opt-out")),
    _consent("wecom_opt_out", _("WeCom opt-out")),
    _metric("recency_days", NUMBER, _("days since last order"), "last_order_at", days_since=True),
    _metric("frequency", NUMBER, _("orders in window")),
    _metric("monetary", NUMBER, _("spend in window"), number="decimal"),
    _metric("avg_order_value", NUMBER, _("average order value"), number="decimal"),
    _metric("orders_90d", NUMBER, _("orders in 90 days")),
    _metric("spend_90d", NUMBER, _("spend in 90 days"), number="decimal"),
    _metric("interactions_30d", NUMBER, _("interactions in 30 days")),
    _metric("complaints_90d", NUMBER, _("complaints in 90 days")),
    _metric("last_nps", NUMBER, _("last NPS"), minimum=0, maximum=10),
    _metric("avg_sentiment_30d", NUMBER, _("average sentiment, 30 days"), number="float"),
    _metric(
        "days_since_contact",
        NUMBER,
        _("days since last contact"),
        "last_contact_at",
        days_since=True,
    ),
    _metric("first_order_at", DATE, _("first order"), "first_order_at__date"),
    _metric("last_order_at", DATE, _("last order"), "last_order_at__date"),
    _metric("r_score", NUMBER, _("R score"), minimum=1, maximum=5),
    _metric("f_score", NUMBER, _("F score"), minimum=1, maximum=5),
    _metric("m_score", NUMBER, _("M score"), minimum=1, maximum=5),
    _metric("rfm_code", STRING, _("RFM code")),
    _metric("rfm_segment", CHOICE, _("RFM segment"), choices=RfmSegmentName),
    _metric("lifecycle_stage", CHOICE, _("lifecycle stage"), choices=LifecycleStage),
    _metric("value_tier", CHOICE, _("value tier"), choices=ValueTier),
    _metric(
        "churn_probability", NUMBER, _("churn probability"), number="float", minimum=0, maximum=1
    ),
    _metric("cluster", NUMBER, _("behaviour cluster")),
    # The value model's predictions (null until a fitted model scored the customer).
    _metric("p_alive", NUMBER, _("probability still active"), number="float", minimum=0, maximum=1),
    _metric(
        "expected_orders_90d", NUMBER, _("expected orders, 90 days"), number="float", minimum=0
    ),
    _metric(
        "expected_orders_365d", NUMBER, _("expected orders, 365 days"), number="float", minimum=0
    ),
    _metric("expected_order_value", NUMBER, _("expected order value"), number="decimal", minimum=0),
    _metric(
        "predicted_value_365d",
        NUMBER,
        _("predicted value, 365 days"),
        number="decimal",
        minimum=0,
    ),
    _metric("spend_lifetime", NUMBER, _("spend ever"), number="decimal", minimum=0),
    _metric("value_potential", CHOICE, _("potential value"), choices=ValuePotential),
    FieldSpec(name="segment", family="membership", type=MEMBERSHIP, label=_("member of segment")),
    _event("orders_count", _("paid orders"), EventSpec(Order, "placed_at", _PAID)),
    _event(
        "spend_sum",
        _("spend on paid orders"),
        EventSpec(Order, "placed_at", _PAID, sum_field="amount"),
        number="decimal",
    ),
    _event(
        "complaints_count",
        _("complaints"),
        EventSpec(Ticket, "opened_at", (("kind", TicketKind.COMPLAINT),)),
    ),
    _event("tickets_count", _("tickets"), EventSpec(Ticket, "opened_at")),
    _event("interactions_count", _("interactions"), EventSpec(Interaction, "occurred_at")),
    _event("surveys_count", _("survey answers"), EventSpec(SurveyResponse, "responded_at")),
    # Buying habits and service history (segments.services.behaviour).
    _habit("top_category", STRING, _("top category")),
    _habit(
        "top_category_share",
        NUMBER,
        _("top category's share of spend (0-1)"),
        number="float",
        minimum=0,
        maximum=1,
    ),
    _habit("categories_count", NUMBER, _("categories bought"), minimum=0),
    _habit(
        "repeat_category_share",
        NUMBER,
        _("share of orders in a category bought before (0-1)"),
        number="float",
        minimum=0,
        maximum=1,
    ),
    _habit("preferred_channel", STRING, _("preferred purchase channel")),
    _habit(
        "preferred_channel_share",
        NUMBER,
        _("preferred channel's share of orders (0-1)"),
        number="float",
        minimum=0,
        maximum=1,
    ),
    _habit("usual_hour", NUMBER, _("usual hour of orders (0-23)"), minimum=0, maximum=23),
    _habit(
        "usual_weekday",
        CHOICE,
        _("usual weekday of orders"),
        choices=IsoWeekday,
        numeric_choices=True,
    ),
    _habit("median_gap_days", NUMBER, _("median days between orders"), number="float", minimum=0),
    FieldSpec(
        name="overdue_ratio",
        family="habits",
        type=NUMBER,
        label=_("how overdue: days since last order / median gap"),
        path="behaviour__median_gap_days",
        number="float",
        minimum=0,
        may_be_empty=True,
        derived="overdue_ratio",
    ),
    _service("tickets_inquiry_90d", _("inquiries in 90 days")),
    _service("tickets_complaint_90d", _("complaint tickets in 90 days")),
    _service("tickets_suggestion_90d", _("suggestions in 90 days")),
    _service("open_tickets", _("open tickets")),
    _service("last_csat", _("last CSAT (1-5)"), minimum=1, maximum=5),
    # Reachability and receptiveness over 180 days (outreach.services.reach).
    _reach("call_answer_share", NUMBER, _("share of calls answered (0-1)")),
    _reach("best_call_hour", NUMBER, _("best hour to call (0-23)"), minimum=0, maximum=23),
    _reach("has_working_phone", BOOL, _("has a working phone")),
    _reach("sms_delivered_share", NUMBER, _("share of SMS delivered (0-1)")),
    _reach("email_delivered_share", NUMBER, _("share of emails delivered (0-1)")),
    _reach("reachability", NUMBER, _("reachability (0-1)")),
    _reach("receptiveness", NUMBER, _("receptiveness: share of touches answered (0-1)")),
    _reach("call_response_share", NUMBER, _("share of calls that got a response (0-1)")),
    _reach("sms_response_share", NUMBER, _("share of SMS that got a response (0-1)")),
    _reach("call_conversion_share", NUMBER, _("share of calls followed by an order (0-1)")),
    _reach("sms_conversion_share", NUMBER, _("share of SMS followed by an order (0-1)")),
]

FIELDS: dict[str, FieldSpec] = {spec.name: spec for spec in _FIELD_LIST}

# Custom attributes are named "attributes.<key>"; the key is checked against ATTRIBUTE_KEY_RE.
ATTRIBUTE_PREFIX = "attributes."
ATTRIBUTE_KEY_PATTERN = r"[A-Za-z0-9_]{1,64}"
ATTRIBUTE_SPEC = FieldSpec(
    name=ATTRIBUTE_PREFIX,
    family="attributes",
    type=ATTRIBUTE,
    label=_("custom attribute"),
    path="attributes",
    number="float",
)


def rule_fields_catalog() -> list[dict[str, Any]]:
    """Every allowed field with its type, operators, choices and labels (in the active language),
    for the browser rule builder. The last entry describes custom attributes by pattern."""
    entries = []
    for spec in [*_FIELD_LIST, ATTRIBUTE_SPEC]:
        entry: dict[str, Any] = {
            "name": spec.name,
            "label": str(spec.label),
            "family": spec.family,
            "family_label": str(FAMILIES[spec.family]),
            "type": spec.type,
            "type_label": str(TYPE_LABELS[spec.type]),
            "operators": [{"value": op, "label": str(OPERATORS[op])} for op in spec.operators],
            "choices": [
                {"value": value, "label": str(label)} for value, label in spec.choices.choices
            ]
            if spec.choices
            else [],
            "integer": spec.type in (NUMBER, COUNT) and spec.number == "int",
            "min": spec.minimum,
            "max": spec.maximum,
            "needs_days": spec.type == COUNT,
        }
        if spec is ATTRIBUTE_SPEC:
            entry["pattern"] = f"^attributes\\.{ATTRIBUTE_KEY_PATTERN}$"
        entries.append(entry)
    return entries
