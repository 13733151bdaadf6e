"""Next best actions: the desk's "what to do" from rules admins edit (segments.models.
NextBestAction), read for one customer.

A rule's condition is a rule tree exactly as rule segments use (segments.rules: same
allow-list, so every rule-builder field works here too); its action and reason are texts with
placeholders from a fixed list (`PLACEHOLDERS`), filled by a regular expression from the
customer's figures, never through a template engine.

`next_best_actions_for_customer` evaluates every active rule for one customer in one query: an
EXISTS per rule (each with its own joins, so a condition can never multiply the customer's row)
beside the figures the placeholders need. The active rules are cached
(`next_best_actions_active`) and the cache is dropped by every write
(segments.services.next_best_actions).
"""

import datetime as dt
import functools
import json
import logging
import math
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.db.models import Exists, F, OuterRef
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from callcenter.choices import CustomerStatus, InteractionChannel
from callcenter.errors import ApplicationError
from callcenter.models import Customer
from segments.choices import ReachChannel, ValuePotential
from segments.models import NBA_TEXT_LENGTH, NextBestAction, next_best_action_text
from segments.rules import RuleError, rule_describe
from segments.rules.compiler import compile_node
from segments.rules.tree import MAX_NUMBER, parse_tree

logger = logging.getLogger(__name__)

# At most this many actions on the card: the first matching rules by position.
MAX_SHOWN = 3
NBA_CACHE_KEY = "segments:next-best-actions:active:v1"
# The writes drop the cache; the expiry only bounds a cache filled from a transaction that
# then rolled back.
NBA_CACHE_SECONDS = 600
# Evaluation statements kept per process (one per set of active rules and minute).
STATEMENTS_KEPT = 8
# Stands for the customer's id while a statement is built: outside every number a rule may
# hold, so it is the only parameter with this value.
_CUSTOMER_SENTINEL = -(MAX_NUMBER + 7)
# Shown for a placeholder whose figure the customer does not have (no refresh, no orders).
MISSING = "—"

PLACEHOLDERS: dict[str, Promise] = {
    "name": gettext_lazy("the customer's name"),
    "top_category": gettext_lazy("the category they spend most on"),
    "top_category_percent": gettext_lazy("that category's share of their spend, in percent"),
    "median_gap_days": gettext_lazy("their usual days between orders (median)"),
    "days_since_order": gettext_lazy("days since their last paid order"),
    "overdue_days": gettext_lazy("days past their usual next order (0 when not overdue)"),
    "predicted_value": gettext_lazy("predicted value over the next 365 days"),
    "p_alive_percent": gettext_lazy("chance they are still active, in percent"),
    "churn_percent": gettext_lazy("churn probability, in percent"),
    "value_potential": gettext_lazy("potential value (grow, keep, slipping, steady)"),
    "usual_hour": gettext_lazy("the usual hour of their orders"),
    "preferred_channel": gettext_lazy("their preferred purchase channel"),
    "open_tickets": gettext_lazy("their open tickets"),
    "last_nps": gettext_lazy("their last NPS answer (0-10)"),
    "last_csat": gettext_lazy("their last CSAT answer (1-5)"),
    "best_call_hour": gettext_lazy("the local hour they answer calls most"),
    "best_channel": gettext_lazy("the channel that reaches them best"),
    "receptiveness_percent": gettext_lazy("share of past touches they answered, in percent"),
}
PLACEHOLDER_RE = re.compile(r"\{([^{}]*)\}")
# What the figures are read from, on `Customer` (all to-one: one row per customer).
_FIGURE_PATHS = {
    "name": "name",
    "last_order_at": "metrics__last_order_at",
    "predicted_value": "metrics__predicted_value_365d",
    "p_alive": "metrics__p_alive",
    "churn": "metrics__churn_probability",
    "value_potential": "metrics__value_potential",
    "last_nps": "metrics__last_nps",
    "top_category": "behaviour__top_category",
    "top_category_share": "behaviour__top_category_share",
    "median_gap_days": "behaviour__median_gap_days",
    "usual_hour": "behaviour__usual_hour",
    "preferred_channel": "behaviour__preferred_channel",
    "open_tickets": "behaviour__open_tickets",
    "last_csat": "behaviour__last_csat",
    "best_call_hour": "reach__best_call_hour",
    "best_channel": "reach__best_channel",
    "receptiveness": "reach__receptiveness",
}


