"""The public satisfaction page (`/s/<token>`): a customer follows the link of a survey message
without logging in, picks a score 1-5 and may add a comment (outreach.services.surveys). The
page speaks the customer's language; an unknown token is a 404 page, a closed ask says so, and
answering again changes nothing. Requests are limited per client address, as tracked links are.
"""

import math

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone, translation
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from callcenter.choices import Language
from callcenter.errors import ApplicationError
from outreach.forms import SurveyAnswerForm
from outreach.models import SurveyAsk
from outreach.services.surveys import (
    AnswerOutcome,
    survey_ask_answer,
    survey_ask_by_token,
    survey_ask_open,
)
from outreach.views.links import TrackedLinkThrottle


class SurveyThrottle(TrackedLinkThrottle):
    """Survey page requests per client address, at the tracked links' rate (own counter)."""

    scope = "tracked_link"
    cache_format = "throttle_survey_%(ident)s"


def _language(ask: SurveyAsk | None) -> str:
    language = ask.customer.language if ask is not None else ""
    return language if language in Language.values else Language.ZH_HANS


def _page(
    request: HttpRequest,
    ask: SurveyAsk,
    *,
    state: str,
    form: SurveyAnswerForm | None = None,
    status: int = 200,
) -> HttpResponse:
    context = {
        "ask": ask,
        "state": state,
        "form": form or SurveyAnswerForm(),
        "scores": range(1, 6),
    }
    return render(request, "outreach/survey.html", context, status=status)


@never_cache
@require_http_methods(["GET", "POST"])
def survey_page_view(request: HttpRequest, token: str) -> HttpResponse:
    """The question (GET) and the answer (POST), in the customer's language."""
    throttle = SurveyThrottle()
    if not throttle.allow_request(request, None):  # type: ignore[arg-type]
        response = render(request, "outreach/link_unavailable.html", {"busy": True}, status=429)
        response["Retry-After"] = str(math.ceil(throttle.wait() or 1))
        return response
    ask = survey_ask_by_token(token)
    with translation.override(_language(ask)):
        if ask is None or ask.sent_at is None:
            return render(request, "outreach/link_unavailable.html", {"busy": False}, status=404)
        now = timezone.now()
        if ask.answered_at is not None:
            return _page(request, ask, state=AnswerOutcome.ALREADY_ANSWERED)
        if not survey_ask_open(ask, now=now):
            return _page(request, ask, state=AnswerOutcome.EXPIRED)
        if request.method != "POST":
            return _page(request, ask, state="open")
        form = SurveyAnswerForm(request.POST)
        if not form.is_valid():
            return _page(request, ask, state="open", form=form, status=400)
        try:
            outcome = survey_ask_answer(
                ask_id=ask.pk,
                score=form.cleaned_data["score"],
                comment=form.cleaned_data["comment"],
                now=now,
            )
        except ApplicationError as exc:
            form.add_error(None, exc.message)
            return _page(request, ask, state="open", form=form, status=400)
        return _page(request, ask, state=outcome)
