"""The agent desk: live screen-pop over server-sent events, the caller's card and its actions.

The desk page opens `desk-events`, a text/event-stream subscribed to the agent's Redis
channel (see `callcenter.services.cti`). A ringing call makes the page fetch `desk-card` by the
call's reference (never by the number, which the page does not receive), the server-rendered
card; its forms (log the call, open a ticket, create an unknown caller) post here and answer
with the card again, so nothing is typed twice. Apps above add forms of their own to the card's
side column through `desk_forms` (outreach: schedule a callback); their views post to that app
and answer through `desk_card_action`.

The stream is an async view served by the ASGI server (`callcenter.asgi`, uvicorn), which
holds thousands of open streams on one event loop; everything else stays on gunicorn. Every
event carries an SSE `id:` (its entry in the agent's event log), so the browser's EventSource,
which reconnects by itself after a web restart or a dropped connection, sends `Last-Event-ID`
and gets the events it missed (`callcenter.services.desk_streams`). A user keeps a few streams
open at most (the oldest is closed, and its page says so).
"""

import asyncio
import json
import logging
import uuid
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from asgiref.sync import sync_to_async
from django import forms
from django.core.handlers.asgi import ASGIRequest
from django.db import connection, transaction
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    StreamingHttpResponse,
)
from django.http.response import HttpResponseBase
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
from callcenter.selectors.desk import DeskCard, desk_card
from callcenter.services.activity import interaction_log, ticket_open
from callcenter.services.cti import cti_call_ref_phone
from callcenter.services.customers import customer_create
from callcenter.services.desk_streams import (
    DeskListener,
    Resync,
    desk_event_id_valid,
    desk_event_newer,
    desk_event_split,
    desk_events_after,
    desk_events_latest,
    desk_hub,
    desk_stream_register,
    desk_stream_unregister,
)
from callcenter.views import role_required

logger = logging.getLogger(__name__)

# An open stream ends after this long and the browser reconnects, with Last-Event-ID, so
# nothing is missed: the session and the role are checked again that often.
STREAM_SECONDS = 300
# A comment line this often keeps proxies from closing an idle stream.
HEARTBEAT_SECONDS = 15
# The browser waits this long before reconnecting a closed stream.
RETRY_MILLISECONDS = 2000
# A stream registered longer ago than STREAM_SECONDS plus this belongs to a dead process.
STALE_MARGIN_SECONDS = 60
# 421 Misdirected Request: the stream reached the WSGI server, which must not hold it.
MISDIRECTED = 421
# Streams of one process opening (checking their session and role) at the same time.
CHECKS_AT_ONCE = 8
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


def _call(event_id: str, message: str) -> str:
    return f"id: {event_id}\nevent: call\ndata: {message}\n\n"


async def desk_event_stream(*, user_id: int, last_event_id: str = "") -> AsyncIterator[str]:
    """The agent's call events as server-sent events, with heartbeats, for STREAM_SECONDS.

    The body of the desk's streaming response. Its position is the entry id of the last event
    it sent: the browser's `Last-Event-ID`, else the agent's newest logged event, and `ready`
    carries it as its `id:`, so even a desk that got no call yet reconnects from there. It
    listens through the process's shared reader before it reads the log after its position,
    so no event falls between the two; an event that comes both ways is sent once. Then it
    counts itself among the user's streams, which closes their oldest beyond
    DESK_STREAMS_PER_USER; a stream told to close sends `replaced` and ends.
    """
    stream_id = uuid.uuid4().hex
    position = last_event_id or await desk_events_latest(user_id=user_id)
    listener = DeskListener(user_id=user_id, stream_id=stream_id)
    hub = desk_hub()
    try:
        await hub.join(listener)
        await desk_stream_register(
            user_id=user_id,
            stream_id=stream_id,
            max_age_seconds=int(STREAM_SECONDS) + STALE_MARGIN_SECONDS,
        )
        ready = _event("ready", {"channel": "desk"})
        yield f"retry: {RETRY_MILLISECONDS}\nid: {position}\n{ready}"
        loop = asyncio.get_running_loop()
        ends = loop.time() + STREAM_SECONDS
        backlog = await desk_events_after(user_id=user_id, event_id=position)
        while True:
            for event_id, message in backlog:
                if desk_event_newer(event_id, position):
                    position = event_id
                    yield _call(event_id, message)
            backlog = []
            left = ends - loop.time()
            if left <= 0:
                return
            try:
                item = await asyncio.wait_for(listener.queue.get(), min(HEARTBEAT_SECONDS, left))
            except TimeoutError:
                if ends - loop.time() > 0:
                    yield ": heartbeat\n\n"
                continue
            if isinstance(item, Resync):
                backlog = await desk_events_after(user_id=user_id, event_id=position)
                continue
            channel, data = item
            if channel == listener.channels[1]:
                yield _event("replaced", {"reason": data.decode()})
                return
            backlog = [desk_event_split(data)]
    finally:
        hub.leave(listener)
        try:
            await desk_stream_unregister(user_id=user_id, stream_id=stream_id)
        except Exception:  # noqa: BLE001 - Redis away: the entry goes stale by itself
            logger.warning("desk stream %s: could not unregister", stream_id, exc_info=True)


def _close_connection() -> None:
    if not connection.in_atomic_block:
        connection.close()


def _checks_bounded(view: Callable[..., Awaitable[HttpResponseBase]]) -> Any:
    """At most CHECKS_AT_ONCE requests of this process run `view` (the session and role checks,
    up to the response's first byte) at a time: each holds a database connection meanwhile,
    and desks reconnecting together (all of them after a restart) would open one each."""

    @wraps(view)
    async def bounded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        loop = asyncio.get_running_loop()
        gate = _check_gates.get(loop)
        if gate is None:
            gate = _check_gates[loop] = asyncio.Semaphore(CHECKS_AT_ONCE)
        async with gate:
            return await view(request, *args, **kwargs)

    return bounded


_check_gates: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]" = (
    weakref.WeakKeyDictionary()
)


# The stream writes nothing to the database (and ATOMIC_REQUESTS cannot wrap an async view).
@transaction.non_atomic_requests
@_checks_bounded
@require_GET
@role_required()
async def desk_events_view(
    request: AuthenticatedHttpRequest,
) -> HttpResponse | StreamingHttpResponse:
    """Server-sent events: this agent's call events (ringing, answered, ended), from the ASGI
    server. The WSGI server answers 421 (Misdirected Request) rather than hold a thread: the
    proxy routes this path to the ASGI server (deploy/Caddyfile)."""
    if not isinstance(request, ASGIRequest):
        logger.error("the desk stream %s reached the WSGI server; route it to ASGI", request.path)
        return HttpResponse(
            _("The live desk is served by the ASGI server; this server cannot hold it."),
            status=MISDIRECTED,
            content_type="text/plain; charset=utf-8",
        )
    user_id = (await request.auser()).pk
    assert user_id is not None  # role_required let only signed-in users in
    # The stream needs no database: give back the connection the session and role checks
    # opened in this request's thread, which would otherwise stay open as long as the stream.
    await sync_to_async(_close_connection)()
    # The browser's own reconnection sends the header; the desk's script, opening a new
    # stream after a refused one, passes the same id in the query string.
    last_event_id = request.headers.get("Last-Event-ID") or request.GET.get("last_event_id", "")
    response = StreamingHttpResponse(
        desk_event_stream(
            user_id=user_id,
            last_event_id=last_event_id if desk_event_id_valid(last_event_id) else "",
        ),
        content_type="text/event-stream",
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
