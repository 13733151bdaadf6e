"""Creating, changing, reordering and deleting next best actions (segments.models.
NextBestAction); every change is validated, audited and drops the desk's cache of the active
rules (segments.next_best_actions)."""

from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils.translation import gettext as _

from callcenter.choices import InteractionChannel
from callcenter.errors import ApplicationError
from callcenter.services.audit import audit_log_record
from segments.models import NBA_TEXT_LENGTH, NextBestAction
from segments.next_best_actions import next_best_actions_cache_drop, placeholders_check
from segments.rules import RuleError, rule_validate

EDITABLE = frozenset(
    {"name", "position", "is_active", "condition", "action_text", "reason_text", "channel"}
)
MAX_NAME_LENGTH = 120
# Positions are small whole numbers; the bound keeps them inside the column.
MAX_POSITION = 1_000_000


def _refuse(message: str, field: str) -> ApplicationError:
    return ApplicationError(message, extra={"field": field})


def _validate(values: dict[str, Any]) -> None:
    if "name" in values:
        name = values["name"]
        if not isinstance(name, str) or not name.strip():
            raise _refuse(_("The name must not be empty."), "name")
        if len(name.strip()) > MAX_NAME_LENGTH:
            raise _refuse(
                _("The name may have at most %(max)d characters.") % {"max": MAX_NAME_LENGTH},
                "name",
            )
    if "position" in values:
        position = values["position"]
        if isinstance(position, bool) or not isinstance(position, int):
            raise _refuse(_("The position must be a whole number."), "position")
        if not 0 <= position <= MAX_POSITION:
            raise _refuse(
                _("The position must be from 0 to %(max)d.") % {"max": MAX_POSITION}, "position"
            )
    if "is_active" in values and not isinstance(values["is_active"], bool):
        raise _refuse(_("Active must be true or false."), "is_active")
    if "condition" in values:
        tree = values["condition"]
        if not isinstance(tree, dict):
            raise RuleError(_("The condition must be a group of conditions."), path="")
        rule_validate(tree=tree)
    for field, required in (("action_text", True), ("reason_text", False)):
        if field not in values:
            continue
        text = values[field]
        if not isinstance(text, str) or (required and not text.strip()):
            raise _refuse(_("Write what the agent should do."), field)
        if len(text) > NBA_TEXT_LENGTH:
            raise _refuse(
                _("At most %(max)d characters.") % {"max": NBA_TEXT_LENGTH},
                field,
            )
        placeholders_check(text, field=field)
    if "channel" in values and values["channel"] not in ("", *InteractionChannel.values):
        raise _refuse(
            _("Unknown channel %(value)s; choose from: %(choices)s")
            % {"value": values["channel"], "choices": ", ".join(InteractionChannel.values)},
            "channel",
        )


def _changed() -> None:
    """Drop the cached active rules now and again after commit, so a desk request that read
    the old rules while this transaction was open cannot keep them."""
    next_best_actions_cache_drop()
    transaction.on_commit(next_best_actions_cache_drop)


@transaction.atomic
def next_best_action_create(
    *,
    name: str,
    condition: dict[str, Any],
    action_text: str,
    created_by: User | None,
    reason_text: str = "",
    position: int = 100,
    is_active: bool = True,
    channel: str = "",
) -> NextBestAction:
    """Add a rule; it applies to the next desk card."""
    values = {
        "name": name,
        "condition": condition,
        "action_text": action_text,
        "reason_text": reason_text,
        "position": position,
        "is_active": is_active,
        "channel": channel,
    }
    _validate(values)
    action = NextBestAction.objects.create(
        **{
            **values,
            "name": name.strip(),
            "action_text": action_text.strip(),
            "reason_text": reason_text.strip(),
        },
        created_by=created_by if created_by is not None and created_by.is_authenticated else None,
    )
    audit_log_record(
        actor=created_by,
        action="next_best_action.create",
        object_type="next_best_action",
        object_id=action.pk,
        data={"name": action.name, "condition": condition, "action_text": action.action_text},
    )
    _changed()
    return action


@transaction.atomic
def next_best_action_update(
    *, action: NextBestAction, updated_by: User | None, **fields: Any
) -> NextBestAction:
    """Change a rule's fields (any of `EDITABLE`)."""
    refused = sorted(set(fields) - EDITABLE)
    if refused:
        raise _refuse(_("%(field)s cannot be changed.") % {"field": refused[0]}, refused[0])
    _validate(fields)
    for field, value in fields.items():
        setattr(action, field, value.strip() if isinstance(value, str) else value)
    action.save()
    audit_log_record(
        actor=updated_by,
        action="next_best_action.update",
        object_type="next_best_action",
        object_id=action.pk,
        data={field: fields[field] for field in sorted(fields)},
    )
    _changed()
    return action


@transaction.atomic
def next_best_action_move(
    *, action: NextBestAction, up: bool, moved_by: User | None
) -> NextBestAction:
    """Swap the rule's place with its neighbour above (`up`) or below in the list's order;
    rules sharing a position are first spread out in steps of ten."""
    rules = list(NextBestAction.objects.select_for_update().order_by("position", "pk"))
    if len({rule.position for rule in rules}) < len(rules):
        for index, rule in enumerate(rules, start=1):
            rule.position = index * 10
        NextBestAction.objects.bulk_update(rules, ["position"])
    index = next(i for i, rule in enumerate(rules) if rule.pk == action.pk)
    other = index - 1 if up else index + 1
    if 0 <= other < len(rules):
        mine, theirs = rules[index], rules[other]
        mine.position, theirs.position = theirs.position, mine.position
        NextBestAction.objects.bulk_update([mine, theirs], ["position"])
        audit_log_record(
            actor=moved_by,
            action="next_best_action.move",
            object_type="next_best_action",
            object_id=action.pk,
            data={"position": mine.position},
        )
        _changed()
        return mine
    return rules[index]


@transaction.atomic
def next_best_action_delete(*, action: NextBestAction, deleted_by: User | None) -> None:
    """Remove a rule."""
    audit_log_record(
        actor=deleted_by,
        action="next_best_action.delete",
        object_type="next_best_action",
        object_id=action.pk,
        data={"name": action.name},
    )
    action.delete()
    _changed()
