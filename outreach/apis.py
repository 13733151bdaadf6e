"""REST API of outreach: tasks and queues for people, webhooks for the SMS gateway and the voice
platform.

    endpoint                                       agent          supervisor/admin
    GET  /api/outreach/tasks/                      own + queues'  all
    POST /api/outreach/tasks/                      own callbacks  any task
    GET  /api/outreach/tasks/{id}/                 own + queues'  all
    POST /api/outreach/tasks/{id}/claim/           own + queue's unassigned   any
    POST /api/outreach/tasks/{id}/complete/        (same)         any
    POST /api/outreach/tasks/{id}/reschedule/      (same)         any
    POST /api/outreach/tasks/reassign/             -              x
    GET  /api/outreach/my-queue/                   x              x
    GET  /api/outreach/queues/                     -              x
    GET  /api/outreach/routing-rules/[{id}/]       -              x
    POST/PUT/PATCH/DELETE routing-rules            -              admins only
    GET  /api/outreach/agents/                     -              x
    PATCH /api/outreach/agents/{id}/               -              x (admins' skills: admins)
    GET/POST /api/outreach/tickets/{id}/route/     -              x
    POST /api/outreach/receipts/                   signed by the SMS gateway (no user)
    POST /api/outreach/inbound-sms/                signed by the SMS gateway (no user)
    POST /api/outreach/call-results/               signed by the voice platform (no user)
    GET/POST /api/outreach/wechat/callback/        signed by WeChat (WECHAT_CALLBACK_TOKEN)
    GET/POST /api/outreach/wecom/callback/         signed and encrypted by WeCom

The webhooks are signed with SMS_WEBHOOK_SECRETS, the call results with VOICE_WEBHOOK_SECRETS
(callcenter.signatures), and rate-limited per client address (callcenter.throttling).

A task an agent may not see is a 404; one they see (a colleague's task in their queue) but may
not work is a 403.
"""

import abc
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from callcenter.choices import Integration
from callcenter.errors import ApplicationError
from callcenter.http import AuthenticatedRequest
from callcenter.models import AgentProfile, Ticket
from callcenter.roles import IsAgent, IsSupervisor, SupervisorsReadAdminsWrite
from callcenter.signatures import signature_parameters, signature_release, signed_by
from callcenter.throttling import ThrottledBeforePermissions
from outreach.access import task_check_workable
from outreach.filters import TaskFilter
from outreach.models import OutreachTask, RoutingRule, TicketRoute
from outreach.selectors import (
    QUEUE_ORDER_DEADLINE,
    QUEUE_ORDERS,
    agent_overview,
    agent_queue,
    queue_overview,
    task_list,
)
from outreach.serializers import (
    AgentRoutingSerializer,
    CallResultInputSerializer,
    CallResultResultSerializer,
    CompleteInputSerializer,
    InboundSmsInputSerializer,
    InboundSmsResultSerializer,
    ManualTaskInputSerializer,
    OverviewSerializer,
    ReassignInputSerializer,
    ReassignResultSerializer,
    ReceiptInputSerializer,
    ReceiptResultSerializer,
    RescheduleInputSerializer,
    RoutingRuleSerializer,
    TaskDetailSerializer,
    TaskSerializer,
    TicketRouteInputSerializer,
    TicketRouteSerializer,
)
from outreach.services.call_results import CallReport, call_result_record
from outreach.services.routing import agent_routing_set, agents_with_load, ticket_route_override
from outreach.services.routing_rule_edit import (
    RULE_INPUT_FIELDS,
    RuleInput,
    routing_rule_delete,
    routing_rule_save,
)
from outreach.services.tasks import (
    outreach_task_claim,
    outreach_task_complete,
    outreach_task_create_manual,
    outreach_task_reschedule,
    outreach_tasks_reassign,
)
from outreach.services.webhooks import (
    delivery_receipt_record,
    inbound_sms_receive,
)
from outreach.services.wecom_callbacks import wecom_push_receive
from outreach.services.weixin_callbacks import (
    CallbackKeys,
    PushResult,
    encrypted_push_open,
    encrypted_text_open,
    wechat_push_receive,
    wechat_secure_push_receive,
    wechat_signature_verify,
)
from outreach.services.weixin_crypto import CallbackRejected, MessageMalformed

