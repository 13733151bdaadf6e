"""A rule's version diff for people to read: every field by its label and every value in words,
in the page's language. Choices by their labels, switches yes/no, the hold-out in percent,
trigger parameters by their labels with their values' labels (segments and templates by name,
holidays, metrics and attributes as the editor names them), condition trees in words, a
journey's branches as the editor says them."""

import json
from typing import Any

from django.db.models import Field, Model
from django.utils.translation import gettext as _
from django.utils.translation import pgettext, pgettext_lazy

from callcenter.generated import generated_text
from care.choices import StepChannel, StopCondition
from care.forms import KIND_LABELS, PARAM_LABELS, trigger_param_value_words
from care.models import CareRule, CareStep, MessageTemplate
from care.services.journeys import branch_words
from care.services.step_serializers import queue_choices
from care.services.triggers import TRIGGER_PARAMS, ParamCheck
from segments.models import Segment
from segments.rules.explain import rule_words


def _display(value: Any) -> str:
    if value is None or value == "" or value == [] or value == {}:
        return "—"
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return generated_text(str(value))  # a default name in the reader's language


class _Names:
    """Names of the things the diff refers to by code (segments, templates, queues), read once
    for the whole diff."""

    def __init__(self, versions: list[dict[str, Any]]) -> None:
        slugs: set[str] = set()
        template_ids: set[int] = set()
        for snapshot in versions:
            params = snapshot.get("trigger_params") or {}
            if isinstance(params.get("segment"), str):
                slugs.add(params["segment"])
            for step in snapshot.get("steps") or []:
                if isinstance(step.get("template_id"), int):
                    template_ids.add(step["template_id"])
        self.segments = (
            {s.slug: s.display_name for s in Segment.objects.filter(slug__in=slugs)}
            if slugs
            else {}
        )
        self.templates = (
            dict(MessageTemplate.objects.filter(pk__in=template_ids).values_list("pk", "name"))
            if template_ids
            else {}
        )
        self.queues = dict(queue_choices())


def _param_value(spec: ParamCheck | None, value: Any, names: _Names) -> str:
    if spec is None or value is None or value == "":
        return _display(value)
    return trigger_param_value_words(spec, value, names.segments)


def trigger_params_words(trigger_type: str | None, params: Any, names: _Names) -> str:
    """A trigger's parameters by their labels with their values in words."""
    if not isinstance(params, dict) or not params:
        return "—"
    declared = TRIGGER_PARAMS.get(trigger_type or "", {})
    parts = []
    for name, value in params.items():
        spec = declared.get(name)
        label = (KIND_LABELS.get(spec.kind) if spec else None) or PARAM_LABELS.get(name) or name
        parts.append(f"{label}: {_param_value(spec, value, names)}")
    return pgettext("list separator", ", ").join(parts)


def _conditions_words(tree: Any) -> str:
    if not tree:
        return "—"
    return rule_words(tree=tree) or _display(tree)


def _branches_words(step: dict[str, Any], branches: Any) -> str:
    if not isinstance(branches, list) or not branches:
        return "—"
    return "; ".join(
        _("%(when)s → %(goto)s") % {"when": branch_words(step, branch), "goto": branch.get("goto")}
        for branch in branches
        if isinstance(branch, dict)
    )


def _choice_label(model: type[Model], name: str, value: Any) -> str | None:
    try:
        field = model._meta.get_field(name.removesuffix("_id"))
    except Exception:  # noqa: BLE001 - derived snapshot keys have no model field
        return None
    choices = dict(getattr(field, "flatchoices", None) or [])
    if choices and isinstance(value, str) and value in choices:
        return str(choices[value])
    return None


