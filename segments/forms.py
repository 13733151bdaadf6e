"""Forms of the supervisor workspace: the rule segment editor and a segment's capacity settings."""

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from callcenter.jsoninput import JSONInputError, json_loads_checked
from segments.choices import PriorityField

MAX_RULE_JSON_LENGTH = 100_000


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

    name = forms.CharField(label=_("Name"), max_length=120)
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    rule = forms.CharField(widget=forms.HiddenInput, max_length=MAX_RULE_JSON_LENGTH)

    field_order = ["name", "description", "rule", "capacity", "priority_field"]

    def clean_rule(self) -> dict[str, Any]:
        try:
            tree = json_loads_checked(self.cleaned_data["rule"])
        except JSONInputError as exc:
            raise forms.ValidationError(str(exc)) from exc
        if not isinstance(tree, dict):
            raise forms.ValidationError(_("The rule must be a group of conditions."))
        return tree
