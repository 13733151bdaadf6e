"""The playbook's rules: triggers, conditions, stop conditions, and steps with exact delays and
deadlines (see the package docstring)."""

from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext_noop

from care.choices import (
    EXTERNAL_STOP_PREFIX,
    AssigneeRule,
    DelayUnit,
    EventType,
    RuleCategory,
    StepChannel,
    StopCondition,
    TouchKind,
    WaitFor,
)

HOUR = 60
DAY = 24 * HOUR


@dataclass(frozen=True)
class PlaybookRule:
    key: str
    name: str
    description: str
    trigger_type: str
    # Plans of one proactive category compete per customer; service plans never do.
    category: str
    steps: list[dict[str, Any]]
    trigger_params: dict[str, Any] = field(default_factory=dict)
    conditions: Any = None
    priority: int = 0
    cooldown_days: int = 0
    holdout_share: float = 0.0
    stop_conditions: list[str] = field(default_factory=list)


def _step(
    channel: str,
    template: str,
    *,
    name: str = "",
    delay: int = 0,
    unit: str = DelayUnit.MINUTES,
    sla: int,
    business_hours: bool = False,
    touch: str = TouchKind.PROACTIVE,
    assignee: str = "",
    target: str = "",
    conditions: Any = None,
    only_if_no_response: bool = False,
    key: str = "",
    next_step: str = "",
    wait_for: str = "",
    wait_hours: int | None = None,
    branches: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "key": key,
        "next_step": next_step,
        "wait_for": wait_for,
        "wait_hours": wait_hours,
        "branches": branches or [],
        "name": name,
        "channel": channel,
        "template": template,
        "delay_value": delay,
        "delay_unit": unit,
        "sla_minutes": sla,
        "business_hours_only": business_hours,
        "touch_kind": touch,
        "assignee_rule": assignee,
        "assignee_target": target,
        "conditions": conditions,
        "only_if_no_response": only_if_no_response,
    }


# The repayment reminder's automated calls: a person on request (intent, or key 0 as the script
# says), a confirmation on a promise (intent, or key 1), the end when the reminder was heard;
# the first call is tried again, the second hands over.
_NOT_REACHED = ["no_answer", "busy", "failed", "voicemail"]
CALL_BRANCHES_FIRST: list[dict[str, Any]] = [
    {"if": {"intents": ["transfer_to_human"]}, "goto": "human-call"},
    {"if": {"intents": ["promise_to_pay"]}, "goto": "promise-sms"},
    {"if": {"keypresses": ["0"]}, "goto": "human-call"},
    {"if": {"keypresses": ["1"]}, "goto": "promise-sms"},
    {"if": {"results": _NOT_REACHED}, "goto": "auto-call-2"},
    {"if": {"results": ["answered"]}, "goto": "end"},
    {"if": "timeout", "goto": "auto-call-2"},
]
CALL_BRANCHES_SECOND: list[dict[str, Any]] = [
    {"if": {"intents": ["transfer_to_human"]}, "goto": "human-call"},
    {"if": {"intents": ["promise_to_pay"]}, "goto": "promise-sms"},
    {"if": {"keypresses": ["0"]}, "goto": "human-call"},
    {"if": {"keypresses": ["1"]}, "goto": "promise-sms"},
    {"if": {"results": _NOT_REACHED}, "goto": "human-call"},
    {"if": {"results": ["answered"]}, "goto": "end"},
    {"if": "timeout", "goto": "human-call"},
]

HIGH_VALUE = {"field": "value_tier", "cmp": "eq", "value": "high"}
PERSON = {"field": "kind", "cmp": "eq", "value": "person"}
BUSINESS = {"field": "kind", "cmp": "eq", "value": "business"}

