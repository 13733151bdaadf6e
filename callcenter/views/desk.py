"""The agent desk: live screen-pop over server-sent events, the caller's card and its actions.

The desk page opens `desk-events`, a text/event-stream subscribed to the agent's Redis
channel (see `callcenter.services.cti`). A ringing call makes the page fetch `desk-card` by the
call's reference (never by the number, which the page does not receive), the server-rendered
card; its forms (log the call, open a ticket, create an unknown caller) post here and answer
with the card again, so nothing is typed twice. Apps above add forms of their own to the card's
side column through `desk_forms` (outreach: schedule a callback); their views post to that app
and answer through `desk_card_action`.

Each open stream holds one web worker thread for up to STREAM_SECONDS; the browser's
EventSource reconnects when it ends. `callcenter.services.desk_streams` bounds them: a few per
user (the oldest is closed, and its page says so), and per process fewer than its threads.
"""

import json
import time
import uuid
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any

from django import forms
from django.db import connection
from django.http import (
    HttpResponse,
    HttpResponseBadRequest,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from callcenter.choices import (
    CustomerKind,
    CustomerStatus,
    Direction,
    InteractionChannel,
    TicketKind,
    TicketPriority,
)
from callcenter.errors import ApplicationError
from callcenter.extensions import Registry
from callcenter.http import AuthenticatedHttpRequest
from callcenter.limits import FREE_TEXT_MAX_LENGTH
from callcenter.masking import contacts_visible_in_full
from callcenter.models import Customer
from callcenter.page_parts import PagePart
from callcenter.phones import try_normalize_phone
from callcenter.redis_client import redis_client
from callcenter.selectors.desk import DeskCard, desk_card
from callcenter.services.activity import interaction_log, ticket_open
from callcenter.services.cti import agent_channel, cti_call_ref_phone
from callcenter.services.customers import customer_create
from callcenter.services.desk_streams import (
    StreamSlots,
    desk_stream_close_channel,
    desk_stream_register,
    desk_stream_slots,
    desk_stream_unregister,
)
from callcenter.views import role_required

# An open stream ends after this long and the browser reconnects (frees the worker thread
# now and then, and survives proxies that cut idle connections).
STREAM_SECONDS = 300
# A comment line this often keeps proxies from closing an idle stream.
HEARTBEAT_SECONDS = 15
# How long one wait for a message may block (bounds how late the stream notices its end).
POLL_SECONDS = 1.0
# The browser waits this long before reconnecting a closed stream.
RETRY_MILLISECONDS = 2000
# A stream registered longer ago than STREAM_SECONDS plus this belongs to a dead process.
STALE_MARGIN_SECONDS = 60
# A stream refused because the process holds its limit: when the browser should try again.
BUSY_RETRY_AFTER_SECONDS = 10
MAX_PHONE_LENGTH = 64
CALL_ID_LENGTH = 128
CALL_REF_LENGTH = 64
# Answer for a form with bad input: the desk's script swaps it in like a success.
INVALID = 422


@dataclass(frozen=True)
class DeskForm:
    """A form an app above adds to the side column of a known caller's card.

    `build(initial)` makes the unbound form (`initial` holds the card's `call_id`), a
    `DeskCardForm` with an `id_prefix` of its own; `template` shows it, with the form as
    `form`. The app's own view takes the post and answers through `desk_card_action`, passing
    its bound form under the name the form is registered by.
    """

    build: Callable[[dict[str, Any]], "DeskCardForm"]
    template: str


desk_forms: Registry[DeskForm] = Registry("desk card forms")


class DeskCardForm(forms.Form):
    """A form on the desk's card. The card holds several forms with fields of the same names
    (`call_id`, `notes`), so each names its fields' element ids after itself (`id_prefix`:
    `log-notes`, `callback-notes`) rather than Django's `id_notes`: ids stay unique on the page
    and each label points at its own field."""

    id_prefix = "desk"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", f"{self.id_prefix}-%s")
        super().__init__(*args, **kwargs)


class LogCallForm(DeskCardForm):
    id_prefix = "log"
    call_id = forms.CharField(max_length=CALL_ID_LENGTH, required=False, widget=forms.HiddenInput)
    direction = forms.ChoiceField(
        label=gettext_lazy("Direction"), choices=Direction.choices, initial=Direction.INBOUND
    )
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=100)
    outcome = forms.CharField(label=gettext_lazy("Outcome"), max_length=100, required=False)
    duration_minutes = forms.IntegerField(
        label=gettext_lazy("Duration (minutes)"), min_value=0, max_value=600, required=False
    )
    notes = forms.CharField(
        label=gettext_lazy("Notes"),
        max_length=FREE_TEXT_MAX_LENGTH,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class TicketForm(DeskCardForm):
    id_prefix = "ticket"
    call_id = forms.CharField(max_length=CALL_ID_LENGTH, required=False, widget=forms.HiddenInput)
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), choices=TicketKind.choices)
    priority = forms.ChoiceField(
        label=gettext_lazy("Priority"),
        choices=TicketPriority.choices,
        initial=TicketPriority.NORMAL,
    )
    subject = forms.CharField(label=gettext_lazy("Subject"), max_length=200)
    description = forms.CharField(
        label=gettext_lazy("Description"),
        max_length=FREE_TEXT_MAX_LENGTH,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class NewCallerForm(DeskCardForm):
    """An unknown caller made a customer. The number is typed, or, for a live call whose
    number the agent was not shown, taken from the call's reference (`call_ref`)."""

    id_prefix = "new-caller"
    call_id = forms.CharField(max_length=CALL_ID_LENGTH, required=False, widget=forms.HiddenInput)
    call_ref = forms.CharField(max_length=CALL_REF_LENGTH, required=False, widget=forms.HiddenInput)
    name = forms.CharField(label=gettext_lazy("Name"), max_length=200)
    kind = forms.ChoiceField(
        label=gettext_lazy("Kind"), choices=CustomerKind.choices, initial=CustomerKind.PERSON
    )
    phone = forms.CharField(label=gettext_lazy("Phone"), max_length=MAX_PHONE_LENGTH)
    email = forms.EmailField(label=gettext_lazy("Email"), required=False)
    company_name = forms.CharField(
        label=gettext_lazy("Company name"), max_length=200, required=False
    )

    def __init__(self, *args: Any, user_id: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.call_phone = cti_call_ref_phone(
            user_id=user_id, ref=str(self.data.get("call_ref") or self.initial.get("call_ref", ""))
        )
        if self.call_phone:
            # The caller's number comes from the call; the agent is not shown it.
            self.fields["phone"].required = False
            self.fields["phone"].widget = forms.HiddenInput()

    def clean_phone(self) -> str:
        if self.call_phone:
            return self.call_phone
        phone = try_normalize_phone(self.cleaned_data["phone"])
        if phone is None:
            raise forms.ValidationError(_("Not a valid phone number."))
        return phone


def _card_context(
    request: AuthenticatedHttpRequest,
    *,
    phone: str,
    call_id: str = "",
    call_ref: str = "",
    **forms_: forms.Form,
) -> dict[str, Any]:
    in_full = contacts_visible_in_full(request.user)
    if "new_form" in forms_:
        # The create form with its errors, even if the number meanwhile found an owner.
        card = DeskCard(phone=phone, known=False, screenpop={"phone": phone})
    else:
        card = desk_card(phone=phone, full_contacts=in_full)
    initial = {"call_id": call_id}
    context: dict[str, Any] = {
        "card": card,
        "call_id": call_id,
        "contacts_in_full": in_full,
        # A number from a live call is shown as the role may see it; a typed one as typed.
        "caller_masked": bool(call_ref) and not in_full,
    }
    if card.known:
        context.update(
            log_form=forms_.get("log_form") or LogCallForm(initial=initial),
            ticket_form=forms_.get("ticket_form") or TicketForm(initial=initial),
            part_forms=[
                PagePart(
                    template=part.template,
                    context={"form": forms_.get(name) or part.build(initial)},
                )
                for name, part in desk_forms.items()
            ],
            done=forms_.get("done"),
        )
    else:
        context["new_form"] = forms_.get("new_form") or NewCallerForm(
            initial={**initial, "call_ref": call_ref, "phone": "" if call_ref else card.phone},
            user_id=request.user.pk,
        )
    return context


def _render_card(
    request: AuthenticatedHttpRequest,
    *,
    phone: str,
    call_id: str = "",
    call_ref: str = "",
    status: int = 200,
    **extra: Any,
) -> HttpResponse:
    context = _card_context(request, phone=phone, call_id=call_id, call_ref=call_ref, **extra)
    return render(request, "callcenter/partials/desk_card.html", context, status=status)


@require_GET
@role_required()
def desk_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The agent's desk: live call status, a manual number search and the caller's card."""
    phone = request.GET.get("phone", "").strip()[:MAX_PHONE_LENGTH]
    context: dict[str, Any] = {"phone": phone}
    if phone:
        context.update(_card_context(request, phone=phone))
    return render(request, "callcenter/desk.html", context)


@require_GET
@role_required()
def desk_card_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The card (htmx fragment) of a live call, by its reference (`call`), or of a typed number
    (`phone`): the known caller, or the create-customer form."""
    call_id = request.GET.get("call_id", "")[:CALL_ID_LENGTH]
    call_ref = request.GET.get("call", "")[:CALL_REF_LENGTH]
    if call_ref:
        phone = cti_call_ref_phone(user_id=request.user.pk, ref=call_ref)
        if phone is None:
            return render(request, "callcenter/partials/desk_call_gone.html", status=404)
        return _render_card(request, phone=phone, call_id=call_id, call_ref=call_ref)
    phone = request.GET.get("phone", "").strip()[:MAX_PHONE_LENGTH]
    if not phone:
        return HttpResponseBadRequest(_("Give a phone number."))
    return _render_card(request, phone=phone, call_id=call_id)


def _event(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data, default=str)}\n\n"


class DeskEventStream:
    """The agent's call events as server-sent events, with heartbeats, for STREAM_SECONDS.

    The body of the desk's streaming response. It subscribes to the agent's channel and to its
    own close channel before the first chunk, so once the browser sees `ready` no event is
    missed; then it counts itself among the user's streams, which closes their oldest beyond
    DESK_STREAMS_PER_USER. A stream told to close sends `replaced` and ends. `close()`, which
    the server calls when the response ends however it ends, gives back the process slot the
    view took for it.
    """

    def __init__(self, *, user_id: int, slots: StreamSlots) -> None:
        self.user_id = user_id
        self.stream_id = uuid.uuid4().hex
        self._slots = slots
        self._events = self._generate()
        self._released = False

    def __iter__(self) -> Iterator[str]:
        return self._events

    def close(self) -> None:
        self._events.close()
        if not self._released:
            self._released = True
            self._slots.release()

    def _generate(self) -> Generator[str, None, None]:
        if not connection.in_atomic_block:
            # The stream needs no database; do not hold a connection for minutes.
            connection.close()
        close_channel = desk_stream_close_channel(self.stream_id).encode()
        pubsub = redis_client().pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(agent_channel(self.user_id), close_channel)
        try:
            desk_stream_register(
                user_id=self.user_id,
                stream_id=self.stream_id,
                max_age_seconds=int(STREAM_SECONDS) + STALE_MARGIN_SECONDS,
            )
            yield f"retry: {RETRY_MILLISECONDS}\n" + _event("ready", {"channel": "desk"})
            started = last_beat = time.monotonic()
            while time.monotonic() - started < STREAM_SECONDS:
                message = pubsub.get_message(timeout=POLL_SECONDS)
                if message is not None and message["type"] == "message":
                    if message["channel"] == close_channel:
                        yield _event("replaced", {"reason": message["data"].decode()})
                        return
                    yield f"event: call\ndata: {message['data'].decode()}\n\n"
                    last_beat = time.monotonic()
                elif time.monotonic() - last_beat >= HEARTBEAT_SECONDS:
                    yield ": heartbeat\n\n"
                    last_beat = time.monotonic()
        finally:
            try:
                desk_stream_unregister(user_id=self.user_id, stream_id=self.stream_id)
            finally:
                pubsub.close()


@require_GET
@role_required()
def desk_events_view(request: AuthenticatedHttpRequest) -> HttpResponse | StreamingHttpResponse:
    """Server-sent events: this agent's call events (ringing, answered, ended).

    503 with Retry-After when this process holds as many streams as it may (the rest of its
    threads serve requests); the desk tries again later.
    """
    slots = desk_stream_slots()
    if not slots.acquire():
        busy = HttpResponse(
            _("Too many live desks are open on this server; retrying shortly."),
            status=503,
            content_type="text/plain; charset=utf-8",
        )
        busy["Retry-After"] = str(BUSY_RETRY_AFTER_SECONDS)
        busy["Cache-Control"] = "no-cache"
        return busy
    response = StreamingHttpResponse(
        DeskEventStream(user_id=request.user.pk, slots=slots), content_type="text/event-stream"
    )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


def _active_customer(pk: int) -> Customer:
    return get_object_or_404(Customer, pk=pk, status=CustomerStatus.ACTIVE)


def _caller_phone(request: AuthenticatedHttpRequest, customer: Customer) -> str:
    """The number the card was opened with (posted back), else the customer's primary phone."""
    posted = try_normalize_phone(request.POST.get("phone", ""))
    if posted:
        return posted
    point = customer.contact_points.filter(kind="phone", is_active=True).order_by(
        "-is_primary", "id"
    )
    return point.values_list("value", flat=True).first() or ""


def desk_card_action(
    request: AuthenticatedHttpRequest,
    pk: int,
    form_class: type[forms.Form],
    form_name: str,
    act: Callable[[Customer, dict[str, Any]], str],
) -> HttpResponse:
    """Run one of the card's actions for this customer and answer with the refreshed card: the
    done message (what `act` returns), or the form with its errors (the service's refusal
    included), nothing saved. `form_name` is the card's name for the form (see `desk_forms`)."""
    customer = _active_customer(pk)
    phone = _caller_phone(request, customer)
    form = form_class(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            done = act(customer, data)
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            return _render_card(request, phone=phone, call_id=data["call_id"], done=done)
    invalid_form: dict[str, Any] = {form_name: form}
    return _render_card(
        request,
        phone=phone,
        call_id=request.POST.get("call_id", ""),
        status=INVALID,
        **invalid_form,
    )


@require_POST
@role_required()
def desk_log_call_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Log the call with this customer; answers with the refreshed card."""

    def log_call(customer: Customer, data: dict[str, Any]) -> str:
        notes = data["notes"]
        if data["call_id"]:
            notes = f"{notes}\n[{_('call')} {data['call_id']}]".strip()
        interaction_log(
            customer=customer,
            channel=InteractionChannel.CALL,
            direction=data["direction"],
            duration_seconds=(data["duration_minutes"] or 0) * 60,
            agent=request.user,
            reason=data["reason"],
            outcome=data["outcome"],
            notes=notes,
        )
        return _("Call logged.")

    return desk_card_action(request, pk, LogCallForm, "log_form", log_call)


@require_POST
@role_required()
def desk_ticket_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Open a ticket for this customer; answers with the refreshed card."""

    def open_ticket(customer: Customer, data: dict[str, Any]) -> str:
        ticket_open(
            customer=customer,
            kind=data["kind"],
            priority=data["priority"],
            subject=data["subject"],
            description=data["description"],
            assignee=request.user,
            # The desk is where calls are taken.
            channel=InteractionChannel.CALL,
            by=request.user,
        )
        return _("Ticket opened.")

    return desk_card_action(request, pk, TicketForm, "ticket_form", open_ticket)


@require_POST
@role_required()
def desk_customer_create_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Create the unknown caller as a customer; answers with their new card."""
    form = NewCallerForm(request.POST, user_id=request.user.pk)
    if form.is_valid():
        data = form.cleaned_data
        try:
            customer_create(
                name=data["name"],
                kind=data["kind"],
                phones=[data["phone"]],
                emails=[data["email"]] if data["email"] else [],
                company_name=data["company_name"],
                created_by=request.user,
            )
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            return _render_card(
                request, phone=data["phone"], call_id=data["call_id"], done=_("Customer created.")
            )
    phone = form.call_phone or request.POST.get("phone", "").strip()[:MAX_PHONE_LENGTH]
    return _render_card(
        request,
        phone=phone or "-",
        call_id=request.POST.get("call_id", ""),
        call_ref=request.POST.get("call_ref", "")[:CALL_REF_LENGTH] if form.call_phone else "",
        status=INVALID,
        new_form=form,
    )
