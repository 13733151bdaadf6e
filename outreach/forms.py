"""Forms of the queue pages (complete a call, reschedule it as a callback, reassign in bulk), of
the agent desk's card (schedule a callback), the call-queue field of the user form
(outreach.parts.user_form), the public survey page and the call reasons' follow-ups."""

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from callcenter.choices import Role
from callcenter.views.desk import CALL_ID_LENGTH
from care.choices import TemplateChannel
from care.models import MessageTemplate
from outreach.choices import SummaryChannel, TaskOutcome
from outreach.models import Queue
from outreach.services.tasks import RESCHEDULE_OUTCOMES

MAX_BULK = 500


class CompleteTaskForm(forms.Form):
    outcome = forms.ChoiceField(label=_("Outcome"), choices=TaskOutcome.choices)
    notes = forms.CharField(label=_("Notes"), max_length=2000, required=False)


class RescheduleTaskForm(forms.Form):
    callback_at = forms.DateTimeField(
        label=_("Call back at"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
    )
    outcome = forms.ChoiceField(
        label=_("Outcome"),
        choices=[(value, TaskOutcome(value).label) for value in RESCHEDULE_OUTCOMES],
        initial=TaskOutcome.CALLBACK_REQUESTED,
    )
    notes = forms.CharField(label=_("Notes"), max_length=2000, required=False)

    def clean_callback_at(self) -> Any:
        value = self.cleaned_data["callback_at"]
        if value <= timezone.now():
            raise forms.ValidationError(_("Choose a time in the future."))
        return value


def assignable_users() -> QuerySet:
    """Active users holding a call-center role, by username."""
    return (
        get_user_model()
        .objects.filter(is_active=True, groups__name__in=Role.values)
        .distinct()
        .order_by("username")
    )


class TaskIdsField(forms.TypedMultipleChoiceField):
    """Task ids as integers; any integer is valid: the service moves only open call tasks
    among them."""

    def valid_value(self, value: object) -> bool:
        return str(value).isdigit()


class AgentChoiceField(forms.ModelChoiceField):
    """An agent, shown by username."""

    def label_from_instance(self, obj: AbstractBaseUser) -> str:
        return obj.get_username()


class ReassignForm(forms.Form):
    tasks = TaskIdsField(
        label=_("Tasks"),
        coerce=int,
        error_messages={"required": _("Select at least one task.")},
    )
    assignee = AgentChoiceField(
        label=_("Agent"),
        queryset=get_user_model().objects.none(),
        required=False,
        empty_label=_("Nobody (wait in the queue)"),
    )
    queue = forms.ModelChoiceField(
        label=_("Queue"),
        queryset=Queue.objects.none(),
        required=False,
        empty_label=_("Keep the queue"),
    )
    reason = forms.CharField(label=_("Reason"), max_length=255, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        assignee, queue = self.fields["assignee"], self.fields["queue"]
        assert isinstance(assignee, forms.ModelChoiceField)  # the fields declared above
        assert isinstance(queue, forms.ModelChoiceField)
        assignee.queryset = assignable_users()
        queue.queryset = Queue.objects.order_by("name")

    def clean_tasks(self) -> list[int]:
        tasks = self.cleaned_data["tasks"]
        if len(tasks) > MAX_BULK:
            raise forms.ValidationError(
                _("Reassign at most %(count)s tasks at once.") % {"count": MAX_BULK}
            )
        return tasks

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if not data.get("assignee") and not data.get("queue"):
            self.add_error("assignee", _("Choose an agent or a queue."))
        return data


class QueueChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Queue) -> str:
        return obj.name


def queue_membership_field() -> QueueChoiceField:
    """The call queues a user works, as checkboxes by queue name."""
    return QueueChoiceField(
        label=_("Call queues"),
        queryset=Queue.objects.order_by("name"),
        required=False,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "check-row"}),
    )


class DeskCallbackForm(forms.Form):
    """A callback the agent promises the caller on the desk's card: a call task for themselves."""

    call_id = forms.CharField(max_length=CALL_ID_LENGTH, required=False, widget=forms.HiddenInput)
    callback_at = forms.DateTimeField(
        label=_("Call back at"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
    )
    notes = forms.CharField(
        label=_("What to call about"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def clean_callback_at(self) -> Any:
        value = self.cleaned_data["callback_at"]
        if value <= timezone.now():
            raise forms.ValidationError(_("Choose a time in the future."))
        return value


class SurveyAnswerForm(forms.Form):
    """The customer's answer on the public survey page: a score 1-5 and an optional comment."""

    score = forms.TypedChoiceField(
        label=_("Your score"),
        coerce=int,
        choices=[(score, str(score)) for score in range(1, 6)],
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(
        label=_("Anything you would like to tell us? (optional)"),
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class SurveyTemplateField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.name} ({obj.get_channel_display()})"


class CallReasonSettingForm(forms.Form):
    """A call reason's follow-ups, edited by admins (outreach.services.call_followups)."""

    reason = forms.CharField(
        label=_("Call reason"),
        max_length=100,
        help_text=_("As agents type it in the call log; upper and lower case do not matter."),
    )
    summary_channel = forms.ChoiceField(
        label=_("Send the agent's notes as a summary by"), choices=SummaryChannel.choices
    )
    csat_template = SurveyTemplateField(
        label=_("Satisfaction question after the call"),
        queryset=MessageTemplate.objects.filter(
            channel__in=[TemplateChannel.SMS, TemplateChannel.EMAIL]
        ).order_by("name"),
        required=False,
        empty_label=_("None"),
        help_text=_("An SMS or email template with {{ survey_link }}."),
    )
