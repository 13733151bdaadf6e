"""Forms of the care pages: the rule editor (rule fields and a formset of steps), the
message template editor, and the contact guardrails of the settings page in the admin area
(care.parts.settings). They only check shapes; the rule and template services validate the
content and their errors are put back next to the field they name (`service_error_attach`)."""

from collections.abc import Sequence
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Field, Model
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from callcenter.choices import Language
from callcenter.errors import ApplicationError
from callcenter.forms_manage import ISO_WEEKDAYS, CheckboxRow, TimeInput
from callcenter.generated import generated_text
from callcenter.jsoninput import CheckedJSONFormField
from callcenter.models import Customer
from callcenter.numbers import whole_number
from callcenter.selectors.calendar import calendar_day_label, holiday_names
from care.choices import (
    EXTERNAL_STOP_PREFIX,
    AssigneeRule,
    DelayUnit,
    Escalation,
    EventType,
    RuleCategory,
    StepChannel,
    StopCondition,
    TemplateChannel,
    TouchKind,
    WaitFor,
)
from care.models import CareRule, CareSettings, MessageTemplate
from care.services.journeys import MAX_WAIT_HOURS, TIMEOUT
from care.services.step_serializers import FALLBACK_CHOICES, MAX_STEPS
from care.services.triggers import (
    ANY_HOLIDAY,
    ATTRIBUTE_PREFIX,
    DATE_PROFILE_FIELDS,
    THRESHOLD_METRIC_PREFIX,
    THRESHOLD_METRICS,
    TRIGGER_PARAMS,
    ParamCheck,
    trigger_params_validate,
)
from segments.models import CustomerMetrics, Segment

JSON_ATTRS = {"rows": 3, "class": "care-json", "spellcheck": "false"}


def conditions_or_none(tree: Any) -> Any:
    """None for "no conditions": empty input, or the empty group the rule builder starts with."""
    if tree in (None, {}, []):
        return None
    if (
        isinstance(tree, dict)
        and set(tree) <= {"op", "not", "children"}
        and not tree.get("children")
    ):
        return None
    return tree


class OptionalJSONField(CheckedJSONFormField):
    """A JSON field that shows "no value" as an empty box rather than `null`."""

    def prepare_value(self, value: Any) -> Any:
        return "" if value is None else super().prepare_value(value)


