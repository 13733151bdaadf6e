"""The public satisfaction page in the browser: a customer follows their survey link without
logging in, in their own language (whatever the browser's), picks a score, adds a comment and
sends it once; opening the link again says it is answered."""

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from callcenter.choices import Language, SurveyKind, TicketKind
from callcenter.models import SurveyResponse
from outreach.models import SurveyAsk
from tests.callcenter.factories import CustomerFactory, TicketFactory, UserFactory
from tests.e2e.conftest import shot
from tests.outreach.factories import TaskFactory


def _ask(language: str, token: str) -> SurveyAsk:
    agent = UserFactory(username=f"e2e_survey_agent_{token[:6]}")
    customer = CustomerFactory(language=language, external_id=f"E2E-SURVEY-{token[:6]}")
    ticket = TicketFactory(
        customer=customer, kind=TicketKind.INQUIRY, external_id=f"T-{token[:6]}", assignee=agent
    )
    task = TaskFactory(customer=customer, idempotency_key=f"e2e-survey:{token}")
    now = timezone.now()
    return SurveyAsk.objects.create(
        token=token,
        task=task,
        customer=customer,
        ticket=ticket,
        agent=agent,
        sent_at=now,
        expires_at=now + dt.timedelta(days=3),
    )


@pytest.mark.parametrize(
    ("language", "question", "thanks", "answered"),
    [
        (Language.ZH_HANS, "您对我们的服务满意吗？", "谢谢！", "已答复"),
        (Language.EN, "How did we do?", "Thank you!", "Already answered"),
    ],
)
def test_a_customer_answers_the_survey_in_their_language(
    new_page: Callable[..., Any], language: str, question: str, thanks: str, answered: str
) -> None:
    token = f"e2e{language.replace('-', '')}survey0000000"[:22]
    ask = _ask(language, token)
    # The browser asks for the other language: the page follows the customer's.
    page = new_page(locale="en-US" if language == Language.ZH_HANS else "zh-CN")

    page.goto(f"/s/{token}")
    expect(page.get_by_role("heading", name=question)).to_be_visible()
    expect(page.locator("#survey")).to_contain_text(f"T-{token[:6]}")
    page.locator("input[name=score][value='4']").check()
    page.fill("textarea[name=comment]", "很快解决了" if language == Language.ZH_HANS else "Quick")
    shot(page, f"survey-{language}")
    page.locator("#survey button[type=submit]").click()

    expect(page.get_by_role("heading", name=thanks)).to_be_visible()
    survey = SurveyResponse.objects.get(customer=ask.customer)
    assert (survey.kind, survey.score, survey.ticket_id, survey.agent_id) == (
        SurveyKind.CSAT,
        4,
        ask.ticket_id,
        ask.agent_id,
    )

    page.goto(f"/s/{token}")
    expect(page.get_by_role("heading", name=answered)).to_be_visible()
    assert SurveyResponse.objects.filter(customer=ask.customer).count() == 1