RULES = [
    PlaybookRule(
        key="complaint-opened",
        name=gettext_noop("Complaint: apology and follow-up"),
        description=gettext_noop(
            "Apology SMS with the ticket number within 1 h; phone follow-up within 24 h."
        ),
        trigger_type=EventType.TICKET_OPENED,
        category=RuleCategory.SERVICE,
        trigger_params={"kind": "complaint"},
        priority=100,
        stop_conditions=[StopCondition.TICKET_RESOLVED],
        steps=[
            _step(
                StepChannel.SMS,
                "complaint-apology-sms",
                name=gettext_noop("Apology SMS"),
                sla=1 * HOUR,
                touch=TouchKind.SERVICE,
            ),
            _step(
                StepChannel.CALL,
                "complaint-followup-call",
                name=gettext_noop("Complaint follow-up call"),
                sla=24 * HOUR,
                touch=TouchKind.SERVICE,
                assignee=AssigneeRule.QUEUE,
                target="general",
            ),
        ],
    ),
    PlaybookRule(
        key="complaint-resolved",
        name=gettext_noop("Complaint resolved: satisfaction survey"),
        description=gettext_noop("Satisfaction survey SMS 2 days after the complaint is resolved."),
        trigger_type=EventType.TICKET_RESOLVED,
        category=RuleCategory.SERVICE,
        trigger_params={"kind": "complaint"},
        priority=90,
        stop_conditions=[StopCondition.OPTED_OUT],
        steps=[
            _step(
                StepChannel.SMS,
                "complaint-survey-sms",
                name=gettext_noop("Satisfaction survey SMS"),
                delay=2,
                unit=DelayUnit.DAYS,
                sla=24 * HOUR,
            ),
        ],
    ),
    PlaybookRule(
        key="ticket-resolved-csat",
        name=gettext_noop("Ticket resolved: satisfaction question (CSAT)"),
        description=gettext_noop(
            "An SMS asking for a score 1-5 (reply or link) an hour after any ticket is resolved; "
            "at most one survey per customer per survey interval (care settings)."
        ),
        trigger_type=EventType.TICKET_RESOLVED,
        category=RuleCategory.SERVICE,
        priority=85,
        stop_conditions=[StopCondition.OPTED_OUT],
        steps=[
            _step(
                StepChannel.SMS,
                "csat-sms",
                name=gettext_noop("Satisfaction question SMS"),
                delay=1,
                unit=DelayUnit.HOURS,
                sla=24 * HOUR,
            ),
        ],
    ),
    PlaybookRule(
        key="negative-call-sentiment",
        name=gettext_noop("Negative call: priority callback"),
        description=gettext_noop(
            "A call with sentiment below -0.6: a senior agent calls back within 2 h."
        ),
        trigger_type=EventType.INTERACTION_LOGGED,
        category=RuleCategory.SERVICE,
        trigger_params={"channel": "call", "sentiment_below": -0.6},
        priority=95,
        cooldown_days=1,
        steps=[
            _step(
                StepChannel.CALL,
                "sentiment-callback",
                name=gettext_noop("Priority callback"),
                sla=2 * HOUR,
                touch=TouchKind.SERVICE,
                assignee=AssigneeRule.QUEUE,
                target="senior",
            ),
        ],
    ),
    PlaybookRule(
        key="nps-detractor",
        name=gettext_noop("NPS detractor: supervisor call"),
        description=gettext_noop("NPS 0-6: a supervisor calls within 24 h."),
        trigger_type=EventType.SURVEY_SUBMITTED,
        category=RuleCategory.SERVICE,
        trigger_params={"kind": "nps", "max_score": 6},
        priority=80,
        steps=[
            _step(
                StepChannel.CALL,
                "nps-detractor-call",
                name=gettext_noop("Supervisor call"),
                sla=24 * HOUR,
                assignee=AssigneeRule.QUEUE,
                target="supervisors",
            ),
        ],
    ),
    PlaybookRule(
        key="churn-risk-high-value",
        name=gettext_noop("High-value churn risk: advisor call"),
        description=gettext_noop(
            "A high-value customer enters churn risk: the dedicated advisor calls within 48 h."
        ),
        trigger_type=EventType.SEGMENT_ENTERED,
        category=RuleCategory.RETENTION,
        trigger_params={"segment": "lifecycle-churn-risk"},
        conditions=HIGH_VALUE,
        priority=70,
        cooldown_days=30,
        stop_conditions=[StopCondition.CUSTOMER_ORDERED],
        steps=[
            _step(
                StepChannel.CALL,
                "churn-advisor-call",
                name=gettext_noop("Advisor call"),
                sla=48 * HOUR,
                assignee=AssigneeRule.ADVISOR,
                target="general",
            ),
        ],
    ),
    PlaybookRule(
        key="business-first-order",
        name=gettext_noop("Business customer: onboarding"),
        description=gettext_noop(
            "Welcome pack email; advisor call after 3 days; review call after 7 days."
        ),
        trigger_type=EventType.FIRST_ORDER,
        category=RuleCategory.RETENTION,
        conditions=BUSINESS,
        priority=65,
        steps=[
            _step(
                StepChannel.EMAIL,
                "business-welcome-email",
                name=gettext_noop("Welcome pack"),
                sla=24 * HOUR,
            ),
            _step(
                StepChannel.CALL,
                "business-advisor-call",
                name=gettext_noop("Advisor call"),
                delay=3,
                unit=DelayUnit.DAYS,
                business_hours=True,
                sla=24 * HOUR,
                assignee=AssigneeRule.ADVISOR,
                target="general",
            ),
            _step(
                StepChannel.CALL,
                "business-review-call",
                name=gettext_noop("Review call"),
                delay=7,
                unit=DelayUnit.DAYS,
                business_hours=True,
                sla=24 * HOUR,
                assignee=AssigneeRule.ADVISOR,
                target="general",
            ),
        ],
    ),
    PlaybookRule(
        key="first-order",
        name=gettext_noop("New customer: welcome and courtesy call"),
        description=gettext_noop("Welcome / how-to guide SMS within 24 h; courtesy call on day 3."),
        trigger_type=EventType.FIRST_ORDER,
        category=RuleCategory.RETENTION,
        conditions=PERSON,
        priority=60,
        stop_conditions=[StopCondition.OPTED_OUT],
        steps=[
            _step(
                StepChannel.SMS,
                "welcome-guide-sms",
                name=gettext_noop("Welcome guide"),
                sla=24 * HOUR,
            ),
            _step(
                StepChannel.CALL,
                "welcome-courtesy-call",
                name=gettext_noop("Courtesy call"),
                delay=3,
                unit=DelayUnit.DAYS,
                business_hours=True,
                sla=24 * HOUR,
                assignee=AssigneeRule.QUEUE,
                target="general",
            ),
        ],
    ),
    PlaybookRule(
        key="dormant-wake-up",
        name=gettext_noop("Dormant 60 days: wake-up offer"),
        description=gettext_noop(
            "Wake-up offer SMS; 7 days later a call for high-value customers who did "
            "not respond. 10% hold-out to measure the uplift."
        ),
        trigger_type=EventType.INACTIVITY,
        category=RuleCategory.RETENTION,
        trigger_params={"days": 60},
        priority=50,
        cooldown_days=30,
        holdout_share=0.1,
        stop_conditions=[StopCondition.CUSTOMER_ORDERED, StopCondition.OPTED_OUT],
        steps=[
            _step(
                StepChannel.SMS,
                "wakeup-offer-sms",
                name=gettext_noop("Wake-up offer"),
                sla=24 * HOUR,
            ),
            _step(
                StepChannel.CALL,
                "wakeup-call",
                name=gettext_noop("Wake-up call"),
                delay=7,
                unit=DelayUnit.DAYS,
                sla=24 * HOUR,
                assignee=AssigneeRule.QUEUE,
                target="general",
                conditions=HIGH_VALUE,
                only_if_no_response=True,
            ),
        ],
    ),
    PlaybookRule(
        key="nps-promoter",
        name=gettext_noop("NPS promoter: referral invitation"),
        description=gettext_noop("NPS 9-10: invite the customer to refer a friend."),
        trigger_type=EventType.SURVEY_SUBMITTED,
        category=RuleCategory.MARKETING,
        trigger_params={"kind": "nps", "min_score": 9},
        priority=40,
        cooldown_days=90,
        stop_conditions=[StopCondition.OPTED_OUT],
        steps=[
            _step(
                StepChannel.SMS,
                "nps-referral-sms",
                name=gettext_noop("Referral invitation"),
                sla=24 * HOUR,
            ),
        ],
    ),
    PlaybookRule(
        key="birthday",
        name=gettext_noop("Birthday greeting"),
        description=gettext_noop(
            "Greeting SMS at 10:00 on the birthday, in the customer's time zone."
        ),
        trigger_type=EventType.BIRTHDAY,
        category=RuleCategory.MARKETING,
        priority=30,
        cooldown_days=300,
        stop_conditions=[StopCondition.OPTED_OUT],
        steps=[
            _step(
                StepChannel.SMS,
                "birthday-sms",
                name=gettext_noop("Birthday greeting"),
                delay=10,
                unit=DelayUnit.HOURS,
                sla=8 * HOUR,
            ),
        ],
    ),
    PlaybookRule(
        key="business-monthly-report",
        name=gettext_noop("Business customer: monthly value report"),
        description=gettext_noop("On the first of the month, a value report task for the advisor."),
        trigger_type=EventType.MONTHLY,
        category=RuleCategory.MARKETING,
        conditions=BUSINESS,
        priority=20,
        steps=[
            _step(
                StepChannel.CALL,
                "business-value-report",
                name=gettext_noop("Monthly value report"),
                business_hours=True,
                sla=3 * DAY,
                assignee=AssigneeRule.ADVISOR,
                target="general",
            ),
        ],
    ),
    PlaybookRule(
        key="repayment-reminder",
        name=gettext_noop("Repayment reminder: automated call, then a person"),
        description=gettext_noop(
            "An automated call; a second one if it is not answered; a person calls within 2 h "
            "when the customer asks for one or does not answer twice; a confirmation SMS when "
            "they promise to pay. Stops when the payment arrives."
        ),
        trigger_type=EventType.EXTERNAL,
        trigger_params={"name": "repayment_due"},
        category=RuleCategory.COLLECTIONS,
        priority=90,
        cooldown_days=1,
        stop_conditions=[StopCondition.OPTED_OUT, f"{EXTERNAL_STOP_PREFIX}payment_received"],
        steps=[
            _step(
                StepChannel.AUTO_CALL,
                "repayment-reminder-call",
                key="auto-call-1",
                name=gettext_noop("Automated reminder call"),
                sla=HOUR,
                touch=TouchKind.SERVICE,
                wait_for=WaitFor.CALL_RESULT,
                wait_hours=24,
                branches=CALL_BRANCHES_FIRST,
            ),
            _step(
                StepChannel.AUTO_CALL,
                "repayment-reminder-call",
                key="auto-call-2",
                name=gettext_noop("Second automated reminder call"),
                delay=3,
                unit=DelayUnit.HOURS,
                sla=HOUR,
                touch=TouchKind.SERVICE,
                wait_for=WaitFor.CALL_RESULT,
                wait_hours=24,
                branches=CALL_BRANCHES_SECOND,
            ),
            _step(
                StepChannel.CALL,
                "repayment-human-call",
                key="human-call",
                name=gettext_noop("Repayment call by a person"),
                sla=2 * HOUR,
                touch=TouchKind.SERVICE,
                assignee=AssigneeRule.QUEUE,
                target="general",
                next_step="end",
            ),
            _step(
                StepChannel.SMS,
                "repayment-promise-sms",
                key="promise-sms",
                name=gettext_noop("Promise to pay: confirmation SMS"),
                sla=HOUR,
                touch=TouchKind.SERVICE,
                next_step="end",
            ),
        ],
    ),
]
