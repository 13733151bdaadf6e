"""Satisfaction after every contact: a resolved ticket or a logged call asks for a CSAT score
by SMS (reply a digit) or link; answers land as surveys about the ticket or call and its agent;
the survey interval, consent and the reply window are honoured."""

import datetime as dt
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from callcenter.choices import InteractionChannel, Language, SurveyKind, TicketKind
from callcenter.models import Customer, SurveyResponse
from callcenter.services.activity import interaction_log, ticket_open, ticket_resolve
from care.choices import EventType, StepChannel, TemplateChannel, TouchKind
from care.models import CareSettings, Event, MessageTemplate
from care.playbook import playbook_install
from care.services.templates import template_create
from outreach.choices import InboundAction, SummaryChannel, TaskStatus
from outreach.models import CallReasonSetting, InboundMessage, OutreachTask, SurveyAsk
from outreach.reasons import SkipReason
from outreach.services.dispatch import dispatch_due
from outreach.services.surveys import AnswerOutcome, csat_reply_score, survey_ask_answer
from tests.callcenter.factories import CustomerFactory, PhoneFactory, UserFactory
from tests.outreach.factories import TaskFactory
from tests.outreach.gateway import Gateway

pytestmark = pytest.mark.django_db

BASE = "https://crm.example.cn"
SURVEY_LINK = re.compile(re.escape(BASE) + r"/s/([A-Za-z0-9_-]{22})")
PHONE = "+8613912345678"
# 10:00 in Shanghai: no quiet hours.
MORNING = dt.datetime(2026, 6, 10, 2, 0, tzinfo=dt.UTC)
H = dt.timedelta(hours=1)
D = dt.timedelta(days=1)
INBOUND = reverse("api-outreach-inbound-sms")
Post = Callable[..., Any]


@pytest.fixture(autouse=True)
def _base(settings: Any) -> None:
    settings.TRACKED_LINK_BASE_URL = BASE + "/"


@pytest.fixture
def clock() -> Iterator[Any]:
    with time_machine.travel(MORNING, tick=False) as traveller:
        yield traveller


@pytest.fixture
def csat_rule(settings: Any) -> None:
    """The playbook with only its CSAT rule switched on."""
    settings.CARE_PLAYBOOK_ACTIVE = ["ticket-resolved-csat"]
    playbook_install()


def _customer(phone: str = PHONE, **fields: Any) -> Customer:
    customer = CustomerFactory(timezone="Asia/Shanghai", **fields)
    PhoneFactory(customer=customer, value=phone)
    return customer


def _survey_template(slug: str = "csat-test", channel: str = TemplateChannel.SMS) -> Any:
    subject = "Survey" if channel == TemplateChannel.EMAIL else ""
    return template_create(
        name=slug,
        slug=slug,
        channel=channel,
        variants={
            Language.ZH_HANS: {
                "subject": subject,
                "body": "请回复1-5评价，或点击 {{ survey_link }}",
            },
            Language.EN: {"subject": subject, "body": "Reply 1-5 or tap {{ survey_link }}"},
        },
    )


def _survey_task(customer: Customer, **fields: Any) -> OutreachTask:
    values = {"due_at": MORNING, "deadline_at": MORNING + D, **fields}
    return TaskFactory(
        customer=customer,
        template=MessageTemplate.objects.get(slug="csat-sms"),
        body="",
        channel=StepChannel.SMS,
        **values,
    )


def _sent_token(gateway: Gateway, index: int = -1) -> str:
    match = SURVEY_LINK.search(gateway.requests[index].json()["text"])
    assert match is not None, gateway.requests[index].json()["text"]
    return match.group(1)


def _resolved_and_asked(
    customer: Customer, agent: Any, clock: Any, capture: Any, gateway: Gateway
) -> tuple[Any, SurveyAsk]:
    """Open a ticket assigned to `agent`, resolve it, send the CSAT SMS an hour later."""
    with capture(execute=True):
        ticket = ticket_open(
            customer=customer, kind=TicketKind.INQUIRY, subject="Parcel", assignee=agent
        )
    with capture(execute=True):
        ticket_resolve(ticket=ticket)
    task = OutreachTask.objects.get(customer=customer, template__slug="csat-sms")
    assert (task.channel, task.due_at) == (StepChannel.SMS, MORNING + H)
    clock.shift(H)
    dispatch_due()
    task.refresh_from_db()
    assert task.status == TaskStatus.SENT, task.reason or task.last_error
    return ticket, SurveyAsk.objects.get(token=_sent_token(gateway))