def placeholders_check(text: str, *, field: str) -> None:
    """Raise ApplicationError (with `field`) naming the first unknown placeholder or stray
    brace in `text`; placeholders are written {name} with a name from `PLACEHOLDERS`."""
    for match in PLACEHOLDER_RE.finditer(text):
        if match.group(1) not in PLACEHOLDERS:
            raise ApplicationError(
                _('Unknown placeholder "{%(name)s}"; use one of: %(known)s')
                % {
                    "name": match.group(1),
                    "known": ", ".join(f"{{{name}}}" for name in PLACEHOLDERS),
                },
                extra={"field": field},
            )
    if "{" in PLACEHOLDER_RE.sub("", text) or "}" in PLACEHOLDER_RE.sub("", text):
        raise ApplicationError(
            _("A brace without its pair: write placeholders as {name}, e.g. {top_category}."),
            extra={"field": field},
        )


def placeholders_fill(text: str, figures: dict[str, str]) -> str:
    """`text` with each {name} replaced by the customer's figure (checked texts only)."""
    return PLACEHOLDER_RE.sub(lambda match: figures.get(match.group(1), MISSING), text)


def placeholders_help() -> list[dict[str, str]]:
    """The placeholders with what they stand for, in the active language (for the editor)."""
    return [{"name": f"{{{name}}}", "label": str(label)} for name, label in PLACEHOLDERS.items()]


def next_best_actions_active() -> list[dict[str, Any]]:
    """The active rules by position, as plain dicts; cached until a write drops the cache."""
    rules: list[dict[str, Any]] | None = cache.get(NBA_CACHE_KEY)
    if rules is None:
        rules = [
            dict(row)
            for row in NextBestAction.objects.filter(is_active=True)
            .order_by("position", "pk")
            .values("id", "key", "name", "condition", "action_text", "reason_text", "channel")
        ]
        cache.set(NBA_CACHE_KEY, rules, NBA_CACHE_SECONDS)
    return rules


def next_best_actions_cache_drop() -> None:
    cache.delete(NBA_CACHE_KEY)


def _whole(value: float | None) -> str:
    return MISSING if value is None else str(round(value))


def _percent(value: float | None) -> str:
    return MISSING if value is None else str(round(value * 100))


def customer_figures(row: dict[str, Any], *, as_of: dt.datetime) -> dict[str, str]:
    """The placeholders' texts from the customer's row (see `_FIGURE_PATHS`); a figure the
    customer lacks is left out (shown as `MISSING`)."""
    last_order_at = row["last_order_at"]
    days_since = (as_of - last_order_at).days if last_order_at is not None else None
    gap = row["median_gap_days"]
    overdue = max(0, math.floor(days_since - gap)) if days_since is not None and gap else None
    predicted: Decimal | None = row["predicted_value"]
    potential = row["value_potential"]
    figures = {
        "name": row["name"] or None,
        "top_category": row["top_category"] or None,
        "top_category_percent": _percent(row["top_category_share"]),
        "median_gap_days": _whole(gap),
        "days_since_order": _whole(days_since),
        "overdue_days": _whole(overdue),
        "predicted_value": None if predicted is None else f"{predicted:,.2f}",
        "p_alive_percent": _percent(row["p_alive"]),
        "churn_percent": _percent(row["churn"]),
        "value_potential": str(ValuePotential(potential).label)
        if potential in ValuePotential.values
        else None,
        "usual_hour": _whole(row["usual_hour"]),
        "preferred_channel": row["preferred_channel"] or None,
        "open_tickets": _whole(row["open_tickets"]),
        "last_nps": _whole(row["last_nps"]),
        "last_csat": _whole(row["last_csat"]),
        "best_call_hour": _whole(row["best_call_hour"]),
        "best_channel": str(ReachChannel(row["best_channel"]).label)
        if row["best_channel"] in ReachChannel.values
        else None,
        "receptiveness_percent": _percent(row["receptiveness"]),
    }
    return {name: text for name, text in figures.items() if text not in (None, MISSING)}


def _channel_label(channel: str) -> str:
    return str(InteractionChannel(channel).label) if channel in InteractionChannel.values else ""