User = get_user_model()


def _task_response(
    request: AuthenticatedRequest, task_id: int, code: int = status.HTTP_200_OK
) -> Response:
    task = task_list(user=request.user).get(pk=task_id)
    context = {"now": timezone.now(), "request": request}
    return Response(TaskSerializer(task, context=context).data, status=code)


class TaskListApi(generics.ListAPIView):
    """Tasks the caller may see, filtered; POST schedules a manual task."""

    request: AuthenticatedRequest
    permission_classes = [IsAgent]
    serializer_class = TaskSerializer
    filterset_class = TaskFilter

    def get_queryset(self) -> QuerySet[OutreachTask]:
        return task_list(user=self.request.user)

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "now": timezone.now()}

    @extend_schema(
        summary="Schedule a manual task (a callback, a call, a message)",
        request=ManualTaskInputSerializer,
        responses={201: TaskSerializer},
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        serializer = ManualTaskInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        task = outreach_task_create_manual(created_by=request.user, **serializer.validated_data)
        return _task_response(request, task.pk, status.HTTP_201_CREATED)


class TaskDetailApi(APIView):
    permission_classes = [IsAgent]

    @extend_schema(
        summary="Get a task, with the tracked links of its message",
        responses=TaskDetailSerializer,
    )
    def get(self, request: AuthenticatedRequest, pk: int) -> Response:
        task = get_object_or_404(
            task_list(user=request.user).prefetch_related("tracked_links"), pk=pk
        )
        context = {"now": timezone.now(), "request": request}
        return Response(TaskDetailSerializer(task, context=context).data)


def _workable_task(request: AuthenticatedRequest, pk: int) -> OutreachTask:
    """The task if the caller may work it: 404 when they may not even see it, 403 when they
    see it but it is not theirs to work (checked before the input, and again by the service
    under the row lock)."""
    task = get_object_or_404(task_list(user=request.user), pk=pk)
    task_check_workable(task, request.user)
    return task


class TaskClaimApi(APIView):
    permission_classes = [IsAgent]

    @extend_schema(summary="Take a task", request=None, responses=TaskSerializer)
    def post(self, request: AuthenticatedRequest, pk: int) -> Response:
        task = outreach_task_claim(task=_workable_task(request, pk), user=request.user)
        return _task_response(request, task.pk)


class TaskCompleteApi(APIView):
    permission_classes = [IsAgent]

    @extend_schema(
        summary="Record the call's outcome (logs the call)",
        request=CompleteInputSerializer,
        responses=TaskSerializer,
    )
    def post(self, request: AuthenticatedRequest, pk: int) -> Response:
        task = _workable_task(request, pk)
        serializer = CompleteInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        task = outreach_task_complete(task=task, user=request.user, **serializer.validated_data)
        return _task_response(request, task.pk)


class TaskRescheduleApi(APIView):
    permission_classes = [IsAgent]

    @extend_schema(
        summary="Close this call and schedule a callback (returns the new task)",
        request=RescheduleInputSerializer,
        responses={201: TaskSerializer},
    )
    def post(self, request: AuthenticatedRequest, pk: int) -> Response:
        task = _workable_task(request, pk)
        serializer = RescheduleInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        callback = outreach_task_reschedule(
            task=task, user=request.user, **serializer.validated_data
        )
        return _task_response(request, callback.pk, status.HTTP_201_CREATED)


class TaskReassignApi(APIView):
    permission_classes = [IsSupervisor]

    @extend_schema(
        summary="Move open call tasks to an agent or a queue",
        request=ReassignInputSerializer,
        responses=ReassignResultSerializer,
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        serializer = ReassignInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        moved = outreach_tasks_reassign(
            task_ids=data["task_ids"],
            by=request.user,
            assignee=data.get("assignee"),
            queue=data.get("queue"),
            reason=data["reason"],
        )
        left = sorted(set(data["task_ids"]) - set(moved))
        return Response({"reassigned": moved, "not_reassigned": left})


class MyQueueApi(APIView):
    """The caller's calls to make now, overdue first, then by deadline."""

    permission_classes = [IsAgent]
    limit = 200

    @extend_schema(
        summary="My call queue",
        parameters=[
            OpenApiParameter(
                "order",
                str,
                enum=list(QUEUE_ORDERS),
                description="deadline (default): overdue first, then by deadline; value: by "
                "the expected value of the call (predicted value x churn probability x "
                "reachability), highest first.",
            )
        ],
        responses=TaskSerializer(many=True),
    )
    def get(self, request: AuthenticatedRequest) -> Response:
        now = timezone.now()
        order = request.query_params.get("order", QUEUE_ORDER_DEADLINE)
        if order not in QUEUE_ORDERS:
            raise ValidationError(
                {"order": [_("Unknown order: %(order)s") % {"order": order[:50]}]}
            )
        tasks = agent_queue(user=request.user, now=now, order=order)[: self.limit]
        context = {"now": now, "request": request}
        return Response(TaskSerializer(tasks, many=True, context=context).data)


class QueueOverviewApi(APIView):
    """All queues and agents with open, overdue and breached counts (supervisors)."""

    permission_classes = [IsSupervisor]

    @extend_schema(summary="Queues and agents overview", responses=OverviewSerializer)
    def get(self, request: AuthenticatedRequest) -> Response:
        now = timezone.now()
        return Response({"queues": queue_overview(now=now), "agents": agent_overview(now=now)})


SIGNATURE_HEADERS = signature_parameters(Integration.SMS, required=True)
WECHAT_SIGNATURE_PARAMETERS = [
    OpenApiParameter(name, str, OpenApiParameter.QUERY, required=True, description=description)
    for name, description in (
        ("signature", "sha1 of the sorted, concatenated [token, timestamp, nonce]"),
        ("timestamp", "Unix seconds"),
        ("nonce", "a random value"),
    )
]
WECHAT_ENCRYPTED_PARAMETERS = [
    OpenApiParameter(name, str, OpenApiParameter.QUERY, required=False, description=description)
    for name, description in (
        ("encrypt_type", '"aes" in the encrypted ("safe") mode; the body is then an <Encrypt>'),
        ("msg_signature", "encrypted mode: sha1 of the sorted [token, timestamp, nonce, Encrypt]"),
    )
]
WECOM_SIGNATURE_PARAMETERS = [
    OpenApiParameter(name, str, OpenApiParameter.QUERY, required=True, description=description)
    for name, description in (
        ("msg_signature", "sha1 of the sorted, concatenated [token, timestamp, nonce, ciphertext]"),
        ("timestamp", "Unix seconds"),
        ("nonce", "a random value"),
    )
]


def _setting(name: str) -> str:
    return str(getattr(settings, name, "") or "")


def _wechat_keys() -> CallbackKeys:
    return CallbackKeys(
        token=_setting("WECHAT_CALLBACK_TOKEN"),
        encoding_aes_key=_setting("WECHAT_CALLBACK_AES_KEY"),
        receive_id=_setting("WECHAT_APP_ID"),
        key_setting="WECHAT_CALLBACK_AES_KEY",
        receive_id_setting="WECHAT_APP_ID",
    )


def _wecom_keys() -> CallbackKeys:
    return CallbackKeys(
        token=_setting("WECOM_CALLBACK_TOKEN"),
        encoding_aes_key=_setting("WECOM_CALLBACK_AES_KEY"),
        receive_id=_setting("WECOM_CORP_ID"),
        key_setting="WECOM_CALLBACK_AES_KEY",
        receive_id_setting="WECOM_CORP_ID",
    )


def _refused(exc: CallbackRejected) -> JsonResponse:
    return JsonResponse({"detail": f"signature refused: {exc}"}, status=403)


def _malformed(exc: MessageMalformed) -> JsonResponse:
    return JsonResponse({"detail": str(exc), "field": exc.field}, status=400)


class _WebhookApi(ThrottledBeforePermissions, APIView, abc.ABC):
    """A signed webhook (the SMS gateway's unless a subclass names another integration):
    subclasses handle the verified request."""

    authentication_classes = []
    permission_classes = [signed_by(Integration.SMS)]

    @abc.abstractmethod
    def handle(self, request: Request) -> Response:
        """Process the verified request."""

    def post(self, request: Request) -> Response:
        try:
            return self.handle(request)
        except Exception:
            # Let the gateway retry this very request once our failure is fixed.
            signature_release(request)
            raise


class DeliveryReceiptApi(_WebhookApi):
    @extend_schema(
        summary="Delivery receipt from the SMS gateway",
        parameters=SIGNATURE_HEADERS,
        request=ReceiptInputSerializer,
        responses=ReceiptResultSerializer,
    )
    def post(self, request: Request) -> Response:
        return super().post(request)

    def handle(self, request: Request) -> Response:
        serializer = ReceiptInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        updated = delivery_receipt_record(**serializer.validated_data)
        return Response({"updated": updated})


class InboundSmsApi(_WebhookApi):
    @extend_schema(
        summary="Inbound SMS from the gateway (opt-out words, replies)",
        parameters=SIGNATURE_HEADERS,
        request=InboundSmsInputSerializer,
        responses=InboundSmsResultSerializer,
    )
    def post(self, request: Request) -> Response:
        return super().post(request)

    def handle(self, request: Request) -> Response:
        serializer = InboundSmsInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        result = inbound_sms_receive(
            from_number=data["from"], body=data["body"], provider_message_id=data["id"]
        )
        return Response(
            {
                "id": result.message.pk,
                "action": result.message.action,
                "duplicate": result.duplicate,
                "confirmation_task": result.confirmation.pk if result.confirmation else None,
            }
        )


class CallResultApi(_WebhookApi):
    permission_classes = [signed_by(Integration.VOICE)]

    @extend_schema(
        summary="Result of an automated call from the voice platform",
        parameters=signature_parameters(Integration.VOICE, required=True),
        request=CallResultInputSerializer,
        responses=CallResultResultSerializer,
    )
    def post(self, request: Request) -> Response:
        return super().post(request)

    def handle(self, request: Request) -> Response:
        serializer = CallResultInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        outcome = call_result_record(report=CallReport(**serializer.validated_data))
        task = outcome.task
        return Response(
            {
                "task": task.pk,
                "status": task.status,
                "result": task.call_result,
                "intent": task.call_intent,
                "duplicate": outcome.duplicate,
            }
        )


class WeChatCallbackApi(ThrottledBeforePermissions, APIView):
    """The WeChat Official Account's server push (outreach.services.weixin_callbacks): GET is
    WeChat's URL check (answered with `echostr`), POST a push in XML. Both carry `signature`,
    `timestamp` and `nonce` in the query string; a bad signature is refused with 403, a
    malformed body with 400, and neither changes anything."""

    authentication_classes = []
    permission_classes = [AllowAny]
    parser_classes = []

    def _verify(self, request: Request) -> HttpResponse | None:
        try:
            wechat_signature_verify(
                token=_setting("WECHAT_CALLBACK_TOKEN"),
                timestamp=request.query_params.get("timestamp", ""),
                nonce=request.query_params.get("nonce", ""),
                signature=request.query_params.get("signature", ""),
            )
        except CallbackRejected as exc:
            return JsonResponse({"detail": f"signature refused: {exc}"}, status=403)
        return None

    @extend_schema(
        summary="WeChat URL check: echoes `echostr` when the signature holds",
        parameters=WECHAT_SIGNATURE_PARAMETERS,
        responses={(200, "text/plain"): OpenApiTypes.STR},
    )
    def get(self, request: Request) -> HttpResponse:
        return self._verify(request) or HttpResponse(
            request.query_params.get("echostr", ""), content_type="text/plain"
        )

    @extend_schema(
        summary="WeChat push: template receipts, follower messages, unfollows (XML)",
        parameters=WECHAT_SIGNATURE_PARAMETERS + WECHAT_ENCRYPTED_PARAMETERS,
        request={"text/xml": OpenApiTypes.STR},
        responses={(200, "text/xml"): OpenApiTypes.STR},
    )
    def post(self, request: Request) -> HttpResponse:
        refused = self._verify(request)
        if refused is not None:
            return refused
        query = request.query_params
        try:
            if query.get("encrypt_type", "raw") == "aes":
                result = wechat_secure_push_receive(
                    keys=_wechat_keys(),
                    body=request.body,
                    timestamp=query.get("timestamp", ""),
                    nonce=query.get("nonce", ""),
                    signature=query.get("msg_signature", ""),
                )
            else:
                result = wechat_push_receive(body=request.body)
        except CallbackRejected as exc:
            return _refused(exc)
        except MessageMalformed as exc:
            return _malformed(exc)
        except ApplicationError as exc:
            return JsonResponse({"detail": exc.message, **exc.extra}, status=400)
        content_type = "text/plain" if result.reply == b"success" else "text/xml"
        return HttpResponse(result.reply, content_type=f"{content_type}; charset=utf-8")


class WeComCallbackApi(ThrottledBeforePermissions, APIView):
    """WeCom's callback (outreach.services.wecom_callbacks): GET is WeCom's URL check (the
    decrypted `echostr` is answered), POST an encrypted envelope of an event or message. Both
    carry `msg_signature`, `timestamp` and `nonce` in the query string; a bad signature, a stale
    timestamp or a message for another corp is refused with 403, a body that cannot be read or
    decrypted with 400, and neither changes anything."""

    authentication_classes = []
    permission_classes = [AllowAny]
    parser_classes = []

    @extend_schema(
        summary="WeCom URL check: answers the decrypted `echostr` when the signature holds",
        parameters=WECOM_SIGNATURE_PARAMETERS,
        responses={(200, "text/plain"): OpenApiTypes.STR},
    )
    def get(self, request: Request) -> HttpResponse:
        query = request.query_params
        try:
            plain = encrypted_text_open(
                keys=_wecom_keys(),
                encrypt=query.get("echostr", ""),
                timestamp=query.get("timestamp", ""),
                nonce=query.get("nonce", ""),
                signature=query.get("msg_signature", ""),
            )
        except CallbackRejected as exc:
            return _refused(exc)
        except MessageMalformed as exc:
            return _malformed(MessageMalformed(str(exc), field="echostr"))
        return HttpResponse(plain, content_type="text/plain; charset=utf-8")

    @extend_schema(
        summary="WeCom callback: external-contact changes and messages (encrypted XML)",
        parameters=WECOM_SIGNATURE_PARAMETERS,
        request={"text/xml": OpenApiTypes.STR},
        responses={(200, "text/plain"): OpenApiTypes.STR},
    )
    def post(self, request: Request) -> HttpResponse:
        query = request.query_params
        result: PushResult
        try:
            plain = encrypted_push_open(
                keys=_wecom_keys(),
                body=request.body,
                timestamp=query.get("timestamp", ""),
                nonce=query.get("nonce", ""),
                signature=query.get("msg_signature", ""),
            )
            result = wecom_push_receive(body=plain, sender=_setting("WECOM_SENDER"))
        except CallbackRejected as exc:
            return _refused(exc)
        except MessageMalformed as exc:
            return _malformed(exc)
        except ApplicationError as exc:
            return JsonResponse({"detail": exc.message, **exc.extra}, status=400)
        return HttpResponse(result.reply, content_type="text/plain; charset=utf-8")


class _AdminWrites(APIView):
    """Supervisors and admins read; only admins write."""

    permission_classes = [SupervisorsReadAdminsWrite]


def _rule_input(data: dict[str, Any], rule: RoutingRule | None = None) -> RuleInput:
    """The serializer's data over the rule's current values (a PATCH sends only some)."""
    current: dict[str, Any] = {}
    if rule is not None:
        current = {name: getattr(rule, name) for name in RULE_INPUT_FIELDS}
    return RuleInput(**{**current, **data})


class RoutingRuleListApi(_AdminWrites):
    """Routing rules in the order they are tried; admins add rules."""

    @extend_schema(summary="Routing rules", responses=RoutingRuleSerializer(many=True))
    def get(self, request: AuthenticatedRequest) -> Response:
        rules = RoutingRule.objects.select_related("queue").order_by("position", "id")
        return Response(RoutingRuleSerializer(rules, many=True).data)

    @extend_schema(
        summary="Add a routing rule",
        request=RoutingRuleSerializer,
        responses={201: RoutingRuleSerializer},
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        serializer = RoutingRuleSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        rule = routing_rule_save(data=_rule_input(serializer.validated_data), by=request.user)
        return Response(RoutingRuleSerializer(rule).data, status=status.HTTP_201_CREATED)


class RoutingRuleDetailApi(_AdminWrites):
    """One routing rule: read (supervisors, admins), change or delete (admins)."""

    @extend_schema(summary="A routing rule", responses=RoutingRuleSerializer)
    def get(self, request: AuthenticatedRequest, pk: int) -> Response:
        rule = get_object_or_404(RoutingRule.objects.select_related("queue"), pk=pk)
        return Response(RoutingRuleSerializer(rule).data)

    def _change(self, request: AuthenticatedRequest, pk: int, *, partial: bool) -> Response:
        rule = get_object_or_404(RoutingRule.objects.select_for_update(), pk=pk)
        serializer = RoutingRuleSerializer(rule, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        rule = routing_rule_save(
            data=_rule_input(serializer.validated_data, rule), by=request.user, rule=rule
        )
        return Response(RoutingRuleSerializer(rule).data)

    @extend_schema(
        summary="Replace a routing rule",
        request=RoutingRuleSerializer,
        responses=RoutingRuleSerializer,
    )
    def put(self, request: AuthenticatedRequest, pk: int) -> Response:
        return self._change(request, pk, partial=False)

    @extend_schema(
        summary="Change a routing rule",
        request=RoutingRuleSerializer,
        responses=RoutingRuleSerializer,
    )
    def patch(self, request: AuthenticatedRequest, pk: int) -> Response:
        return self._change(request, pk, partial=True)

    @extend_schema(summary="Delete a routing rule", responses={204: None})
    def delete(self, request: AuthenticatedRequest, pk: int) -> Response:
        rule = get_object_or_404(RoutingRule, pk=pk)
        routing_rule_delete(rule=rule, by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AgentRoutingListApi(APIView):
    """Staff with their skills, ticket capacity and open tickets (supervisors, admins)."""

    permission_classes = [IsSupervisor]

    @extend_schema(summary="Agents' skills and loads", responses=AgentRoutingSerializer(many=True))
    def get(self, request: AuthenticatedRequest) -> Response:
        return Response(AgentRoutingSerializer(agents_with_load(), many=True).data)


class AgentRoutingDetailApi(APIView):
    """Set an agent's skills and ticket capacity: supervisors for agents and supervisors,
    admins for anyone (checked by the service)."""

    permission_classes = [IsSupervisor]

    @extend_schema(
        summary="Set an agent's skills and ticket capacity",
        request=AgentRoutingSerializer,
        responses=AgentRoutingSerializer,
    )
    def patch(self, request: AuthenticatedRequest, pk: int) -> Response:
        user = get_object_or_404(User.objects.filter(is_active=True), pk=pk)
        serializer = AgentRoutingSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        profile = AgentProfile.objects.filter(user=user).first()
        agent_routing_set(
            user=user,
            skills=data.get("agent_profile__skills", profile.skills if profile else []),
            ticket_capacity=data.get(
                "agent_profile__ticket_capacity", profile.ticket_capacity if profile else None
            ),
            changed_by=request.user,
        )
        row = next(row for row in agents_with_load(user_ids=[user.pk]))
        return Response(AgentRoutingSerializer(row).data)


class TicketRouteApi(APIView):
    """A ticket's route (queue, rule, skills, assignee); supervisors move it to another queue
    and/or agent (audited)."""

    permission_classes = [IsSupervisor]

    @extend_schema(summary="A ticket's route", responses=TicketRouteSerializer)
    def get(self, request: AuthenticatedRequest, pk: int) -> Response:
        route = get_object_or_404(
            TicketRoute.objects.select_related("queue", "ticket"), ticket_id=pk
        )
        return Response(TicketRouteSerializer(route).data)

    @extend_schema(
        summary="Move a ticket to a queue and/or an agent",
        request=TicketRouteInputSerializer,
        responses=TicketRouteSerializer,
    )
    def post(self, request: AuthenticatedRequest, pk: int) -> Response:
        ticket = get_object_or_404(Ticket, pk=pk)
        serializer = TicketRouteInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        route = ticket_route_override(
            ticket=ticket,
            by=request.user,
            queue=data.get("queue"),
            assignee=data.get("assignee"),
            reason=data["reason"],
        )
        route = TicketRoute.objects.select_related("queue", "ticket").get(pk=route.pk)
        return Response(TicketRouteSerializer(route).data)
