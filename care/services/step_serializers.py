"""The steps of a care rule as clients send them (the editor, the API, the playbook), checked by
a DRF serializer and returned with every field filled.

A step is checked field by field in the order its fields are declared, and the first failing
field names the error; a field whose check needs another field (the delay's limit needs its
unit, the template the channel) reads it from the step as sent and leaves a bad one to that
field's own error, which comes first. The queues a call step may name belong to the app that
keeps queues: it registers them in `step_queues` (outreach/parts/care_queues.py).
"""

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import Group
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import serializers
from rest_framework.settings import api_settings

from callcenter.errors import ApplicationError
from callcenter.extensions import Registry
from care.choices import (
    AssigneeRule,
    DelayUnit,
    Escalation,
    StepChannel,
    TemplateChannel,
    TouchKind,
    WaitFor,
)
from care.models import STEP_FIELDS, CareRule, MessageTemplate
from care.services.journeys import journey_validate
from segments.rules import RuleError, rule_validate

MAX_STEPS = 20
MAX_DELAY_MINUTES = 366 * 24 * 60
MAX_SLA_MINUTES = 60 * 24 * 60
DELAY_MINUTES = {DelayUnit.MINUTES: 1, DelayUnit.HOURS: 60, DelayUnit.DAYS: 24 * 60}
# Which template channel each step channel takes, and whether a template is required.
STEP_TEMPLATE_CHANNEL = {
    StepChannel.SMS: (TemplateChannel.SMS, True),
    StepChannel.EMAIL: (TemplateChannel.EMAIL, True),
    StepChannel.CALL: (TemplateChannel.CALL_SCRIPT, False),
    StepChannel.AUTO_CALL: (TemplateChannel.CALL_SCRIPT, True),
    # WeChat and WeCom carry the rendered text of a text (SMS) template (docs/architecture.md).
    StepChannel.WECHAT: (TemplateChannel.SMS, True),
    StepChannel.WECOM: (TemplateChannel.SMS, True),
}
# The channels that send a text template: a step on one may fall back to another when the
# customer cannot be reached on it ("WeChat, else SMS").
TEXT_CHANNELS = (StepChannel.SMS, StepChannel.WECHAT, StepChannel.WECOM)
FALLBACK_CHOICES = [(channel.value, channel.label) for channel in TEXT_CHANNELS]
# A field's error when its own type or choice check fails (`value` is the value as sent).
FIELD_MESSAGES = {
    "channel": gettext_lazy("%(label)s: unknown channel %(value)s"),
    "delay_unit": gettext_lazy("%(label)s: unknown delay unit %(value)s"),
    "delay_value": gettext_lazy("%(label)s: the delay must be a whole number from 0 up to a year"),
    "sla_minutes": gettext_lazy(
        "%(label)s: the deadline must be 1 minute to 60 days after the due time"
    ),
    "touch_kind": gettext_lazy("%(label)s: unknown kind %(value)s"),
    "escalation": gettext_lazy("%(label)s: unknown escalation %(value)s"),
    "business_hours_only": gettext_lazy(
        "%(label)s: business_hours_only and only_if_no_response are true or false"
    ),
    "only_if_no_response": gettext_lazy(
        "%(label)s: business_hours_only and only_if_no_response are true or false"
    ),
    "wait_for": gettext_lazy("%(label)s.wait_for: unknown outcome %(value)s"),
}
# The code of an error whose message is final (every other one is worded by FIELD_MESSAGES).
WORDED = "step"


@dataclass(frozen=True)
class QueueDirectory:
    """Where the queues a call step may name are kept: which of some names exist, and all of
    them as (slug, name) for the editor's suggestions."""

    known: Callable[[set[str]], set[str]]
    choices: Callable[[], list[tuple[str, str]]]


step_queues: Registry[QueueDirectory] = Registry("care step queues")


def queues_known(names: set[str]) -> set[str]:
    """Which of `names` are queues (no query when `names` is empty)."""
    known: set[str] = set()
    for directory in step_queues:
        known |= directory.known(names)
    return known