class TestTicketResolvedToScorecard:
    def test_a_digit_reply_to_the_csat_sms_is_a_survey_about_the_ticket_and_its_agent(
        self,
        csat_rule: None,
        clock: Any,
        http_sms: Gateway,
        webhook: Post,
        django_capture_on_commit_callbacks: Any,
    ) -> None:
        # given: a resolved ticket whose CSAT SMS went out with the customer's own link
        agent = UserFactory()
        customer = _customer()
        ticket, ask = _resolved_and_asked(
            customer, agent, clock, django_capture_on_commit_callbacks, http_sms
        )
        assert (ask.customer, ask.ticket, ask.agent) == (customer, ticket, agent)
        assert ask.expires_at == MORNING + H + 72 * H

        # when: the customer replies "4" through the signed gateway webhook two hours later
        clock.shift(2 * H)
        response = webhook(INBOUND, {"from": "139 1234 5678", "body": "4", "id": "in-1"})

        # then: a CSAT survey of 4 about the ticket and its agent; no generic reply
        assert response.status_code == 200
        survey = SurveyResponse.objects.get(customer=customer)
        assert (survey.kind, survey.score, survey.ticket, survey.agent) == (
            SurveyKind.CSAT,
            4,
            ticket,
            agent,
        )
        ask.refresh_from_db()
        assert (ask.answered_at, ask.response) == (MORNING + 3 * H, survey)
        message = InboundMessage.objects.get(provider_message_id="in-1")
        assert message.action == InboundAction.SURVEY_ANSWER
        assert not Event.objects.filter(type=EventType.CUSTOMER_REPLIED).exists()
        assert Event.objects.filter(
            type=EventType.SURVEY_SUBMITTED, payload__score=4, payload__ticket_id=ticket.pk
        ).exists()

    def test_a_second_reply_changes_nothing_and_is_an_ordinary_reply(
        self,
        csat_rule: None,
        clock: Any,
        http_sms: Gateway,
        webhook: Post,
        django_capture_on_commit_callbacks: Any,
    ) -> None:
        customer = _customer()
        _resolved_and_asked(
            customer, UserFactory(), clock, django_capture_on_commit_callbacks, http_sms
        )
        webhook(INBOUND, {"from": PHONE, "body": "５分", "id": "in-1"})

        webhook(INBOUND, {"from": PHONE, "body": "1", "id": "in-2"})

        assert list(SurveyResponse.objects.values_list("score", flat=True)) == [5]
        assert InboundMessage.objects.get(provider_message_id="in-2").action == (
            InboundAction.REPLY
        )

    def test_a_reply_after_the_window_is_an_ordinary_reply(
        self,
        csat_rule: None,
        clock: Any,
        http_sms: Gateway,
        webhook: Post,
        django_capture_on_commit_callbacks: Any,
    ) -> None:
        customer = _customer()
        _, ask = _resolved_and_asked(
            customer, UserFactory(), clock, django_capture_on_commit_callbacks, http_sms
        )
        clock.shift(72 * H)

        webhook(INBOUND, {"from": PHONE, "body": "4", "id": "in-1"})

        assert not SurveyResponse.objects.exists()
        assert InboundMessage.objects.get().action == InboundAction.REPLY
        page = Client().get(reverse("survey-page", kwargs={"token": ask.token}))
        assert page.status_code == 200
        assert 'data-state="expired"' in page.content.decode()


@pytest.mark.parametrize(
    ("text", "score"),
    [
        ("4", 4),
        (" 5 ", 5),
        ("１", 1),
        ("５分", 5),
        ("3 分", 3),
        ("4星", 4),
        ("5 stars", 5),
        ("2!", 2),
        ("4。", 4),
        ("6", None),
        ("0", None),
        ("45", None),
        ("4 but late", None),
        ("", None),
        ("STOP", None),
    ],
)
def test_only_a_bare_score_is_a_survey_reply(text: str, score: int | None) -> None:
    assert csat_reply_score(text) == score