class RuleForm(forms.Form):
    """The fields of a care rule; the control group share is edited in percent."""

    name = forms.CharField(label=pgettext_lazy("thing", "Name"), max_length=120)
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    trigger_type = forms.ChoiceField(label=_("Trigger"), choices=EventType.choices)
    conditions = OptionalJSONField(
        label=_("Conditions"),
        required=False,
        widget=forms.Textarea(attrs=JSON_ATTRS),
        help_text=_("Only customers matching these conditions are enrolled."),
    )
    category = forms.ChoiceField(
        label=pgettext_lazy("care rule", "Category"),
        choices=RuleCategory.choices,
        initial=RuleCategory.MARKETING,
        help_text=_(
            "A customer is in at most one plan of a category at a time; service plans never "
            "compete."
        ),
    )
    priority = forms.IntegerField(
        label=_("Priority"),
        initial=0,
        min_value=-1000,
        max_value=1000,
        help_text=_(
            "Within a category a plan of higher priority preempts a running one; an equal or "
            "lower one is held back."
        ),
    )
    cooldown_days = forms.IntegerField(
        label=_("Cooldown (days)"),
        initial=0,
        min_value=0,
        help_text=_("A customer enrolled once is not enrolled again for this many days."),
    )
    holdout_percent = forms.IntegerField(
        label=_("Control group (%)"),
        initial=0,
        min_value=0,
        max_value=90,
        help_text=_("This share of enrolled customers gets no contact, to measure the uplift."),
    )
    stop_conditions = forms.MultipleChoiceField(
        label=_("Stop the plan when"),
        choices=StopCondition.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    stop_events = forms.CharField(
        label=_("…or another system posts"),
        required=False,
        max_length=500,
        help_text=_("Names of external events, comma-separated, e.g. payment_received."),
    )
    note = forms.CharField(
        label=_("Change note"),
        required=False,
        max_length=255,
        help_text=_("Saved with the new version, e.g. why the rule changed."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The parameters of every trigger, as fields named by trigger_param_field: all are
        # rendered (the chosen trigger's shown), only the chosen trigger's are read.
        self.fields.update(trigger_param_fields())

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        trigger = data.get("trigger_type")
        if trigger:
            params = trigger_params_from(trigger, data)
            try:
                data["trigger_params"] = trigger_params_validate(
                    trigger_type=trigger, params=params
                )
            except ApplicationError as exc:
                self.add_error(trigger_error_field(trigger, exc), exc.message)
        return data

    def current_trigger(self) -> str:
        """The trigger whose parameters are shown: the posted one, else the initial one."""
        if self.is_bound:
            return str(self.data.get("trigger_type") or "")
        return str(self.initial.get("trigger_type") or self.fields["trigger_type"].initial or "")

    def trigger_groups(self) -> list[dict[str, Any]]:
        """Per trigger, its label and parameters (bound field and, for a date or value that
        may be a custom attribute, the bound key field) as the editor renders them."""
        current = self.current_trigger() or str(EventType.choices[0][0])
        labels = dict(EventType.choices)
        return [
            {
                "trigger": str(trigger),
                "label": labels.get(trigger, trigger),
                "current": str(trigger) == current,
                "params": [
                    {
                        "name": name,
                        "field": self[trigger_param_field(trigger, name)],
                        "key": self[trigger_param_field(trigger, name) + KEY_SUFFIX]
                        if spec.kind in ATTRIBUTE_KINDS
                        else None,
                    }
                    for name, spec in params.items()
                ],
            }
            for trigger, params in TRIGGER_PARAMS.items()
        ]

    def clean_conditions(self) -> Any:
        return conditions_or_none(self.cleaned_data.get("conditions"))

    def service_fields(self) -> dict[str, Any]:
        """The cleaned values as the rule services take them."""
        data = self.cleaned_data
        return {
            "name": data["name"],
            "description": data["description"],
            "trigger_type": data["trigger_type"],
            "trigger_params": data["trigger_params"],
            "conditions": data["conditions"],
            "category": data["category"],
            "priority": data["priority"],
            "cooldown_days": data["cooldown_days"],
            "holdout_share": round(data["holdout_percent"] / 100, 4),
            "stop_conditions": [
                *data["stop_conditions"],
                *(f"{EXTERNAL_STOP_PREFIX}{name}" for name in split_values(data["stop_events"])),
            ],
        }

    @classmethod
    def initial_for(cls, rule: CareRule) -> dict[str, Any]:
        return {
            "name": rule.name,
            "description": rule.description,
            "trigger_type": rule.trigger_type,
            **trigger_param_initial(rule.trigger_type, rule.trigger_params or {}),
            "conditions": rule.conditions,
            "category": rule.category,
            "priority": rule.priority,
            "cooldown_days": rule.cooldown_days,
            "holdout_percent": round(rule.holdout_share * 100),
            "stop_conditions": [c for c in rule.stop_conditions if c in StopCondition.values],
            "stop_events": ", ".join(
                c.removeprefix(EXTERNAL_STOP_PREFIX)
                for c in rule.stop_conditions
                if c.startswith(EXTERNAL_STOP_PREFIX)
            ),
        }


# ---------------------------------------------------------------------------------------------
# Trigger parameters as form fields, built from their declaration (care.services.triggers).

KEY_SUFFIX = "_key"
# Parameter kinds whose value may be a custom attribute, "attr:<key>", typed in a key field.
ATTRIBUTE_KINDS = ("date_field", "threshold_field")
PARAM_LABELS = {
    "kind": _("Kind"),
    "priority": _("Priority"),
    "min_amount": _("Minimum amount"),
    "category": _("Order category"),
    "min_score": _("Lowest score"),
    "max_score": _("Highest score"),
    "channel": _("Channel"),
    "sentiment_below": _("Sentiment below"),
    "reason": _("Call reason"),
    "opted_out": _("Opted out"),
    "segment": _("Segment"),
    "years": _("Years since joining"),
    "days": _("Days without activity"),
    "result": _("Call result"),
    "intent": _("Customer intent"),
    "name": _("Event name"),
    "outcome": _("Outcome"),
    "offset_days": _("Days before (−) or after"),
    "at_hour": _("At hour (customer’s clock)"),
    "offset_hours": _("Or: hours before (−) or after the moment"),
    "holiday": _("Holiday"),
    "direction": _("Direction"),
    "value": _("Threshold value"),
}
KIND_LABELS = {"date_field": _("Date"), "threshold_field": _("Value watched")}
NO_CHOICE = ("", "—")


def trigger_param_field(trigger: str, name: str) -> str:
    """The form field of a trigger's parameter, e.g. "tp_holiday__offset_days"."""
    return f"tp_{trigger}__{name}"


def _verbose_name(model: type[Model], name: str) -> Any:
    field = model._meta.get_field(name)
    return field.verbose_name if isinstance(field, Field) else name


def attribute_choices(kind: str) -> list[tuple[str, Any]]:
    custom = (ATTRIBUTE_PREFIX, _("Custom attribute…"))
    if kind == "date_field":
        profile = [(name, _verbose_name(Customer, name)) for name in DATE_PROFILE_FIELDS]
        return [NO_CHOICE, *profile, custom]
    metrics = [
        (THRESHOLD_METRIC_PREFIX + name, _verbose_name(CustomerMetrics, name))
        for name in THRESHOLD_METRICS
    ]
    return [NO_CHOICE, custom, *metrics]


def _param_widget(
    spec: ParamCheck, segments: list[tuple[str, str]], holidays: list[tuple[str, str]]
) -> forms.Widget:
    if spec.kind == "number":
        step = "1" if spec.integer else "any"
        return forms.NumberInput(attrs={"min": spec.low, "max": spec.high, "step": step})
    if spec.kind == "choice":
        return forms.Select(choices=[NO_CHOICE, *spec.choices])
    if spec.kind == "boolean":
        return forms.Select(choices=[NO_CHOICE, ("true", _("Yes")), ("false", _("No"))])
    if spec.kind == "segment":
        return forms.Select(choices=[NO_CHOICE, *segments])
    if spec.kind == "holiday":
        return forms.Select(choices=[NO_CHOICE, (ANY_HOLIDAY, _("Any holiday")), *holidays])
    if spec.kind in ATTRIBUTE_KINDS:
        return forms.Select(choices=attribute_choices(spec.kind))
    return forms.TextInput(attrs={"maxlength": 120})


def trigger_param_fields() -> dict[str, forms.Field]:
    """A form field for each parameter of each trigger (two queries: the segments and the
    holiday names to choose from). All are optional text: the values are checked by
    `trigger_params_validate`, whose error names the parameter."""
    segments = [
        (segment.slug, segment.display_name)
        for segment in Segment.objects.only("slug", "name", "kind", "key").order_by("name")
    ]
    holidays = [(name, calendar_day_label(name)) for name in holiday_names()]
    fields: dict[str, forms.Field] = {}
    for trigger, params in TRIGGER_PARAMS.items():
        for name, spec in params.items():
            label = KIND_LABELS.get(spec.kind) or PARAM_LABELS.get(name) or name
            field_name = trigger_param_field(trigger, name)
            fields[field_name] = forms.CharField(
                label=label,
                required=False,
                strip=True,
                widget=_param_widget(spec, segments, holidays),
            )
            if spec.kind in ATTRIBUTE_KINDS:
                fields[field_name + KEY_SUFFIX] = forms.CharField(
                    label=_("attribute key"),
                    required=False,
                    max_length=64,
                    widget=forms.TextInput(attrs={"placeholder": _("attribute key")}),
                )
    return fields


def _param_number(text: str) -> Any:
    """A typed number as JSON would carry it; anything else as typed (the check refuses it)."""
    for parse in (int, float):
        try:
            number = parse(text)
        except ValueError:
            continue
        return number if number == number and abs(number) != float("inf") else text
    return text


def trigger_params_from(trigger: str, data: dict[str, Any]) -> dict[str, Any]:
    """The parameters of a trigger from its form fields (an empty field is no parameter)."""
    params: dict[str, Any] = {}
    for name, spec in TRIGGER_PARAMS.get(trigger, {}).items():
        field_name = trigger_param_field(trigger, name)
        text = str(data.get(field_name) or "").strip()
        if not text:
            continue
        if spec.kind == "number":
            params[name] = _param_number(text)
        elif spec.kind == "boolean":
            params[name] = {"true": True, "false": False}.get(text, text)
        elif spec.kind in ATTRIBUTE_KINDS and text == ATTRIBUTE_PREFIX:
            params[name] = ATTRIBUTE_PREFIX + str(data.get(field_name + KEY_SUFFIX) or "").strip()
        else:
            params[name] = text
    return params


def trigger_param_initial(trigger: str, params: dict[str, Any]) -> dict[str, Any]:
    """The form fields showing a rule's saved trigger parameters."""
    initial: dict[str, Any] = {}
    specs = TRIGGER_PARAMS.get(trigger, {})
    for name, value in params.items():
        spec = specs.get(name)
        if spec is None:
            continue
        field_name = trigger_param_field(trigger, name)
        if isinstance(value, bool):
            initial[field_name] = "true" if value else "false"
        elif spec.kind in ATTRIBUTE_KINDS and str(value).startswith(ATTRIBUTE_PREFIX):
            initial[field_name] = ATTRIBUTE_PREFIX
            initial[field_name + KEY_SUFFIX] = str(value).removeprefix(ATTRIBUTE_PREFIX)
        else:
            initial[field_name] = value
    return initial


def trigger_error_field(trigger: str, exc: ApplicationError) -> str | None:
    """The form field a trigger service error belongs beside: its parameter's (the key field of
    a custom attribute), else the trigger select."""
    param = str(exc.extra.get("param") or "")
    if param not in TRIGGER_PARAMS.get(trigger, {}):
        return "trigger_type"
    return trigger_param_field(trigger, param)


def split_values(text: str) -> list[str]:
    """Values typed in one box, separated by commas (a Chinese comma too)."""
    return [part.strip() for part in text.replace("，", ",").split(",") if part.strip()]


# Branch rows each step form offers (a journey step rarely needs more; the API takes up to 10).
FORM_BRANCHES = 6
# What a branch row may match, by match key (which keys an outcome takes: care.services.journeys).
BRANCH_MATCHES = [
    ("", _("—")),
    ("any", _("Any outcome")),
    ("keywords", _("Reply contains")),
    ("results", _("Call result is")),
    ("intents", _("Customer intent is")),
    ("keypresses", _("Keys pressed")),
    ("outcomes", _("Agent recorded")),
    ("name", _("Event name is")),
]


def _branch_match(kind: str, text: str) -> dict[str, Any]:
    if kind == "any":
        return {"any": True}
    if kind == "name":
        return {"name": text.strip()}
    return {kind: split_values(text)} if kind else {}


class StepForm(forms.Form):
    """One step; `template_choices` (built once per page) avoids a query per step. Its journey
    fields: a key, where it goes next, what it waits for, how long, and up to FORM_BRANCHES
    branch rows (match, values, go to) plus where the timeout goes."""

    id = forms.IntegerField(required=False, widget=forms.HiddenInput)
    name = forms.CharField(label=_("Step name"), required=False, max_length=120)
    channel = forms.ChoiceField(label=_("Channel"), choices=StepChannel.choices)
    delay_value = forms.IntegerField(label=_("Delay"), min_value=0, initial=0)
    delay_unit = forms.ChoiceField(
        label=_("Unit"), choices=DelayUnit.choices, initial=DelayUnit.HOURS
    )
    business_hours_only = forms.BooleanField(label=_("Business hours only"), required=False)
    template = forms.TypedChoiceField(
        label=_("Template or script"), required=False, coerce=int, empty_value=None
    )
    assignee_rule = forms.ChoiceField(
        label=_("Assignee"),
        required=False,
        choices=[("", _("— (automated)")), *AssigneeRule.choices],
    )
    assignee_target = forms.CharField(
        label=_("Queue or group"),
        required=False,
        max_length=64,
        widget=forms.TextInput(attrs={"list": "care-queues"}),
    )
    sla_minutes = forms.IntegerField(label=_("SLA (minutes)"), min_value=1, initial=60)
    escalation = forms.ChoiceField(label=_("On a missed deadline"), choices=Escalation.choices)
    touch_kind = forms.ChoiceField(label=_("Kind"), choices=TouchKind.choices)
    only_if_no_response = forms.BooleanField(
        label=_("Only if the customer has not responded"), required=False
    )
    conditions = OptionalJSONField(
        label=_("Only if (conditions)"), required=False, widget=forms.Textarea(attrs=JSON_ATTRS)
    )
    fallback_channel = forms.ChoiceField(
        label=_("Else send by"),
        required=False,
        choices=[("", _("— no fallback —")), *FALLBACK_CHOICES],
    )

    key = forms.CharField(
        label=_("Key"),
        required=False,
        max_length=40,
        help_text=_("Other steps go to this step by its key; empty: step-<number>."),
    )
    next_step = forms.CharField(
        label=_("Then go to"),
        required=False,
        max_length=40,
        help_text=_('Empty: the following step; "end"; or a step key.'),
    )
    wait_for = forms.ChoiceField(
        label=_("Wait for"),
        required=False,
        choices=[("", _("— nothing, go on —")), *WaitFor.choices],
    )
    wait_hours = forms.IntegerField(
        label=_("Wait at most (hours)"), required=False, min_value=1, max_value=MAX_WAIT_HOURS
    )
    timeout_goto = forms.CharField(
        label=_("If nothing comes in time, go to"),
        required=False,
        max_length=40,
        help_text=_('A step key or "end".'),
    )

    def __init__(self, *args: Any, template_choices: list[Any] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        for number in range(FORM_BRANCHES):
            self.fields[f"branch_{number}_match"] = forms.ChoiceField(
                label=_("Outcome to match"),
                required=False,
                choices=BRANCH_MATCHES,
                widget=forms.Select(attrs={"aria-label": _("Outcome to match")}),
            )
            self.fields[f"branch_{number}_values"] = forms.CharField(
                label=_("Values"),
                required=False,
                max_length=500,
                widget=forms.TextInput(attrs={"aria-label": _("Values")}),
            )
            self.fields[f"branch_{number}_goto"] = forms.CharField(
                label=_("Go to"),
                required=False,
                max_length=40,
                widget=forms.TextInput(attrs={"aria-label": _("Go to")}),
            )
        template = self.fields["template"]
        assert isinstance(template, forms.ChoiceField)  # the field declared above
        template.choices = [("", _("— none —")), *(template_choices or [])]

    def clean_conditions(self) -> Any:
        return conditions_or_none(self.cleaned_data.get("conditions"))

    def branch_rows(self) -> list[tuple[Any, Any, Any]]:
        """The bound (match, values, go to) fields of each branch row, for the page."""
        return [
            (
                self[f"branch_{number}_match"],
                self[f"branch_{number}_values"],
                self[f"branch_{number}_goto"],
            )
            for number in range(FORM_BRANCHES)
        ]

    def _branches(self) -> list[dict[str, Any]]:
        data = self.cleaned_data
        branches = []
        for number in range(FORM_BRANCHES):
            kind = data.get(f"branch_{number}_match") or ""
            values = data.get(f"branch_{number}_values") or ""
            goto = (data.get(f"branch_{number}_goto") or "").strip()
            if kind or values.strip() or goto:
                branches.append({"if": _branch_match(kind, values), "goto": goto})
        if data.get("wait_for") or data.get("timeout_goto"):
            branches.append({"if": TIMEOUT, "goto": (data.get("timeout_goto") or "").strip()})
        return branches

    def service_step(self) -> dict[str, Any]:
        """The cleaned step as `care_rule_create` / `care_rule_update` take it."""
        data = self.cleaned_data
        return {
            "key": data["key"].strip(),
            "next_step": data["next_step"].strip(),
            "wait_for": data["wait_for"],
            "wait_hours": data["wait_hours"],
            "branches": self._branches(),
            "id": data["id"],
            "name": data["name"],
            "channel": data["channel"],
            "delay_value": data["delay_value"],
            "delay_unit": data["delay_unit"],
            "business_hours_only": data["business_hours_only"],
            "template_id": data["template"],
            "assignee_rule": data["assignee_rule"],
            "assignee_target": data["assignee_target"],
            "sla_minutes": data["sla_minutes"],
            "escalation": data["escalation"],
            "touch_kind": data["touch_kind"],
            "only_if_no_response": data["only_if_no_response"],
            "conditions": data["conditions"],
            "fallback_channel": data["fallback_channel"],
        }


StepFormSet = forms.formset_factory(
    StepForm, extra=0, can_order=True, can_delete=True, max_num=MAX_STEPS, validate_max=True
)


def template_choices() -> list[tuple[str, list[tuple[int, str]]]]:
    """Templates grouped by channel for the step selects (one query)."""
    groups: dict[str, list[tuple[int, str]]] = {}
    for pk, name, channel in MessageTemplate.objects.order_by("name").values_list(
        "pk", "name", "channel"
    ):
        groups.setdefault(channel, []).append((pk, generated_text(name)))
    labels = dict(TemplateChannel.choices)
    return [(str(labels[channel]), items) for channel, items in groups.items()]


def step_initial(snapshot_step: dict[str, Any]) -> dict[str, Any]:
    """Initial values of a step form from a step as `rule_snapshot` writes it."""
    initial = {
        **{key: snapshot_step.get(key) for key in StepForm.base_fields if key != "template"},
        "template": snapshot_step.get("template_id"),
    }
    rows = []
    for branch in snapshot_step.get("branches") or []:
        match = branch.get("if")
        if match == TIMEOUT:
            initial["timeout_goto"] = branch.get("goto")
        elif isinstance(match, dict):
            rows.append((match, branch.get("goto")))
    for number, (match, goto) in enumerate(rows[:FORM_BRANCHES]):
        kind, values = next(iter(match.items()), ("", ""))
        initial[f"branch_{number}_match"] = kind
        initial[f"branch_{number}_values"] = (
            ", ".join(values) if isinstance(values, list) else "" if values is True else values
        )
        initial[f"branch_{number}_goto"] = goto
    return initial


# Service error fields that have another name in the form.
FIELD_ALIASES = {"holdout_share": "holdout_percent"}


def service_error_attach(
    exc: ApplicationError, form: forms.Form, step_forms: Sequence[forms.Form]
) -> None:
    """Show a rule service error next to the field (or step) it names."""
    field = str(exc.extra.get("field") or "")
    field = FIELD_ALIASES.get(field, field)
    if field == "trigger_params" and isinstance(form, RuleForm):
        field = trigger_error_field(str(form.cleaned_data.get("trigger_type") or ""), exc) or ""
    if field.startswith("steps["):
        index_text, _sep, _rest = field[len("steps[") :].partition("]")
        if index_text.isdigit() and int(index_text) < len(step_forms):
            label = f"steps[{index_text}]"
            message = exc.message
            for prefix in (f"{field}: ", f"{label}: "):
                message = message.removeprefix(prefix)
            target = step_forms[int(index_text)]
            target.add_error("conditions" if field.endswith(".conditions") else None, message)
            return
    if field in form.fields:
        form.add_error(field, exc.message.removeprefix(f"{field}: "))
    else:
        form.add_error(None, exc.message)


# ---------------------------------------------------------------------------------------------
# Templates


def language_key(language: str) -> str:
    return language.replace("-", "_")


class TemplateForm(forms.Form):
    """A template and one optional subject and body per language (at least one body)."""

    name = forms.CharField(label=pgettext_lazy("thing", "Name"), max_length=120)
    channel = forms.ChoiceField(label=_("Channel"), choices=TemplateChannel.choices)
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, channel_fixed: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if channel_fixed:
            # Steps rely on a template's channel; it cannot change once created.
            self.fields["channel"].disabled = True
        for language, label in Language.choices:
            key = language_key(language)
            # The texts are written in their own language (`lang`), whatever the page's is.
            self.fields[f"subject_{key}"] = forms.CharField(
                label=_("Subject (%(language)s)") % {"language": label},
                required=False,
                max_length=200,
                widget=forms.TextInput(attrs={"lang": language}),
            )
            self.fields[f"body_{key}"] = forms.CharField(
                label=_("Text (%(language)s)") % {"language": label},
                required=False,
                max_length=5000,
                widget=forms.Textarea(
                    attrs={
                        "rows": 5,
                        "class": "care-body",
                        "data-language": language,
                        "lang": language,
                    }
                ),
            )

    def languages(self) -> list[dict[str, Any]]:
        """Per language: its code, label and bound subject and body fields (for the page)."""
        return [
            {
                "code": language,
                "label": label,
                "subject": self[f"subject_{language_key(language)}"],
                "body": self[f"body_{language_key(language)}"],
            }
            for language, label in Language.choices
        ]

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if not any(data.get(f"body_{language_key(code)}") for code in Language.values):
            raise forms.ValidationError(_("Write the text in at least one language."))
        return data

    def variants(self) -> dict[str, dict[str, str]]:
        """The texts by language, leaving out languages without a text."""
        result = {}
        for code in Language.values:
            key = language_key(code)
            body = (self.cleaned_data.get(f"body_{key}") or "").strip()
            subject = (self.cleaned_data.get(f"subject_{key}") or "").strip()
            if body or subject:
                result[code] = {"subject": subject, "body": body}
        return result

    @classmethod
    def initial_for(cls, template: MessageTemplate) -> dict[str, Any]:
        initial: dict[str, Any] = {
            "name": template.name,
            "channel": template.channel,
            "description": template.description,
        }
        for variant in template.variants.all():
            key = language_key(variant.language)
            initial[f"subject_{key}"] = variant.subject
            initial[f"body_{key}"] = variant.body
        return initial

    def attach_service_error(self, exc: ApplicationError) -> None:
        """Put a template service error next to the subject or text it is about."""
        for code in Language.values:
            for part, prefix in (("subject", "subject"), ("body", "body")):
                label = f"{code} {part}"
                if exc.extra.get("field") == label or exc.message.startswith(f"{label}:"):
                    message = exc.message.removeprefix(f"{label}: ")
                    self.add_error(f"{prefix}_{language_key(code)}", message)
                    return
        self.add_error(None, exc.message)


def _number_list(value: str, *, low: int, high: int) -> list[int]:
    numbers = []
    for part in value.replace("，", ",").split(","):
        part = part.strip()
        if not part:
            continue
        number = whole_number(part)
        if number is None or not low <= number <= high:
            raise ValidationError(
                _("Enter whole numbers from %(low)d to %(high)d, separated by commas."),
                params={"low": low, "high": high},
            )
        numbers.append(number)
    return sorted(set(numbers))


class CareSettingsForm(forms.Form):
    """Care guardrails: quiet and business hours, frequency cap, retries, limits."""

    quiet_start = forms.TimeField(label=_("Quiet hours start"), widget=TimeInput())
    quiet_end = forms.TimeField(
        label=_("Quiet hours end"),
        widget=TimeInput(),
        help_text=_("No SMS or automated call between these times (customer's local time)."),
    )
    business_start = forms.TimeField(label=_("Business hours start"), widget=TimeInput())
    business_end = forms.TimeField(label=_("Business hours end"), widget=TimeInput())
    business_days = forms.MultipleChoiceField(
        label=_("Business days"), choices=ISO_WEEKDAYS, widget=CheckboxRow()
    )
    frequency_cap = forms.IntegerField(
        label=_("Proactive touches at most"), min_value=1, max_value=100
    )
    frequency_window_days = forms.IntegerField(
        label=_("Per this many days"), min_value=1, max_value=365
    )
    agent_daily_limit = forms.IntegerField(
        label=_("Call tasks per agent per day"), min_value=1, max_value=1000
    )
    max_attempts = forms.IntegerField(
        label=_("Send attempts before giving up"), min_value=1, max_value=20
    )
    retry_base_seconds = forms.IntegerField(
        label=_("First retry after (seconds)"), min_value=1, max_value=86400
    )
    csat_interval_days = forms.IntegerField(
        label=_("One satisfaction survey per customer per (days)"), min_value=1, max_value=365
    )
    csat_reply_hours = forms.IntegerField(
        label=_("Satisfaction answers accepted for (hours)"), min_value=1, max_value=720
    )
    stop_words = forms.CharField(
        label=_("Extra opt-out words"),
        required=False,
        help_text=_("Separated by commas. STOP, UNSUBSCRIBE, 退订 and TD always work."),
    )
    inactivity_days = forms.CharField(
        label=_("Inactivity events after (days)"),
        required=False,
        help_text=_("Days without an order that raise an inactivity event, e.g. 60, 120."),
    )

    @staticmethod
    def initial_from(settings: CareSettings) -> dict[str, Any]:
        return {
            "quiet_start": settings.quiet_start,
            "quiet_end": settings.quiet_end,
            "business_start": settings.business_start,
            "business_end": settings.business_end,
            "business_days": [str(day) for day in settings.business_days],
            "frequency_cap": settings.frequency_cap,
            "frequency_window_days": settings.frequency_window_days,
            "agent_daily_limit": settings.agent_daily_limit,
            "csat_interval_days": settings.csat_interval_days,
            "csat_reply_hours": settings.csat_reply_hours,
            "max_attempts": settings.max_attempts,
            "retry_base_seconds": settings.retry_base_seconds,
            "stop_words": ", ".join(settings.stop_words),
            "inactivity_days": ", ".join(str(day) for day in settings.inactivity_days),
        }

    def clean_business_days(self) -> list[int]:
        return sorted(int(day) for day in self.cleaned_data["business_days"])

    def clean_stop_words(self) -> list[str]:
        words = [w.strip() for w in self.cleaned_data["stop_words"].replace("，", ",").split(",")]
        words = [w for w in words if w]
        if any(len(word) > 32 for word in words):
            raise ValidationError(_("Each word may have at most 32 characters."))
        return words

    def clean_inactivity_days(self) -> list[int]:
        return _number_list(self.cleaned_data["inactivity_days"], low=1, high=3650)

    def changes(self, settings: CareSettings) -> dict[str, Any]:
        """The cleaned values that differ from `settings`."""
        return {
            name: value
            for name, value in self.cleaned_data.items()
            if getattr(settings, name) != value
        }


def trigger_param_value_words(spec: ParamCheck, value: Any, segment_names: dict[str, str]) -> str:
    """One trigger parameter's value as the editor names it (`segment_names`: slug -> name)."""
    if spec.kind == "choice":
        labels: dict[object, object] = dict(spec.choices)
        return str(labels.get(value, value))
    if spec.kind == "boolean":
        return str(_("Yes") if value else _("No"))
    if spec.kind == "segment":
        return segment_names.get(value, str(value))
    if spec.kind == "holiday":
        return str(_("Any holiday")) if value == ANY_HOLIDAY else calendar_day_label(str(value))
    if spec.kind in ATTRIBUTE_KINDS and isinstance(value, str):
        known: dict[str, object] = dict(attribute_choices(spec.kind))
        if value in known and value.split(":", 1)[1]:
            return str(known[value])
        return _("custom attribute %(key)s") % {"key": value.split(":", 1)[-1]}
    return str(value)


def trigger_params_text(
    trigger: str, params: dict[str, Any], segment_names: dict[str, str]
) -> list[tuple[str, str]]:
    """A rule's trigger parameters in words, as (label, value) pairs for the rule list: the
    labels of the editor's fields and of the chosen values (`segment_names`: slug -> name)."""
    specs = TRIGGER_PARAMS.get(trigger, {})
    pairs = []
    for name, value in params.items():
        spec = specs.get(name)
        label = (KIND_LABELS.get(spec.kind) if spec else None) or PARAM_LABELS.get(name) or name
        if spec is None:
            pairs.append((str(label), str(value)))
        else:
            pairs.append((str(label), trigger_param_value_words(spec, value, segment_names)))
    return pairs