def queue_choices() -> list[tuple[str, str]]:
    """Every queue a step may name, as (slug, name)."""
    return [choice for directory in step_queues for choice in directory.choices()]


def conditions_clean(tree: Any, field: str) -> Any:
    """A condition tree checked by segments' rule grammar, or None for none; the error names
    `field` and the path of the bad node."""
    if tree in (None, {}):
        return None
    try:
        rule_validate(tree=tree)
    except RuleError as exc:
        raise ApplicationError(
            f"{field}: {exc.message}", extra={"field": field, "path": exc.path}
        ) from exc
    return tree


@dataclass(frozen=True)
class StepLookups:
    """What checking a list of steps reads from the database, once for the whole list."""

    step_ids: set[int]
    template_by_slug: dict[str, int]
    template_channels: dict[int, str]
    queues: set[str]
    groups: set[str]


def step_lookups(steps: list[Any], rule: CareRule | None) -> StepLookups:
    """The rule's step ids, the templates, queues and groups the steps name."""
    step_ids = set(rule.steps.values_list("pk", flat=True)) if rule is not None else set()
    dicts = [step for step in steps if isinstance(step, dict)]
    by_slug = dict(
        MessageTemplate.objects.filter(
            slug__in=[s["template"] for s in dicts if s.get("template")]
        ).values_list("slug", "pk")
    )
    template_ids = {s.get("template_id") for s in dicts if isinstance(s.get("template_id"), int)}
    templates = dict(
        MessageTemplate.objects.filter(
            pk__in=[t for t in (*template_ids, *by_slug.values()) if isinstance(t, int)]
        ).values_list("pk", "channel")
    )
    targets = {s["assignee_target"] for s in dicts if isinstance(s.get("assignee_target"), str)}
    targets.discard("")
    return StepLookups(
        step_ids=step_ids,
        template_by_slug=by_slug,
        template_channels=templates,
        queues=queues_known(targets),
        groups=set(Group.objects.filter(name__in=targets).values_list("name", flat=True)),
    )


class RawField(serializers.Field):
    """A JSON value taken as sent; the serializer's `validate_<field>` judges it."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(allow_null=True, **kwargs)

    def to_internal_value(self, data: Any) -> Any:
        return data

    def to_representation(self, value: Any) -> Any:
        return value


class StrictIntegerField(serializers.IntegerField):
    """A whole number as JSON writes it: a boolean, a float or a numeric text is refused."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return data


