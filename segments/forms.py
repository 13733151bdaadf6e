"""Forms of the supervisor workspace: the rule segment editor and a segment's capacity settings;
and segments' sections of the settings page in the admin area (segments.parts.settings):
lifecycle and value-tier thresholds, the RFM grid, the refresh schedule."""

from collections.abc import Iterator
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.forms.models import fields_for_model
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from callcenter.choices import InteractionChannel
from callcenter.forms_manage import ISO_WEEKDAYS, CheckboxRow, TimeInput
from callcenter.jsoninput import JSONInputError, json_loads_checked
from segments.choices import PriorityField
from segments.models import RfmSegmentDefinition, SegmentSettings

MAX_RULE_JSON_LENGTH = 100_000


def rule_tree_clean(text: str) -> dict[str, Any]:
    """A rule tree posted by the rule builder as JSON: a group of conditions, or a clear error.
    What the conditions say is the segment services' to check."""
    try:
        tree = json_loads_checked(text)
    except JSONInputError as exc:
        raise forms.ValidationError(str(exc)) from exc
    if not isinstance(tree, dict):
        raise forms.ValidationError(_("The rule must be a group of conditions."))
    return tree


class SegmentSettingsForm(forms.Form):
    """Capacity and priority: how many members a segment keeps, and which ones first."""

    capacity = forms.IntegerField(
        label=_("Capacity"),
        required=False,
        min_value=1,
        help_text=_("Keep at most this many members; empty means no limit."),
    )
    priority_field = forms.ChoiceField(label=_("Priority"), choices=PriorityField.choices)
    priority_descending = forms.BooleanField(label=_("Highest first"), required=False)


class RuleSegmentForm(SegmentSettingsForm):
    """A rule segment: name, description, the rule tree (JSON from the builder) and settings."""

    name = forms.CharField(label=pgettext_lazy("thing", "Name"), max_length=120)
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    rule = forms.CharField(widget=forms.HiddenInput, max_length=MAX_RULE_JSON_LENGTH)

    field_order = ["name", "description", "rule", "capacity", "priority_field"]
    # Where the rule tree the service refused is wrong; set by the editor view, absent otherwise.
    rule_error_path: str

    def clean_rule(self) -> dict[str, Any]:
        return rule_tree_clean(self.cleaned_data["rule"])


SEGMENT_SETTINGS_FIELDS = [
    "new_days",
    "dormant_days",
    "lost_days",
    "window_days",
    "tier_method",
    "high_percentile",
    "medium_percentile",
    "high_threshold",
    "medium_threshold",
    "business_high_threshold",
    "business_medium_threshold",
]
LIFECYCLE_FIELDS = SEGMENT_SETTINGS_FIELDS[:4]
TIER_FIELDS = SEGMENT_SETTINGS_FIELDS[4:]


class SegmentThresholdsForm(forms.Form):
    """Lifecycle and value-tier thresholds; labels and limits come from the model."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields.update(fields_for_model(SegmentSettings, fields=SEGMENT_SETTINGS_FIELDS))

    @staticmethod
    def initial_from(settings: SegmentSettings) -> dict[str, Any]:
        return {name: getattr(settings, name) for name in SEGMENT_SETTINGS_FIELDS}

    def lifecycle_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in LIFECYCLE_FIELDS]

    def tier_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in TIER_FIELDS]


RANGE_PARTS = ("r_min", "r_max", "fm_min", "fm_max")
RANGE_LABELS = (_("R from"), _("R to"), _("FM from"), _("FM to"))


class RfmGridForm(forms.Form):
    """The ranges of every RFM segment definition and its segment's display name.

    Fields are named `<definition>-<part>`; `row_errors` holds errors per definition.
    """

    def __init__(
        self,
        *args: Any,
        definitions: list[RfmSegmentDefinition],
        names: dict[str, str],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.definitions = definitions
        self.row_errors: dict[str, list[str]] = {}
        for definition in definitions:
            key = definition.name
            label = definition.get_name_display()
            self.fields[f"{key}-label"] = forms.CharField(
                label=pgettext_lazy("thing", "Name"),
                max_length=120,
                initial=names.get(key, label),
                widget=forms.TextInput(attrs={"aria-label": f"{label}: {_('Name')}"}),
            )
            for part, part_label in zip(RANGE_PARTS, RANGE_LABELS, strict=True):
                self.fields[f"{key}-{part}"] = forms.IntegerField(
                    label=part_label,
                    min_value=1,
                    max_value=5,
                    initial=getattr(definition, part),
                    widget=forms.NumberInput(
                        attrs={"class": "score-input", "aria-label": f"{label}: {part_label}"}
                    ),
                )

    def rows(self) -> Iterator[dict[str, Any]]:
        for definition in self.definitions:
            key = definition.name
            yield {
                "key": key,
                "label": definition.get_name_display(),
                "name": self[f"{key}-label"],
                "parts": [self[f"{key}-{part}"] for part in RANGE_PARTS],
                "errors": self.row_errors.get(key, [])
                + [
                    e
                    for part in ("label", *RANGE_PARTS)
                    for e in self.errors.get(f"{key}-{part}", [])
                ],
            }

    def ranges(self) -> dict[str, tuple[int, int, int, int]]:
        data = self.cleaned_data
        return {
            d.name: tuple(data[f"{d.name}-{part}"] for part in RANGE_PARTS)
            for d in self.definitions
        }

    def names(self) -> dict[str, str]:
        return {d.name: self.cleaned_data[f"{d.name}-label"] for d in self.definitions}

    def add_service_error(self, error: ValidationError) -> None:
        """Spread a service's ValidationError over rows (keyed by definition) or the form."""
        if hasattr(error, "error_dict"):
            for key, errors in error.message_dict.items():
                if key in {d.name for d in self.definitions}:
                    self.row_errors.setdefault(key, []).extend(errors)
                else:
                    self.add_error(None, errors)
        else:
            self.add_error(None, error)


class RefreshScheduleForm(forms.Form):
    """When the scheduled segment refresh runs."""

    run_at = forms.TimeField(
        label=_("Run at"),
        widget=TimeInput(),
        help_text=_("Business time zone."),
    )
    days = forms.MultipleChoiceField(label=_("On"), choices=ISO_WEEKDAYS, widget=CheckboxRow())
    enabled = forms.BooleanField(label=_("Scheduled refresh on"), required=False)

    def clean_days(self) -> list[int]:
        return sorted(int(day) for day in self.cleaned_data["days"])


class NextBestActionForm(forms.Form):
    """A next best action: when (the rule tree from the builder), what to do and why."""

    name = forms.CharField(label=pgettext_lazy("thing", "Name"), max_length=120)
    position = forms.IntegerField(
        label=_("Position"),
        min_value=0,
        initial=100,
        help_text=_("Lower positions are tried first; the card shows the first three matches."),
    )
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)
    condition = forms.CharField(widget=forms.HiddenInput, max_length=MAX_RULE_JSON_LENGTH)
    action_text = forms.CharField(
        label=_("What to do"), max_length=300, widget=forms.Textarea(attrs={"rows": 2})
    )
    reason_text = forms.CharField(
        label=_("Why (shown to the agent)"),
        max_length=300,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Empty: the condition itself is shown as the reason."),
    )
    channel = forms.ChoiceField(
        label=_("Suggested channel"),
        required=False,
        choices=[("", "—"), *InteractionChannel.choices],
    )
    # Where the condition the service refused is wrong; set by the editor view, absent otherwise.
    rule_error_path: str

    def clean_condition(self) -> dict[str, Any]:
        return rule_tree_clean(self.cleaned_data["condition"])