class TestSurveyPage:
    @pytest.fixture
    def ask(
        self,
        csat_rule: None,
        clock: Any,
        http_sms: Gateway,
        django_capture_on_commit_callbacks: Any,
    ) -> SurveyAsk:
        customer = _customer(language=Language.EN)
        _, ask = _resolved_and_asked(
            customer, UserFactory(), clock, django_capture_on_commit_callbacks, http_sms
        )
        return ask

    def test_the_link_answers_once_with_a_comment(self, ask: SurveyAsk) -> None:
        client = Client()
        url = reverse("survey-page", kwargs={"token": ask.token})
        page = client.get(url)
        assert page.status_code == 200
        assert "How did we do?" in page.content.decode()

        answered = client.post(url, {"score": "2", "comment": "  Too slow  "})
        again = client.post(url, {"score": "5"})

        assert 'data-state="recorded"' in answered.content.decode()
        assert 'data-state="already_answered"' in again.content.decode()
        survey = SurveyResponse.objects.get()
        assert (survey.score, survey.comment, survey.ticket, survey.agent) == (
            2,
            "Too slow",
            ask.ticket,
            ask.agent,
        )

    @pytest.mark.parametrize(
        "data", [{}, {"score": "9"}, {"score": "abc"}, {"score": "3", "comment": "x" * 1001}]
    )
    def test_bad_input_is_refused_and_records_nothing(
        self, ask: SurveyAsk, data: dict[str, str]
    ) -> None:
        response = Client().post(reverse("survey-page", kwargs={"token": ask.token}), data)

        assert response.status_code == 400
        assert not SurveyResponse.objects.exists()
        ask.refresh_from_db()
        assert ask.answered_at is None

    @pytest.mark.parametrize("token", ["nope", "x" * 22, "x" * 300])
    def test_an_unknown_token_is_a_404_page(self, token: str) -> None:
        assert Client().get(reverse("survey-page", kwargs={"token": token})).status_code == 404

    def test_an_unsent_ask_is_not_answerable(self, clock: Any) -> None:
        task = _survey_task_plain()
        ask = SurveyAsk.objects.create(token="t" * 22, task=task, customer=task.customer)

        response = Client().post(reverse("survey-page", kwargs={"token": ask.token}), {"score": 5})

        assert response.status_code == 404
        assert not SurveyResponse.objects.exists()

    def test_the_page_speaks_the_customers_language(
        self,
        csat_rule: None,
        clock: Any,
        http_sms: Gateway,
        django_capture_on_commit_callbacks: Any,
    ) -> None:
        customer = _customer(language=Language.ZH_HANS)
        _, ask = _resolved_and_asked(
            customer, UserFactory(), clock, django_capture_on_commit_callbacks, http_sms
        )

        page = Client().get(reverse("survey-page", kwargs={"token": ask.token}))

        assert "满意" in page.content.decode()
        assert 'lang="zh-CN"' in page.content.decode()

    def test_the_service_refuses_a_score_out_of_range(self, ask: SurveyAsk) -> None:
        from callcenter.errors import ApplicationError

        with pytest.raises(ApplicationError):
            survey_ask_answer(ask_id=ask.pk, score=6, now=MORNING + 2 * H)
        assert survey_ask_answer(ask_id=ask.pk, score=3, now=MORNING + 2 * H) == (
            AnswerOutcome.RECORDED
        )


def _survey_task_plain() -> OutreachTask:
    template = _survey_template("csat-plain")
    customer = _customer()
    return TaskFactory(
        customer=customer, template=template, body="", due_at=MORNING, deadline_at=MORNING + D
    )


