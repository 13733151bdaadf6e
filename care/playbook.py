"""The default care playbook: the rules call-center practice recommends, with their templates.

`playbook_install()` (command `install_playbook`) creates what is missing and never overwrites
an admin's edits: templates are found by slug, rules by `playbook_key`. Rules are installed
switched off; the keys listed in the setting CARE_PLAYBOOK_ACTIVE are switched on.

Delays and deadlines (due = trigger + delay, deadline = due + SLA):
- complaint-opened: apology SMS with the ticket number (due at once, within 1 h) and a phone
  follow-up (due at once, within 24 h), both service touches; stop when the ticket is resolved.
- complaint-resolved: satisfaction survey SMS 2 days after resolution (within 24 h).
- first-order (people): welcome / how-to guide SMS (within 24 h); courtesy call on day 3 in
  business hours (within 24 h).
- business-first-order: welcome pack email (within 24 h); advisor call after 3 days and review
  call after 7 days, in business hours (within 24 h each).
- dormant-wake-up (60 days without an order): personalised wake-up offer SMS (within 24 h);
  7 days later a call task (within 24 h) for high-value customers only, and only if they did
  not respond; 10% hold-out.
- nps-detractor (0-6): supervisor call within 24 h (queue "supervisors").
- nps-promoter (9-10): referral invitation SMS (within 24 h).
- negative-call-sentiment (below -0.6 on a call): priority callback within 2 h by a senior
  agent (queue "senior").
- birthday: greeting SMS at 10:00 on the day in the customer's time zone (within 8 h).
- churn-risk-high-value (entering lifecycle-churn-risk, value tier high): dedicated advisor call
  within 48 h.
- business-monthly-report (first of the month, business customers): value report task for the
  advisor from the first business hour, within 3 days.
"""

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from care.choices import (
    AssigneeRule,
    DelayUnit,
    EventType,
    StepChannel,
    StopCondition,
    TemplateChannel,
    TouchKind,
)
from care.models import CareRule, MessageTemplate
from care.services.rules import care_rule_activate, care_rule_create
from care.services.templates import template_create
from outreach.models import Queue

QUEUES = {
    "general": "General",
    "senior": "Senior agents",
    "supervisors": "Supervisors",
}

HOUR = 60
DAY = 24 * HOUR

ZH = "zh-hans"
EN = "en"


@dataclass(frozen=True)
class PlaybookTemplate:
    slug: str
    name: str
    channel: str
    texts: dict[str, tuple[str, str]]  # language -> (subject, body)


@dataclass(frozen=True)
class PlaybookRule:
    key: str
    name: str
    description: str
    trigger_type: str
    steps: list[dict[str, Any]]
    trigger_params: dict[str, Any] = field(default_factory=dict)
    conditions: Any = None
    priority: int = 0
    cooldown_days: int = 0
    holdout_share: float = 0.0
    stop_conditions: list[str] = field(default_factory=list)