class StrictBooleanField(serializers.BooleanField):
    """true or false as JSON writes them: 1, "yes" or "true" are refused."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


def _text(value: Any) -> str | None:
    """A text field as sent (empty when missing or empty), or None when it is no text."""
    value = value or ""
    return value if isinstance(value, str) else None


class StepSerializer(serializers.Serializer):
    """One step of a rule, its fields declared in the order they are checked (`first_error`).
    Context: `label` (steps[i], prefixed to every message), `lookups` (StepLookups of the whole
    list) and `seen_ids` (the ids of the steps before it)."""

    id = RawField(default=None)
    channel = serializers.ChoiceField(choices=StepChannel.choices)
    delay_unit = serializers.ChoiceField(choices=DelayUnit.choices, default=DelayUnit.HOURS)
    delay_value = StrictIntegerField(default=0, min_value=0)
    sla_minutes = StrictIntegerField(default=60, min_value=1, max_value=MAX_SLA_MINUTES)
    template_id = RawField(default=None)
    template = RawField(default=None)
    name = RawField(default="")
    assignee_target = RawField(default="")
    assignee_rule = RawField(default="")
    touch_kind = serializers.ChoiceField(choices=TouchKind.choices, default=TouchKind.PROACTIVE)
    escalation = serializers.ChoiceField(choices=Escalation.choices, default=Escalation.REASSIGN)
    business_hours_only = StrictBooleanField(default=False)
    only_if_no_response = StrictBooleanField(default=False)
    conditions = RawField(default=None)
    fallback_channel = RawField(default="")
    key = RawField(default="")
    next_step = RawField(default="")
    wait_for = serializers.ChoiceField(choices=WaitFor.choices, default="", allow_blank=True)
    # Judged with the whole journey (care.services.journeys.journey_validate).
    wait_hours = RawField(default=None)
    branches = RawField(default=list)

    # A key a client may send back and that is ignored: the order of the list decides.
    IGNORED = frozenset({"position"})

    def _worded(self, message: str, **params: Any) -> serializers.ValidationError:
        return serializers.ValidationError(
            message % {"label": self.context["label"], **params}, code=WORDED
        )

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        unknown = set(data) - set(self.fields) - self.IGNORED
        if unknown:
            error = self._worded(
                _("%(label)s: unknown fields %(fields)s"), fields=", ".join(sorted(unknown))
            )
            raise serializers.ValidationError({api_settings.NON_FIELD_ERRORS_KEY: error.detail})
        return super().to_internal_value(data)

    def validate_id(self, value: Any) -> Any:
        if value is None:
            return None
        lookups: StepLookups = self.context["lookups"]
        if (
            not isinstance(value, Hashable)
            or value not in lookups.step_ids
            or value in self.context["seen_ids"]
        ):
            raise self._worded(_("%(label)s: step %(id)s is not a step of this rule"), id=value)
        return value

    def validate_delay_value(self, value: int) -> int:
        unit = self.initial_data.get("delay_unit", DelayUnit.HOURS)
        if unit in DelayUnit.values and value > MAX_DELAY_MINUTES // DELAY_MINUTES[unit]:
            raise serializers.ValidationError("", code="max_value")  # worded by FIELD_MESSAGES
        return value

    def _template_id(self, value: Any) -> Any:
        """The template id sent, or the id of the template whose slug was sent."""
        slug = self.initial_data.get("template")
        if value is None and slug:
            lookups: StepLookups = self.context["lookups"]
            return lookups.template_by_slug.get(slug) if isinstance(slug, str) else None
        return value

    def validate_template_id(self, value: Any) -> Any:
        template_id = self._template_id(value)
        if value is None and self.initial_data.get("template") and template_id is None:
            raise self._worded(
                _("%(label)s: unknown template %(id)s"), id=self.initial_data["template"]
            )
        channel = self.initial_data.get("channel")
        if channel not in StepChannel.values:
            return template_id
        wanted_channel, required = STEP_TEMPLATE_CHANNEL[StepChannel(channel)]
        if template_id is None:
            if required:
                raise self._worded(
                    _("%(label)s: a %(channel)s step needs a template"), channel=channel
                )
            return None
        templates = self.context["lookups"].template_channels
        if not isinstance(template_id, Hashable) or template_id not in templates:
            raise self._worded(_("%(label)s: unknown template %(id)s"), id=template_id)
        if templates[template_id] != wanted_channel:
            raise self._worded(
                _("%(label)s: a %(channel)s step needs a %(wanted)s template, not %(got)s"),
                channel=channel,
                wanted=wanted_channel,
                got=templates[template_id],
            )
        return template_id

    def validate_name(self, value: Any) -> str:
        text = _text(value)
        if text is None:
            raise self._worded(_("%(label)s: %(field)s must be a text"), field="name")
        name = text.strip()[:120]
        if (
            self.initial_data.get("channel") == StepChannel.CALL
            and self._template_id(self.initial_data.get("template_id")) is None
            and not name
        ):
            raise self._worded(_("%(label)s: a call step needs a call script template or a name"))
        return name

    def validate_assignee_target(self, value: Any) -> str:
        text = _text(value)
        if text is None:
            raise self._worded(_("%(label)s: %(field)s must be a text"), field="assignee_target")
        return text.strip() if self.initial_data.get("channel") == StepChannel.CALL else ""

    def validate_assignee_rule(self, value: Any) -> str:
        if self.initial_data.get("channel") != StepChannel.CALL:
            # Sends are carried out by the dispatcher, not by a person.
            return ""
        rule = value or AssigneeRule.QUEUE
        if rule not in AssigneeRule.values:
            raise self._worded(_("%(label)s: unknown assignee rule %(value)s"), value=rule)
        target = _text(self.initial_data.get("assignee_target"))
        if target is None:
            return rule
        target = target.strip()
        lookups: StepLookups = self.context["lookups"]
        if rule == AssigneeRule.LEAST_LOADED and target not in lookups.groups | lookups.queues:
            raise self._worded(_("%(label)s: unknown group or queue %(value)s"), value=target)
        if rule == AssigneeRule.QUEUE and target not in lookups.queues:
            raise self._worded(_("%(label)s: unknown queue %(value)s"), value=target)
        if rule == AssigneeRule.ADVISOR and target and target not in lookups.queues:
            raise self._worded(_("%(label)s: unknown fallback queue %(value)s"), value=target)
        return rule

    def validate_fallback_channel(self, value: Any) -> str:
        if value in (None, ""):
            return ""
        channel = self.initial_data.get("channel")
        if value not in TEXT_CHANNELS or channel not in TEXT_CHANNELS or value == channel:
            raise self._worded(
                _(
                    "%(label)s: a %(channel)s step cannot fall back to %(value)s "
                    "(SMS, WeChat and WeCom steps may fall back to one another)"
                ),
                channel=channel,
                value=value,
            )
        return str(value)

    def validate_key(self, value: Any) -> str:
        text = _text(value)
        if text is None:
            raise self._worded(_("%(label)s: %(field)s must be a text"), field="key")
        return text.strip()

    def validate_next_step(self, value: Any) -> str:
        text = _text(value)
        if text is None:
            raise self._worded(_("%(label)s: %(field)s must be a text"), field="next_step")
        return text.strip()

    def validate_branches(self, value: Any) -> Any:
        return [] if value is None else value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # Last, and raised as the service's error: it carries the path of the bad node.
        attrs["conditions"] = conditions_clean(
            attrs["conditions"], f"{self.context['label']}.conditions"
        )
        return attrs

    def first_error(self) -> str:
        """The message of the first failing field, in declaration order."""
        name, details = next(iter(self.errors.items()))
        detail = details[0]
        if detail.code == WORDED:
            return str(detail)
        return FIELD_MESSAGES[name] % {
            "label": self.context["label"],
            "value": self.initial_data.get(name),
        }


def steps_clean(steps: Any, rule: CareRule | None) -> list[dict[str, Any]]:
    """Check a complete list of steps (in order) of `rule` (None for a new rule); return them
    with every field filled and their positions. The first bad step raises ApplicationError
    naming it (`steps[i]`)."""
    if not isinstance(steps, list):
        raise _error(_("Steps must be a list."), "steps")
    if len(steps) > MAX_STEPS:
        raise _error(_("A rule has at most %(max)d steps.") % {"max": MAX_STEPS}, "steps")
    lookups = step_lookups(steps, rule)
    cleaned = []
    seen_ids: set[int] = set()
    for index, raw in enumerate(steps):
        label = f"steps[{index}]"
        if not isinstance(raw, dict):
            raise _error(_("%(label)s: a step must be an object") % {"label": label}, label)
        serializer = StepSerializer(
            data=raw, context={"label": label, "lookups": lookups, "seen_ids": seen_ids}
        )
        if not serializer.is_valid():
            raise _error(serializer.first_error(), label)
        step = serializer.validated_data
        if step["id"] is not None:
            seen_ids.add(step["id"])
        cleaned.append(
            {
                "id": step["id"],
                "position": index + 1,
                **{key: step[key] for key in STEP_FIELDS},
            }
        )
    return journey_validate(cleaned)


def _error(message: str, field: str) -> ApplicationError:
    return ApplicationError(message, extra={"field": field})
