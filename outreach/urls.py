"""API routes of outreach (mounted under /api/)."""

from django.urls import path

from outreach import apis, apis_call_reasons

urlpatterns = [
    path("outreach/tasks/", apis.TaskListApi.as_view(), name="api-outreach-tasks"),
    path(
        "outreach/tasks/reassign/",
        apis.TaskReassignApi.as_view(),
        name="api-outreach-tasks-reassign",
    ),
    path("outreach/tasks/<int:pk>/", apis.TaskDetailApi.as_view(), name="api-outreach-task"),
    path(
        "outreach/tasks/<int:pk>/claim/",
        apis.TaskClaimApi.as_view(),
        name="api-outreach-task-claim",
    ),
    path(
        "outreach/tasks/<int:pk>/complete/",
        apis.TaskCompleteApi.as_view(),
        name="api-outreach-task-complete",
    ),
    path(
        "outreach/tasks/<int:pk>/reschedule/",
        apis.TaskRescheduleApi.as_view(),
        name="api-outreach-task-reschedule",
    ),
    path("outreach/my-queue/", apis.MyQueueApi.as_view(), name="api-outreach-my-queue"),
    path("outreach/queues/", apis.QueueOverviewApi.as_view(), name="api-outreach-queues"),
    path(
        "outreach/routing-rules/",
        apis.RoutingRuleListApi.as_view(),
        name="api-outreach-routing-rules",
    ),
    path(
        "outreach/routing-rules/<int:pk>/",
        apis.RoutingRuleDetailApi.as_view(),
        name="api-outreach-routing-rule",
    ),
    path("outreach/agents/", apis.AgentRoutingListApi.as_view(), name="api-outreach-agents"),
    path(
        "outreach/agents/<int:pk>/",
        apis.AgentRoutingDetailApi.as_view(),
        name="api-outreach-agent",
    ),
    path(
        "outreach/tickets/<int:pk>/route/",
        apis.TicketRouteApi.as_view(),
        name="api-outreach-ticket-route",
    ),
    path("outreach/receipts/", apis.DeliveryReceiptApi.as_view(), name="api-outreach-receipts"),
    path("outreach/inbound-sms/", apis.InboundSmsApi.as_view(), name="api-outreach-inbound-sms"),
    path("outreach/call-results/", apis.CallResultApi.as_view(), name="api-outreach-call-results"),
    path(
        "outreach/wechat/callback/",
        apis.WeChatCallbackApi.as_view(),
        name="api-outreach-wechat-callback",
    ),
    path(
        "outreach/wecom/callback/",
        apis.WeComCallbackApi.as_view(),
        name="api-outreach-wecom-callback",
    ),
    path(
        "outreach/call-reasons/",
        apis_call_reasons.CallReasonListApi.as_view(),
        name="api-call-reasons",
    ),
    path(
        "outreach/call-reasons/<int:pk>/",
        apis_call_reasons.CallReasonDetailApi.as_view(),
        name="api-call-reason",
    ),
]