class TestGuardrails:
    def test_one_survey_per_customer_per_interval(
        self, csat_rule: None, clock: Any, http_sms: Gateway
    ) -> None:
        # given: a survey sent today
        customer = _customer()
        first = _survey_task(customer)
        dispatch_due()
        first.refresh_from_db()
        assert first.status == TaskStatus.SENT

        # when: another survey falls due 6 days later, and a third 8 days later
        clock.shift(6 * D)
        second = _survey_task(customer, due_at=MORNING + 6 * D, deadline_at=MORNING + 7 * D)
        dispatch_due()
        clock.shift(2 * D)
        third = _survey_task(customer, due_at=MORNING + 8 * D, deadline_at=MORNING + 9 * D)
        dispatch_due()

        # then: the second is skipped for the survey interval, the third goes out
        second.refresh_from_db()
        third.refresh_from_db()
        assert (second.status, second.reason) == (TaskStatus.SKIPPED, SkipReason.SURVEY_RECENT)
        assert third.status == TaskStatus.SENT
        assert SurveyAsk.objects.filter(customer=customer, sent_at__isnull=False).count() == 2

    def test_two_surveys_due_together_send_one(
        self, csat_rule: None, clock: Any, http_sms: Gateway
    ) -> None:
        customer = _customer()
        tasks = [_survey_task(customer), _survey_task(customer)]

        dispatch_due()

        statuses = sorted(
            OutreachTask.objects.filter(pk__in=[t.pk for t in tasks]).values_list(
                "status", flat=True
            )
        )
        assert statuses == [TaskStatus.SENT, TaskStatus.SKIPPED]
        assert len(http_sms.requests) == 1

    def test_the_interval_is_a_care_setting(
        self, csat_rule: None, clock: Any, http_sms: Gateway
    ) -> None:
        CareSettings.objects.filter(pk=1).update(csat_interval_days=1)
        customer = _customer()
        _survey_task(customer)
        dispatch_due()
        clock.shift(2 * D)
        later = _survey_task(customer, due_at=MORNING + 2 * D, deadline_at=MORNING + 3 * D)

        dispatch_due()

        later.refresh_from_db()
        assert later.status == TaskStatus.SENT

    def test_an_opted_out_customer_gets_no_survey(
        self, csat_rule: None, clock: Any, http_sms: Gateway
    ) -> None:
        customer = _customer(sms_opt_out=True)
        task = _survey_task(customer)

        dispatch_due()

        task.refresh_from_db()
        assert (task.status, task.reason) == (TaskStatus.SKIPPED, SkipReason.OPTED_OUT)
        assert http_sms.requests == []
        assert not SurveyAsk.objects.filter(sent_at__isnull=False).exists()

    def test_a_retried_send_keeps_the_link(
        self, csat_rule: None, clock: Any, http_sms: Gateway
    ) -> None:
        customer = _customer()
        task = _survey_task(customer)
        http_sms.fail_next(1, status=503)
        dispatch_due()
        clock.shift(10 * 60 * dt.timedelta(seconds=1))
        dispatch_due()

        task.refresh_from_db()
        assert task.status == TaskStatus.SENT
        assert _sent_token(http_sms, 0) == _sent_token(http_sms, 1)
        assert SurveyAsk.objects.filter(task=task).count() == 1


class TestAfterCall:
    @pytest.fixture
    def billing(self, db: None) -> CallReasonSetting:
        return CallReasonSetting.objects.create(
            reason="Billing",
            summary_channel=SummaryChannel.SMS,
            csat_template=_survey_template(),
        )

    def test_a_call_with_a_configured_reason_sends_its_summary_within_the_hour(
        self, billing: CallReasonSetting, clock: Any, django_capture_on_commit_callbacks: Any
    ) -> None:
        agent = UserFactory()
        customer = _customer(language=Language.EN)

        with django_capture_on_commit_callbacks(execute=False):
            interaction = interaction_log(
                customer=customer,
                channel=InteractionChannel.CALL,
                agent=agent,
                reason="  billing ",
                notes="Refund of 20 CNY approved; arrives in 3 days.",
            )

        summary = OutreachTask.objects.get(idempotency_key=f"call-summary:{interaction.pk}")
        assert (summary.channel, summary.touch_kind) == (StepChannel.SMS, TouchKind.SERVICE)
        assert summary.due_at == MORNING
        assert summary.deadline_at == MORNING + H
        assert "Refund of 20 CNY approved" in summary.body
        assert summary.body.startswith("Summary of your call on 2026-06-10")
        survey = OutreachTask.objects.get(idempotency_key=f"call-survey:{interaction.pk}")
        ask = SurveyAsk.objects.get(task=survey)
        assert (ask.interaction, ask.agent, ask.ticket) == (interaction, agent, None)

    @pytest.mark.parametrize(
        ("reason", "notes", "with_agent"),
        [("Other", "notes", True), ("Billing", "notes", False), ("", "notes", True)],
    )
    def test_no_follow_up_for_other_reasons_or_calls_without_an_agent(
        self, billing: CallReasonSetting, clock: Any, reason: str, notes: str, with_agent: bool
    ) -> None:
        interaction_log(
            customer=_customer(),
            channel=InteractionChannel.CALL,
            agent=UserFactory() if with_agent else None,
            reason=reason,
            notes=notes,
        )

        assert not OutreachTask.objects.exists()

    def test_no_summary_without_notes_but_the_survey_still(
        self, billing: CallReasonSetting, clock: Any
    ) -> None:
        interaction_log(
            customer=_customer(),
            channel=InteractionChannel.CALL,
            agent=UserFactory(),
            reason="Billing",
        )

        assert list(OutreachTask.objects.values_list("idempotency_key", flat=True)) == [
            f"call-survey:{SurveyAsk.objects.get().interaction_id}"
        ]

    def test_the_call_survey_answer_is_about_the_call_and_its_agent(
        self,
        billing: CallReasonSetting,
        clock: Any,
        http_sms: Gateway,
        webhook: Post,
        django_capture_on_commit_callbacks: Any,
    ) -> None:
        agent = UserFactory()
        customer = _customer()
        with django_capture_on_commit_callbacks(execute=True):
            interaction = interaction_log(
                customer=customer,
                channel=InteractionChannel.CALL,
                agent=agent,
                reason="Billing",
                notes="Refund approved.",
            )
        # the summary and the survey went out at once (dispatch after commit)
        texts = [request.json()["text"] for request in http_sms.requests]
        assert len(texts) == 2
        assert "Refund approved." in texts[0]

        webhook(INBOUND, {"from": PHONE, "body": "5", "id": "in-1"})

        survey = SurveyResponse.objects.get()
        assert (survey.score, survey.interaction, survey.agent, survey.ticket) == (
            5,
            interaction,
            agent,
            None,
        )

    def test_an_email_summary_has_a_subject(
        self, clock: Any, django_capture_on_commit_callbacks: Any
    ) -> None:
        CallReasonSetting.objects.create(reason="Contract", summary_channel=SummaryChannel.EMAIL)

        interaction = interaction_log(
            customer=_customer(),
            channel=InteractionChannel.CALL,
            agent=UserFactory(),
            reason="contract",
            notes="We sent the contract.",
        )

        task = OutreachTask.objects.get(idempotency_key=f"call-summary:{interaction.pk}")
        assert task.channel == StepChannel.EMAIL
        assert task.subject