def _value_words(
    model: type[Model],
    name: str,
    value: Any,
    *,
    names: _Names,
    trigger_type: str | None = None,
    step: dict[str, Any] | None = None,
) -> str:
    """`value` of the field `name` for people to read."""
    label = _choice_label(model, name, value)
    if label is not None:
        return label
    if name == "stop_conditions" and isinstance(value, list) and value:
        # Known conditions by their label; "external:<name>" as written.
        labels: dict[object, object] = dict(StopCondition.choices)
        return ", ".join(str(labels.get(item, item)) for item in value)
    if name == "trigger_params":
        return trigger_params_words(trigger_type, value, names)
    if name == "conditions":
        return _conditions_words(value)
    if name == "holdout_share" and isinstance(value, int | float):
        return f"{value * 100:g}%"
    if name == "template_id" and value is not None:
        return names.templates.get(value, f"#{value}")
    if name == "assignee_target" and isinstance(value, str):
        return names.queues.get(value, value) or "—"
    if name == "branches":
        return _branches_words(step or {}, value)
    return _display(value)


# Fields whose model label is shared with other meanings (a customer's or a segment's
# "active" is 有效; a rule's switch is 启用).
FIELD_LABELS: dict[tuple[type[Model], str], Any] = {
    (CareRule, "is_active"): pgettext_lazy("rule switch", "Switched on")
}


def _field_label(model: type[Model], name: str) -> str:
    if (model, name) in FIELD_LABELS:
        return str(FIELD_LABELS[(model, name)])
    field_name = name.removesuffix("_id")
    try:
        field = model._meta.get_field(field_name)
        # A reverse relation has no verbose name.
        return str(field.verbose_name) if isinstance(field, Field) else name
    except Exception:  # noqa: BLE001 - derived snapshot keys have no model field
        return name


def step_title(step: dict[str, Any]) -> str:
    """A step as the history and the journey outline name it: its channel and name."""
    # Typed as object: a step without a channel, or with an unknown one, shows its value.
    channels: dict[object, object] = dict(StepChannel.choices)
    channel = channels.get(step.get("channel"), step.get("channel"))
    name = generated_text(step.get("name") or "") or step.get("template_slug") or ""
    return f"{channel} {name}".strip()


def _step_summary(step: dict[str, Any]) -> str:
    return f"#{step.get('position')} {step_title(step)}"


def _changes(
    model: type[Model],
    changes: dict[str, dict[str, Any]],
    names: _Names,
    *,
    before: dict[str, Any],
    after: dict[str, Any],
) -> list[dict[str, str]]:
    """Each changed field by its label with both values in words (`before` and `after`: what
    the values are read with, the trigger type or the step)."""
    return [
        {
            "label": _field_label(model, name),
            "before": _value_words(model, name, change["from"], names=names, **before),
            "after": _value_words(model, name, change["to"], names=names, **after),
        }
        for name, change in changes.items()
    ]


def readable_diff(
    diff: dict[str, Any], *, before: dict[str, Any], after: dict[str, Any]
) -> dict[str, Any]:
    """`rule_version_diff` with field labels and every value in words; `before` and `after`
    are the two versions' snapshots (trigger types, steps' waits)."""
    names = _Names([before, after])
    old_steps = {step.get("id"): step for step in before.get("steps") or []}
    new_steps = {step.get("id"): step for step in after.get("steps") or []}
    return {
        "from": diff["from"],
        "to": diff["to"],
        "fields": _changes(
            CareRule,
            diff["fields"],
            names,
            before={"trigger_type": before.get("trigger_type")},
            after={"trigger_type": after.get("trigger_type")},
        ),
        "added": [_step_summary(step) for step in diff["steps"]["added"]],
        "removed": [_step_summary(step) for step in diff["steps"]["removed"]],
        "changed": [
            {
                "position": step["position"],
                "fields": _changes(
                    CareStep,
                    step["fields"],
                    names,
                    before={"step": old_steps.get(step["id"])},
                    after={"step": new_steps.get(step["id"])},
                ),
            }
            for step in diff["steps"]["changed"]
        ],
    }
