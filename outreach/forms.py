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

from callcenter.choices import CustomerKind, Language, Role, TicketKind
from callcenter.views.desk import CALL_ID_LENGTH, DeskCardForm
from care.choices import TemplateChannel
from care.models import MessageTemplate
from outreach.choices import SummaryChannel, TaskOutcome
from outreach.models import Queue
from outreach.services.tasks import RESCHEDULE_OUTCOMES
from segments.choices import ValueTier

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
        return str(obj)  # a default queue name in the reader's language


def queue_membership_field() -> QueueChoiceField:
    """The call queues a user works, as checkboxes by queue name."""
    return QueueChoiceField(
        label=_("Call queues"),
        queryset=Queue.objects.order_by("name"),
        required=False,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "check-row"}),
    )


class DeskCallbackForm(DeskCardForm):
    """A callback the agent promises the caller on the desk's card: a call task for themselves."""

    id_prefix = "callback"

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


class SkillsField(forms.CharField):
    """Skills typed as words separated by commas or spaces (checked by `skills_clean`)."""

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        text = super().to_python(value) or ""
        return [word for word in text.replace(",", " ").split() if word]

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return ", ".join(value)
        return value


def skills_field() -> SkillsField:
    return SkillsField(
        label=_("Skills"),
        required=False,
        max_length=2000,
        help_text=_(
            "Separated by commas: languages (en, zh-hans), vip, industry:<industry>, "
            "product:<product>. Tickets and calls that need a skill go to agents who have it."
        ),
    )


def ticket_capacity_field() -> forms.IntegerField:
    return forms.IntegerField(
        label=_("Open tickets at most"),
        required=False,
        min_value=0,
        max_value=1000,
        help_text=_("Empty: no limit. Routing gives no more tickets to an agent at the limit."),
    )


class RoutingRuleForm(forms.Form):
    """A routing rule on the editor page (the service checks it again)."""

    name = forms.CharField(label=_("Name"), max_length=100)
    position = forms.IntegerField(
        label=_("Position"),
        min_value=0,
        max_value=10_000,
        initial=0,
        help_text=_("Rules are tried from the lowest position; the first that matches wins."),
    )
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)
    ticket_kinds = forms.MultipleChoiceField(
        label=_("Ticket kinds"),
        choices=TicketKind.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "check-row"}),
        help_text=_("None ticked: any. A rule with ticket kinds routes tickets only."),
    )
    customer_kinds = forms.MultipleChoiceField(
        label=_("Customer kinds"),
        choices=CustomerKind.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "check-row"}),
    )
    value_tiers = forms.MultipleChoiceField(
        label=_("Value tiers"),
        choices=ValueTier.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "check-row"}),
    )
    languages = forms.MultipleChoiceField(
        label=_("Customer languages"),
        choices=Language.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "check-row"}),
    )
    industries = forms.CharField(
        label=_("Industries"),
        required=False,
        max_length=2000,
        help_text=_("Separated by commas; empty: any industry."),
    )
    queue = forms.ModelChoiceField(label=_("Queue"), queryset=Queue.objects.order_by("name"))
    required_skills = SkillsField(
        label=_("Required skills"),
        required=False,
        max_length=2000,
        help_text=_("Separated by commas; the agent needs all of them."),
    )
    derive_skills = forms.BooleanField(
        label=_("Also require the customer's language, vip and industry"),
        required=False,
        initial=True,
        help_text=_(
            "The customer's language; vip for high-value customers; industry:<industry> for "
            "business customers with an industry (an industry specialist)."
        ),
    )

    def clean_industries(self) -> list[str]:
        text = self.cleaned_data.get("industries") or ""
        return [part.strip() for part in text.split(",") if part.strip()]


class TicketRouteForm(forms.Form):
    """A supervisor moves a routed ticket to a queue and/or an agent."""

    queue = forms.ModelChoiceField(
        label=_("Queue"),
        queryset=Queue.objects.order_by("name"),
        required=False,
        empty_label=_("Keep the queue"),
    )
    assignee = forms.ModelChoiceField(
        label=_("Agent"),
        queryset=assignable_users(),
        required=False,
        empty_label=_("Nobody: waits in the queue"),
    )
    reason = forms.CharField(label=_("Reason"), max_length=255, required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("queue") is None and data.get("assignee") is None:
            raise forms.ValidationError(_("Choose an agent or a queue."))
        return data


class AgentSkillsForm(forms.Form):
    """An agent's skills and ticket capacity (supervisors' page; the service checks again)."""

    skills = skills_field()
    ticket_capacity = ticket_capacity_field()


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
        return f"{obj} ({obj.get_channel_display()})"


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