class TestCallReasonPages:
    def test_supervisors_read_admins_change(
        self, supervisor_user: Any, crm_admin_user: Any
    ) -> None:
        template = _survey_template()
        client = Client()
        client.force_login(supervisor_user)
        assert client.get(reverse("call-reasons")).status_code == 200
        refused = client.post(reverse("call-reasons"), {"reason": "X", "summary_channel": "sms"})
        assert refused.status_code == 403

        client.force_login(crm_admin_user)
        created = client.post(
            reverse("call-reasons"),
            {"reason": " Billing ", "summary_channel": "sms", "csat_template": template.pk},
        )

        assert created.status_code == 302
        setting = CallReasonSetting.objects.get()
        assert (setting.reason, setting.summary_channel, setting.csat_template) == (
            "Billing",
            SummaryChannel.SMS,
            template,
        )
        page = client.get(reverse("call-reasons")).content.decode()
        assert 'data-reason="Billing"' in page

    @pytest.mark.parametrize(
        "data",
        [
            {"reason": "", "summary_channel": "sms"},
            {"reason": "billing", "summary_channel": "sms"},
            {"reason": "New", "summary_channel": "fax"},
            {"reason": "New", "summary_channel": "sms", "csat_template": "plain"},
            {"reason": "New", "summary_channel": "sms", "csat_template": "999999"},
        ],
    )
    def test_bad_input_is_refused_and_changes_nothing(
        self, crm_admin_user: Any, data: dict[str, str]
    ) -> None:
        CallReasonSetting.objects.create(reason="Billing", summary_channel=SummaryChannel.SMS)
        plain = template_create(
            name="plain",
            slug="plain-sms",
            channel=TemplateChannel.SMS,
            variants={Language.EN: {"subject": "", "body": "Thanks"}},
        )
        if data.get("csat_template") == "plain":
            data = {**data, "csat_template": str(plain.pk)}
        client = Client()
        client.force_login(crm_admin_user)

        response = client.post(reverse("call-reasons"), data)

        assert response.status_code == 400
        assert list(CallReasonSetting.objects.values_list("reason", flat=True)) == ["Billing"]

    def test_the_list_costs_the_same_queries_for_many_reasons(
        self, crm_admin_user: Any, django_assert_max_num_queries: Any
    ) -> None:
        template = _survey_template()
        client = Client()
        client.force_login(crm_admin_user)
        CallReasonSetting.objects.create(reason="R0", csat_template=template)
        with django_assert_max_num_queries(100) as one:
            client.get(reverse("call-reasons"))
        for number in range(1, 6):
            CallReasonSetting.objects.create(reason=f"R{number}", csat_template=template)

        with django_assert_max_num_queries(len(one.captured_queries)) as many:
            page = client.get(reverse("call-reasons"))

        assert page.content.decode().count("data-reason=") == 6
        assert len(many.captured_queries) == len(one.captured_queries)

    def test_admins_edit_and_remove(self, crm_admin_user: Any) -> None:
        setting = CallReasonSetting.objects.create(reason="Billing")
        client = Client()
        client.force_login(crm_admin_user)

        edited = client.post(
            reverse("call-reason-edit", kwargs={"pk": setting.pk}),
            {"reason": "Billing", "summary_channel": "email"},
        )
        assert edited.status_code == 302
        setting.refresh_from_db()
        assert setting.summary_channel == SummaryChannel.EMAIL

        removed = client.post(reverse("call-reason-delete", kwargs={"pk": setting.pk}))
        assert removed.status_code == 302
        assert not CallReasonSetting.objects.exists()

    def test_the_desk_log_form_says_what_logging_sends(self, agent_user: Any) -> None:
        CallReasonSetting.objects.create(reason="Billing", summary_channel=SummaryChannel.SMS)
        _customer(language=Language.EN)
        _customer(phone="+8613700000000", sms_opt_out=True)
        client = Client()
        client.force_login(agent_user)

        card = client.get(reverse("desk-card"), {"phone": PHONE}).content.decode()
        blocked = client.get(reverse("desk-card"), {"phone": "+8613700000000"}).content.decode()

        assert 'data-testid="call-followups"' in card
        assert "Billing" in card
        assert "within the hour" in card
        assert "the customer opted out" in blocked


