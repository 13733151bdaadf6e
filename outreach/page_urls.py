"""Page routes of outreach: the agent's queue, the supervisors' queue board and routed tickets,
the routing rules editor, the desk card's callback form, the call reasons' follow-ups, and the
public redirect of tracked links and the public satisfaction page."""

from django.urls import path

from outreach.views import board, call_reasons, desk, links, queue, routing, surveys

urlpatterns = [
    path("queue/", queue.my_queue_view, name="my-queue"),
    path("queue/<int:pk>/complete/", queue.task_complete_view, name="my-queue-complete"),
    path("queue/<int:pk>/reschedule/", queue.task_reschedule_view, name="my-queue-reschedule"),
    path("queues/", board.queue_board_view, name="queue-board"),
    path("queues/reassign/", board.queue_board_reassign_view, name="queue-board-reassign"),
    path("queues/tickets/", routing.routed_tickets_view, name="routed-tickets"),
    path("queues/tickets/<int:pk>/route/", routing.ticket_route_view, name="ticket-route"),
    path("queues/agents/", routing.agent_skills_view, name="agent-skills"),
    path("queues/agents/<int:pk>/skills/", routing.agent_skills_set_view, name="agent-skills-set"),
    path("routing-rules/", routing.routing_rule_list_view, name="routing-rules"),
    path("routing-rules/new/", routing.routing_rule_edit_view, name="routing-rule-create"),
    path("routing-rules/<int:pk>/", routing.routing_rule_edit_view, name="routing-rule-edit"),
    path(
        "routing-rules/<int:pk>/delete/",
        routing.routing_rule_delete_view,
        name="routing-rule-delete",
    ),
    path("desk/customers/<int:pk>/callback/", desk.desk_callback_view, name="desk-callback"),
    # Public: the tracked links of sent messages (outreach.services.links).
    path("l/<str:token>", links.tracked_link_view, name="tracked-link"),
    # Public: the satisfaction page of a survey message (outreach.services.surveys).
    path("s/<str:token>", surveys.survey_page_view, name="survey-page"),
    path("call-reasons/", call_reasons.call_reasons_view, name="call-reasons"),
    path("call-reasons/<int:pk>/", call_reasons.call_reason_edit_view, name="call-reason-edit"),
    path(
        "call-reasons/<int:pk>/delete/",
        call_reasons.call_reason_delete_view,
        name="call-reason-delete",
    ),
]
