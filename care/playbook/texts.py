"""The playbook's message templates, in Simplified Chinese and English."""

from dataclasses import dataclass

from django.utils.translation import gettext_noop

from care.choices import TemplateChannel

ZH = "zh-hans"
EN = "en"


@dataclass(frozen=True)
class PlaybookTemplate:
    slug: str
    name: str
    channel: str
    texts: dict[str, tuple[str, str]]  # language -> (subject, body)


TEMPLATES = [
    PlaybookTemplate(
        "complaint-apology-sms",
        gettext_noop("Complaint: apology SMS"),
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
        gettext_noop("Complaint: follow-up call script"),
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
        gettext_noop("Complaint: satisfaction survey SMS"),
        TemplateChannel.SMS,
        {
            ZH: (
                "",
                "{{ customer.name }}您好，您的工单 {{ ticket.number }} 已处理完毕。请回复1-5分"
                "评价本次服务（5分为非常满意），或点击 {{ survey_link }} 评价，感谢您的反馈！"
                "{{ opt_out_hint }}",
            ),
            EN: (
                "",
                "Hello {{ customer.name }}, your ticket {{ ticket.number }} has been resolved. "
                "How satisfied are you? Reply with a score from 1 to 5 (5 = very satisfied) or "
                "tap {{ survey_link }} {{ opt_out_hint }}",
            ),
        },
    ),
    PlaybookTemplate(
        "csat-sms",
        gettext_noop("Satisfaction question SMS (CSAT, after a ticket or call)"),
        TemplateChannel.SMS,
        {
            ZH: (
                "",
                "{{ customer.name }}您好，感谢您联系我们。请回复数字1-5为本次服务打分"
                "（5分为非常满意），或点击 {{ survey_link }} 评价。{{ opt_out_hint }}",
            ),
            EN: (
                "",
                "Hello {{ customer.name }}, thank you for contacting us. How satisfied are you? "
                "Reply with a digit 1-5 (5 = very satisfied) or tap {{ survey_link }} "
                "{{ opt_out_hint }}",
            ),
        },
    ),
    PlaybookTemplate(
        "welcome-guide-sms",
        gettext_noop("First order: welcome guide SMS"),
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
        gettext_noop("First order: courtesy call script"),
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
        gettext_noop("Business: welcome pack email"),
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
        gettext_noop("Business: advisor call script"),
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
        gettext_noop("Business: review call script"),
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
        gettext_noop("Business: monthly value report task"),
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
        gettext_noop("Dormant: wake-up offer SMS"),
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
        gettext_noop("Dormant: wake-up call script"),
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
        gettext_noop("NPS detractor: supervisor call script"),
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
        gettext_noop("NPS promoter: referral invitation SMS"),
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
        gettext_noop("Negative call: priority callback script"),
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
        gettext_noop("Birthday greeting SMS"),
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
        gettext_noop("Churn risk: advisor call script"),
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
    PlaybookTemplate(
        "repayment-reminder-call",
        gettext_noop("Repayment reminder: automated call script"),
        TemplateChannel.CALL_SCRIPT,
        {
            ZH: (
                "",
                "{{ customer.name }}您好，提醒您本期还款即将到期。如需人工服务请按0或说“转人工”；"
                "如确认按时还款请按1或说“承诺还款”。",
            ),
            EN: (
                "",
                "Hello {{ customer.name }}, this is a reminder that your repayment is due soon. "
                'Press 0 or say "agent" to speak to a person; press 1 or say "I will pay" '
                "to confirm you will pay on time.",
            ),
        },
    ),
    PlaybookTemplate(
        "repayment-human-call",
        gettext_noop("Repayment reminder: call script for a person"),
        TemplateChannel.CALL_SCRIPT,
        {
            ZH: (
                "",
                "致电 {{ customer.name }} 沟通本期还款：确认客户是否收到提醒，了解还款困难，"
                "介绍可选的还款方式，记录约定的还款日期。",
            ),
            EN: (
                "",
                "Call {{ customer.name }} about the repayment due: check they got the reminder, "
                "listen to any difficulty, explain the ways to pay and note the date agreed.",
            ),
        },
    ),
    PlaybookTemplate(
        "repayment-promise-sms",
        gettext_noop("Repayment reminder: promise confirmation SMS"),
        TemplateChannel.SMS,
        {
            ZH: (
                "",
                "{{ customer.name }}您好，感谢您确认按时还款。如已还款请忽略本短信。",
            ),
            EN: (
                "",
                "Dear {{ customer.name }}, thank you for confirming you will repay on time. "
                "If you have already paid, please ignore this message.",
            ),
        },
    ),
]