def test_the_customer_page_shows_the_tickets_latest_csat(agent_user: Any) -> None:
    from callcenter.services.activity import survey_record

    customer = _customer()
    ticket = ticket_open(customer=customer, kind=TicketKind.COMPLAINT, subject="Broken")
    other = ticket_open(customer=customer, kind=TicketKind.INQUIRY, subject="Question")
    survey_record(customer=customer, kind=SurveyKind.CSAT, score=2, ticket=ticket)
    survey_record(customer=customer, kind=SurveyKind.CSAT, score=4, ticket=ticket)
    survey_record(customer=customer, kind=SurveyKind.NPS, score=9, ticket=other)
    client = Client()
    client.force_login(agent_user)

    page = client.get(reverse("customer-detail", kwargs={"pk": customer.pk})).content.decode()

    assert page.count("data-csat=") == 1
    assert 'data-csat="4"' in page


@pytest.mark.parametrize(("value", "saved"), [("14", 14), ("0", 7), ("abc", 7)])
def test_admins_set_the_survey_interval_on_the_settings_page(
    crm_admin_user: Any, value: str, saved: int
) -> None:
    from tests.callcenter.test_pages_manage import SETTINGS_URL, _guardrails

    client = Client()
    client.force_login(crm_admin_user)

    response = client.post(SETTINGS_URL, _guardrails(csat_interval_days=value))

    assert response.status_code == (302 if saved == 14 else 400)
    assert CareSettings.load().csat_interval_days == saved


def test_a_rule_can_ask_after_calls_of_one_reason() -> None:
    from care.services.triggers import trigger_matches, trigger_params_validate

    params = trigger_params_validate(
        trigger_type=EventType.INTERACTION_LOGGED, params={"channel": "call", "reason": "Billing"}
    )

    assert trigger_matches(params=params, payload={"channel": "call", "reason": " billing "})
    assert not trigger_matches(params=params, payload={"channel": "call", "reason": "Delivery"})
    assert not trigger_matches(params=params, payload={"channel": "call"})


def test_a_logged_call_announces_its_reason(clock: Any) -> None:
    customer = _customer()

    interaction_log(
        customer=customer, channel=InteractionChannel.CALL, agent=UserFactory(), reason="Billing"
    )

    event = Event.objects.get(type=EventType.INTERACTION_LOGGED, customer=customer)
    assert event.payload["reason"] == "Billing"


def test_the_ticket_page_and_list_show_the_tickets_csat(supervisor_user: Any) -> None:
    from callcenter.services.activity import survey_record

    customer = _customer()
    ticket = ticket_open(customer=customer, kind=TicketKind.COMPLAINT, subject="Broken")
    ticket_resolve(ticket=ticket)
    survey_record(customer=customer, kind=SurveyKind.CSAT, score=5, ticket=ticket)
    client = Client()
    client.force_login(supervisor_user)

    page = client.get(reverse("service-ticket", kwargs={"pk": ticket.pk})).content.decode()
    listed = client.get(reverse("service-tickets"), {"status": "resolved", "scope": "all"})

    assert 'data-csat="5"' in page
    assert 'data-csat="5"' in listed.content.decode()
