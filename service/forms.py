"""Forms of the ticket page (service.views.tickets) and the ticket list's filters."""

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from callcenter.choices import InteractionChannel, Role, TicketKind, TicketPriority, TicketStatus
from callcenter.limits import FREE_TEXT_MAX_LENGTH
from service.choices import SlaState

User = get_user_model()


def _blank(choices: list[tuple[str, Any]], label: Any) -> list[tuple[str, Any]]:
    return [("", label), *choices]


class TicketFilterForm(forms.Form):
    """The ticket list's filters; `scope` choices depend on the role (set by the view)."""

    scope = forms.ChoiceField(label=_("Show"), required=False)
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=_blank(TicketStatus.choices, _("Open (any)")),
    )
    kind = forms.ChoiceField(
        label=_("Kind"), required=False, choices=_blank(TicketKind.choices, _("Any kind"))
    )
    priority = forms.ChoiceField(
        label=_("Priority"),
        required=False,
        choices=_blank(TicketPriority.choices, _("Any priority")),
    )
    sla = forms.ChoiceField(
        label=_("SLA"), required=False, choices=_blank(SlaState.choices, _("Any SLA state"))
    )
    customer = forms.IntegerField(
        required=False, min_value=1, max_value=2**63 - 1, widget=forms.HiddenInput
    )
    page = forms.IntegerField(required=False, min_value=1, max_value=100_000)

    def __init__(self, *args: Any, scopes: list[tuple[str, Any]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["scope"].choices = scopes  # type: ignore[attr-defined]


class TicketNoteForm(forms.Form):
    """An optional note kept in the ticket's history."""

    text = forms.CharField(
        label=_("Note"),
        required=False,
        max_length=FREE_TEXT_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class TicketRespondForm(forms.Form):
    """What was told to the customer, and by which channel."""

    text = forms.CharField(
        label=_("What you told the customer"),
        max_length=FREE_TEXT_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    channel = forms.ChoiceField(
        label=_("Channel"),
        required=False,
        choices=_blank(InteractionChannel.choices, _("Not said")),
    )


class TicketAssignForm(forms.Form):
    """Whom to give the ticket (supervisors and admins)."""

    assignee = forms.ModelChoiceField(
        label=_("Assignee"),
        required=False,
        empty_label=_("Nobody (unassigned)"),
        queryset=User.objects.none(),
    )
    text = forms.CharField(label=_("Note"), required=False, max_length=FREE_TEXT_MAX_LENGTH)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = (  # type: ignore[attr-defined]
            User.objects.filter(is_active=True, groups__name__in=Role.values)
            .distinct()
            .order_by("username")
        )


class TicketChangeForm(forms.Form):
    """The ticket's kind, priority and channel."""

    kind = forms.ChoiceField(label=_("Kind"), choices=TicketKind.choices)
    priority = forms.ChoiceField(label=_("Priority"), choices=TicketPriority.choices)
    channel = forms.ChoiceField(
        label=_("Channel"),
        required=False,
        choices=_blank(InteractionChannel.choices, _("Not said")),
    )