@dataclass(frozen=True)
class _Statement:
    """The evaluation statement for a set of rules at a minute: SQL, its parameters with
    `customer_index` where the customer's id goes, and the rules it checks."""

    sql: str
    params: tuple[Any, ...]
    customer_index: int
    rule_ids: tuple[int, ...]


@functools.lru_cache(maxsize=STATEMENTS_KEPT)
def _statement(conditions: tuple[tuple[int, str], ...], moment: dt.datetime) -> _Statement:
    """Build the statement checking every rule of `conditions` ((id, condition as JSON), by
    position) for one customer, with the figures the placeholders need."""
    checks: dict[str, Exists] = {}
    for rule_id, condition in conditions:
        try:
            node = parse_tree(json.loads(condition))
        except RuleError as exc:
            logger.warning("next best action %s skipped: %s", rule_id, exc.message)
            continue
        # Its own subquery per rule: the condition's joins stay inside it.
        matching = Customer.objects.filter(pk=OuterRef("pk"), status=CustomerStatus.ACTIVE).filter(
            compile_node(node, as_of=moment)
        )
        checks[f"nba_{rule_id}"] = Exists(matching)
    query = (
        Customer.objects.filter(pk=_CUSTOMER_SENTINEL)
        .annotate(**checks)
        .values(*checks, **{f"f_{name}": F(path) for name, path in _FIGURE_PATHS.items()})
    )
    sql, params = query.query.sql_with_params()
    where = [
        index
        for index, value in enumerate(params)
        if type(value) is int and value == _CUSTOMER_SENTINEL
    ]
    # Rule values are bounded (tree.MAX_NUMBER), so only the customer's id is the sentinel.
    assert len(where) == 1, "the customer's id must appear once in the statement"
    return _Statement(
        sql=sql,
        params=tuple(params),
        customer_index=where[0],
        rule_ids=tuple(int(name[len("nba_") :]) for name in checks),
    )


def next_best_actions_for_customer(
    *, customer_id: int, limit: int = MAX_SHOWN, as_of: dt.datetime | None = None
) -> list[dict[str, Any]]:
    """The first `limit` active rules (by position) the active customer matches, each as
    {"id", "name", "action", "reason", "channel", "channel_label"} with its texts in the active
    language and placeholders filled. One query (none without active rules); a stored
    condition that no longer validates (a field gone) is skipped and logged.

    Conditions and figures are read as of `as_of` (default now) to the minute: the statement,
    built by the ORM, is kept per set of rules and minute and reused with the caller's id
    (building it costs far more than running it)."""
    moment = (as_of or timezone.now()).replace(second=0, microsecond=0)
    rules = next_best_actions_active()
    if not rules:
        return []
    statement = _statement(
        tuple((rule["id"], json.dumps(rule["condition"], sort_keys=True)) for rule in rules),
        moment,
    )
    if not statement.rule_ids:
        return []
    params = list(statement.params)
    params[statement.customer_index] = customer_id
    with connection.cursor() as cursor:
        cursor.execute(statement.sql, params)
        values = cursor.fetchone()
        names = [column.name for column in cursor.description or ()]
    if values is None:
        return []
    row = dict(zip(names, values, strict=True))
    figures = customer_figures({name: row[f"f_{name}"] for name in _FIGURE_PATHS}, as_of=moment)
    shown = []
    for rule in rules:
        if not row.get(f"nba_{rule['id']}"):
            continue
        action = next_best_action_text(
            key=rule["key"], field="action_text", text=rule["action_text"]
        )
        reason = next_best_action_text(
            key=rule["key"], field="reason_text", text=rule["reason_text"]
        )
        if not reason:
            # No reason written: the condition itself says why.
            reason = rule_describe(tree=rule["condition"], max_length=NBA_TEXT_LENGTH)
        shown.append(
            {
                "id": rule["id"],
                "name": next_best_action_text(key=rule["key"], field="name", text=rule["name"]),
                "action": placeholders_fill(action, figures),
                "reason": placeholders_fill(reason, figures),
                "channel": rule["channel"],
                "channel_label": _channel_label(rule["channel"]),
            }
        )
        if len(shown) == limit:
            break
    return shown