TEMPLATES = [
    PlaybookTemplate(
        "complaint-apology-sms",
        "Complaint: apology SMS",
        TemplateChannel.SMS,
        {
            ZH: (
                "",
                "{{ customer.name }}您好，您的投诉（工单号 {{ ticket.number }}）我们已收到，"
                "非常抱歉给您带来不便。我们将在24小时内致电与您跟进。",
            ),
            EN: (
                "",
                "Dear {{ customer.name }}, we have received your complaint (ticket "
                "{{ ticket.number }}) and are sorry for the trouble. We will call you within "
                "24 hours.",
            ),
        },
    ),
    PlaybookTemplate(
        "complaint-followup-call",
        "Complaint: follow-up call script",
        TemplateChannel.CALL_SCRIPT,
        {
            ZH: (
                "",
                "致电 {{ customer.name }} 跟进投诉工单 {{ ticket.number }}"
                "（{{ ticket.subject }}）：再次致歉，确认问题细节与客户期望的解决方式，"
                "说明处理进度和时间。",
            ),
            EN: (
                "",
                "Call {{ customer.name }} about complaint {{ ticket.number }} "
                "({{ ticket.subject }}): apologise again, confirm the details and what they "
                "expect, explain the next steps and when they will happen.",
            ),
        },
    ),
    PlaybookTemplate(
        "complaint-survey-sms",
        "Complaint: satisfaction survey SMS",
        TemplateChannel.SMS,
        {
            ZH: (
                "",
                "{{ customer.name }}您好，您的工单 {{ ticket.number }} 已处理完毕。请回复1-5分"
                "评价本次服务（5分为非常满意），感谢您的反馈！{{ opt_out_hint }}",
            ),
            EN: (
                "",
                "Hello {{ customer.name }}, your ticket {{ ticket.number }} has been resolved. "
                "How satisfied are you? Reply with a score from 1 to 5 (5 = very satisfied). "
                "{{ opt_out_hint }}",
            ),
        },
    ),
    PlaybookTemplate(
        "welcome-guide-sms",
        "First order: welcome guide SMS",
        TemplateChannel.SMS,
        {
            ZH: (
                "",
                "{{ customer.first_name }}您好，感谢您的首次订购（订单 {{ order.number }}）！"
                "使用指南与常见问题请见会员中心，有任何疑问欢迎随时致电我们。{{ opt_out_hint }}",
            ),
            EN: (
                "",
                "Hi {{ customer.first_name }}, thank you for your first order "
                "({{ order.number }})! Our how-to guide and FAQ are in your member centre; call "
                "us any time with questions. {{ opt_out_hint }}",
            ),
        },
    ),
    PlaybookTemplate(
        "welcome-courtesy-call",
        "First order: courtesy call script",
        TemplateChannel.CALL_SCRIPT,
        {
            ZH: (
                "",
                "回访新客户 {{ customer.name }}（首单 {{ order.number }}，{{ order.date }}）："
                "询问收货与使用情况，解答疑问，介绍会员权益。",
            ),
            EN: (
                "",
                "Courtesy call to new customer {{ customer.name }} (first order "
                "{{ order.number }} on {{ order.date }}): ask how delivery and first use went, "
                "answer questions, introduce member benefits.",
            ),
        },
    ),
    PlaybookTemplate(
        "business-welcome-email",
        "Business: welcome pack email",
        TemplateChannel.EMAIL,
        {
            ZH: (
                "欢迎合作，{{ customer.company_name }}",
                "尊敬的{{ customer.name }}：\n\n感谢{{ customer.company_name }}的首次采购"
                "（订单 {{ order.number }}）。随信附上企业客户欢迎资料：服务目录、对接流程与"
                "常见问题。您的专属顾问{% if advisor.name %}{{ advisor.name }}{% endif %}"
                "将在3个工作日内与您联系。",
            ),
            EN: (
                "Welcome, {{ customer.company_name }}",
                "Dear {{ customer.name }},\n\nThank you for the first order of "
                "{{ customer.company_name }} ({{ order.number }}). Here is our welcome pack for "
                "business customers: service catalogue, onboarding steps and FAQ. Your "
                "dedicated advisor{% if advisor.name %} {{ advisor.name }}{% endif %} will "
                "contact you within 3 business days.",
            ),
        },
    ),
    PlaybookTemplate(
        "business-advisor-call",
        "Business: advisor call script",
        TemplateChannel.CALL_SCRIPT,
        {
            ZH: (
                "",
                "顾问致电 {{ customer.company_name }}（{{ customer.name }}），首单 "
                "{{ order.number }} 后第3天：确认对接进展，解答问题，约定下一步。",
            ),
            EN: (
                "",
                "Advisor call to {{ customer.company_name }} ({{ customer.name }}) three days "
                "after their first order {{ order.number }}: check onboarding, answer "
                "questions, agree next steps.",
            ),
        },
    ),
    PlaybookTemplate(
        "business-review-call",
        "Business: review call script",
        TemplateChannel.CALL_SCRIPT,
        {
            ZH: (
                "",
                "首单一周后与 {{ customer.company_name }} 复盘：对照客户目标回顾效果，收集反馈，"
                "规划下一次采购。",
            ),
            EN: (
                "",
                "Review call with {{ customer.company_name }} one week after the first order: "
                "review results against their goals, collect feedback, plan the next order.",
            ),
        },
    ),
    PlaybookTemplate(
        "business-value-report",
        "Business: monthly value report task",
        TemplateChannel.CALL_SCRIPT,
        {
            ZH: (
                "",
                "为 {{ customer.company_name }} 准备月度价值报告：汇总上月订单、节省与服务情况，"
                "发送给 {{ customer.name }} 并预约回顾。",
            ),
            EN: (
                "",
                "Monthly value report for {{ customer.company_name }}: summarise last month's "
                "orders, savings and service, send it to {{ customer.name }} and book a review.",
            ),
        },
    ),
    PlaybookTemplate(
        "wakeup-offer-sms",
        "Dormant: wake-up offer SMS",
        TemplateChannel.SMS,
        {
            ZH: (
                "",
                "{{ customer.first_name }}，好久不见！我们为您准备了一份回归专享优惠，7天内下单"
                "即可使用。{{ opt_out_hint }}",
            ),
            EN: (
                "",
                "{{ customer.first_name }}, we miss you! Here is a welcome-back offer just for "
                "you, valid for 7 days. {{ opt_out_hint }}",
            ),
        },
    ),
    PlaybookTemplate(
        "wakeup-call",
        "Dormant: wake-up call script",
        TemplateChannel.CALL_SCRIPT,
        {
            ZH: (
                "",
                "高价值客户 {{ customer.name }} 已60天未下单，且未回应唤醒短信：了解原因，"
                "确认是否有不满意之处，介绍专享优惠。",
            ),
            EN: (
                "",
                "High-value customer {{ customer.name }} has not ordered for 60 days nor "
                "answered the wake-up SMS: find out why, check for any dissatisfaction, present "
                "the personal offer.",
            ),
        },
    ),
    PlaybookTemplate(
        "nps-detractor-call",
        "NPS detractor: supervisor call script",
        TemplateChannel.CALL_SCRIPT,
        {
            ZH: (
                "",
                "主管回访 {{ customer.name }}：客户在NPS调查中给出低分。认真倾听，致歉并记录"
                "改进措施，必要时提供补偿。",
            ),
            EN: (
                "",
                "Supervisor call to {{ customer.name }}, who gave a low NPS score: listen, "
                "apologise, record what we will improve and offer a remedy where appropriate.",
            ),
        },
    ),
    PlaybookTemplate(
        "nps-referral-sms",
        "NPS promoter: referral invitation SMS",
        TemplateChannel.SMS,
        {
            ZH: (
                "",
                "{{ customer.first_name }}，感谢您的认可与推荐！邀请好友首次下单，您和好友都"
                "可获得专属礼遇。{{ opt_out_hint }}",
            ),
            EN: (
                "",
                "{{ customer.first_name }}, thank you for recommending us! Invite a friend: "
                "when they place their first order, you both get a gift. {{ opt_out_hint }}",
            ),
        },
    ),
    PlaybookTemplate(
        "sentiment-callback",
        "Negative call: priority callback script",
        TemplateChannel.CALL_SCRIPT,
        {
            ZH: (
                "",
                "优先回电 {{ customer.name }}：上次通话情绪非常负面。由资深坐席致电，先安抚"
                "与致歉，再确认问题并给出解决时间。",
            ),
            EN: (
                "",
                "Priority callback to {{ customer.name }}: the last call was strongly "
                "negative. Calm and apologise first, then confirm the issue and give a "
                "resolution time.",
            ),
        },
    ),
    PlaybookTemplate(
        "birthday-sms",
        "Birthday greeting SMS",
        TemplateChannel.SMS,
        {
            ZH: (
                "",
                "{{ customer.first_name }}，祝您生日快乐！感谢一路相伴，愿新的一岁万事顺意。"
                "{{ opt_out_hint }}",
            ),
            EN: (
                "",
                "Happy birthday, {{ customer.first_name }}! Thank you for being with us, and "
                "have a wonderful year ahead. {{ opt_out_hint }}",
            ),
        },
    ),
    PlaybookTemplate(
        "churn-advisor-call",
        "Churn risk: advisor call script",
        TemplateChannel.CALL_SCRIPT,
        {
            ZH: (
                "",
                "专属顾问致电高价值客户 {{ customer.name }}（流失风险）：了解近期需求变化与顾虑，"
                "提供个性化方案。",
            ),
            EN: (
                "",
                "Dedicated advisor call to high-value customer {{ customer.name }} (churn "
                "risk): learn what changed in their needs or concerns, offer a tailored plan.",
            ),
        },
    ),
]


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
) -> dict[str, Any]:
    return {
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


HIGH_VALUE = {"field": "value_tier", "cmp": "eq", "value": "high"}
PERSON = {"field": "kind", "cmp": "eq", "value": "person"}
BUSINESS = {"field": "kind", "cmp": "eq", "value": "business"}

RULES = [
    PlaybookRule(
        key="complaint-opened",
        name="Complaint: apology and follow-up",
        description="Apology SMS with the ticket number within 1 h; phone follow-up within 24 h.",
        trigger_type=EventType.TICKET_OPENED,
        trigger_params={"kind": "complaint"},
        priority=100,
        stop_conditions=[StopCondition.TICKET_RESOLVED],
        steps=[
            _step(
                StepChannel.SMS,
                "complaint-apology-sms",
                name="Apology SMS",
                sla=1 * HOUR,
                touch=TouchKind.SERVICE,
            ),
            _step(
                StepChannel.CALL,
                "complaint-followup-call",
                name="Complaint follow-up call",
                sla=24 * HOUR,
                touch=TouchKind.SERVICE,
                assignee=AssigneeRule.QUEUE,
                target="general",
            ),
        ],
    ),
    PlaybookRule(
        key="complaint-resolved",
        name="Complaint resolved: satisfaction survey",
        description="Satisfaction survey SMS 2 days after the complaint is resolved.",
        trigger_type=EventType.TICKET_RESOLVED,
        trigger_params={"kind": "complaint"},
        priority=90,
        stop_conditions=[StopCondition.OPTED_OUT],
        steps=[
            _step(
                StepChannel.SMS,
                "complaint-survey-sms",
                name="Satisfaction survey SMS",
                delay=2,
                unit=DelayUnit.DAYS,
                sla=24 * HOUR,
            ),
        ],
    ),
    PlaybookRule(
        key="negative-call-sentiment",
        name="Negative call: priority callback",
        description="A call with sentiment below -0.6: a senior agent calls back within 2 h.",
        trigger_type=EventType.INTERACTION_LOGGED,
        trigger_params={"channel": "call", "sentiment_below": -0.6},
        priority=95,
        cooldown_days=1,
        steps=[
            _step(
                StepChannel.CALL,
                "sentiment-callback",
                name="Priority callback",
                sla=2 * HOUR,
                touch=TouchKind.SERVICE,
                assignee=AssigneeRule.QUEUE,
                target="senior",
            ),
        ],
    ),
    PlaybookRule(
        key="nps-detractor",
        name="NPS detractor: supervisor call",
        description="NPS 0-6: a supervisor calls within 24 h.",
        trigger_type=EventType.SURVEY_SUBMITTED,
        trigger_params={"kind": "nps", "max_score": 6},
        priority=80,
        steps=[
            _step(
                StepChannel.CALL,
                "nps-detractor-call",
                name="Supervisor call",
                sla=24 * HOUR,
                assignee=AssigneeRule.QUEUE,
                target="supervisors",
            ),
        ],
    ),
    PlaybookRule(
        key="churn-risk-high-value",
        name="High-value churn risk: advisor call",
        description="A high-value customer enters churn risk: the dedicated advisor calls "
        "within 48 h.",
        trigger_type=EventType.SEGMENT_ENTERED,
        trigger_params={"segment": "lifecycle-churn-risk"},
        conditions=HIGH_VALUE,
        priority=70,
        cooldown_days=30,
        stop_conditions=[StopCondition.CUSTOMER_ORDERED],
        steps=[
            _step(
                StepChannel.CALL,
                "churn-advisor-call",
                name="Advisor call",
                sla=48 * HOUR,
                assignee=AssigneeRule.ADVISOR,
                target="general",
            ),
        ],
    ),
    PlaybookRule(
        key="business-first-order",
        name="Business customer: onboarding",
        description="Welcome pack email; advisor call after 3 days; review call after 7 days.",
        trigger_type=EventType.FIRST_ORDER,
        conditions=BUSINESS,
        priority=65,
        steps=[
            _step(StepChannel.EMAIL, "business-welcome-email", name="Welcome pack", sla=24 * HOUR),
            _step(
                StepChannel.CALL,
                "business-advisor-call",
                name="Advisor call",
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
                name="Review call",
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
        name="New customer: welcome and courtesy call",
        description="Welcome / how-to guide SMS within 24 h; courtesy call on day 3.",
        trigger_type=EventType.FIRST_ORDER,
        conditions=PERSON,
        priority=60,
        stop_conditions=[StopCondition.OPTED_OUT],
        steps=[
            _step(StepChannel.SMS, "welcome-guide-sms", name="Welcome guide", sla=24 * HOUR),
            _step(
                StepChannel.CALL,
                "welcome-courtesy-call",
                name="Courtesy call",
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
        name="Dormant 60 days: wake-up offer",
        description="Wake-up offer SMS; 7 days later a call for high-value customers who did "
        "not respond. 10% hold-out to measure the uplift.",
        trigger_type=EventType.INACTIVITY,
        trigger_params={"days": 60},
        priority=50,
        cooldown_days=30,
        holdout_share=0.1,
        stop_conditions=[StopCondition.CUSTOMER_ORDERED, StopCondition.OPTED_OUT],
        steps=[
            _step(StepChannel.SMS, "wakeup-offer-sms", name="Wake-up offer", sla=24 * HOUR),
            _step(
                StepChannel.CALL,
                "wakeup-call",
                name="Wake-up call",
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
        name="NPS promoter: referral invitation",
        description="NPS 9-10: invite the customer to refer a friend.",
        trigger_type=EventType.SURVEY_SUBMITTED,
        trigger_params={"kind": "nps", "min_score": 9},
        priority=40,
        cooldown_days=90,
        stop_conditions=[StopCondition.OPTED_OUT],
        steps=[
            _step(StepChannel.SMS, "nps-referral-sms", name="Referral invitation", sla=24 * HOUR),
        ],
    ),
    PlaybookRule(
        key="birthday",
        name="Birthday greeting",
        description="Greeting SMS at 10:00 on the birthday, in the customer's time zone.",
        trigger_type=EventType.BIRTHDAY,
        priority=30,
        cooldown_days=300,
        stop_conditions=[StopCondition.OPTED_OUT],
        steps=[
            _step(
                StepChannel.SMS,
                "birthday-sms",
                name="Birthday greeting",
                delay=10,
                unit=DelayUnit.HOURS,
                sla=8 * HOUR,
            ),
        ],
    ),
    PlaybookRule(
        key="business-monthly-report",
        name="Business customer: monthly value report",
        description="On the first of the month, a value report task for the advisor.",
        trigger_type=EventType.MONTHLY,
        conditions=BUSINESS,
        priority=20,
        steps=[
            _step(
                StepChannel.CALL,
                "business-value-report",
                name="Monthly value report",
                business_hours=True,
                sla=3 * DAY,
                assignee=AssigneeRule.ADVISOR,
                target="general",
            ),
        ],
    ),
]

PLAYBOOK_KEYS = [rule.key for rule in RULES]


def playbook_active_keys() -> list[str]:
    """The playbook rules to switch on at install (setting CARE_PLAYBOOK_ACTIVE, a list)."""
    return list(getattr(settings, "CARE_PLAYBOOK_ACTIVE", []) or [])


@transaction.atomic
def playbook_install(*, installed_by: AbstractBaseUser | None = None) -> dict[str, Any]:
    """Create the playbook's queues, templates and rules that do not exist yet, and switch on
    the rules CARE_PLAYBOOK_ACTIVE lists. Running it again changes nothing else."""
    queues_created = 0
    for slug, name in QUEUES.items():
        _queue, created = Queue.objects.get_or_create(slug=slug, defaults={"name": name})
        queues_created += created
    existing_templates = set(
        MessageTemplate.objects.filter(slug__in=[t.slug for t in TEMPLATES]).values_list(
            "slug", flat=True
        )
    )
    templates_created = 0
    for template in TEMPLATES:
        if template.slug in existing_templates:
            continue
        template_create(
            name=template.name,
            slug=template.slug,
            channel=template.channel,
            variants={
                language: {"subject": subject, "body": body}
                for language, (subject, body) in template.texts.items()
            },
            created_by=installed_by,
        )
        templates_created += 1
    installed = {
        rule.playbook_key: rule for rule in CareRule.objects.filter(playbook_key__in=PLAYBOOK_KEYS)
    }
    taken_slugs = set(
        CareRule.objects.filter(slug__in=PLAYBOOK_KEYS).values_list("slug", flat=True)
    )
    rules_created = 0
    for spec in RULES:
        if spec.key in installed:
            continue
        installed[spec.key] = care_rule_create(
            name=spec.name,
            slug=None if spec.key in taken_slugs else spec.key,
            description=spec.description,
            trigger_type=spec.trigger_type,
            trigger_params=spec.trigger_params,
            conditions=spec.conditions,
            priority=spec.priority,
            cooldown_days=spec.cooldown_days,
            holdout_share=spec.holdout_share,
            stop_conditions=spec.stop_conditions,
            steps=spec.steps,
            playbook_key=spec.key,
            created_by=installed_by,
        )
        rules_created += 1
    wanted = playbook_active_keys()
    activated = []
    for key in wanted:
        rule = installed.get(key)
        if rule is not None and not rule.is_active:
            care_rule_activate(rule=rule, activated_by=installed_by)
            activated.append(key)
    return {
        "queues_created": queues_created,
        "templates_created": templates_created,
        "rules_created": rules_created,
        "rules_activated": activated,
        "unknown_keys": sorted(set(wanted) - set(PLAYBOOK_KEYS)),
    }
