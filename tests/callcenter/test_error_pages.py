"""403, 404 and 500 pages: in the product's layout (500 standalone, without the database or the
request), in English and Chinese, with a way back; a refusal logs one line. The API answers
the same errors as JSON, and a 500 page that cannot render still answers and keeps the
original failure in the log."""

import logging
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client, RequestFactory, override_settings
from django.urls import reverse
from django.utils import translation

from callcenter.choices import Role
from callcenter.models import MergeProposal
from callcenter.views.errors import server_error
from tests.callcenter.factories import UserFactory

pytestmark = pytest.mark.django_db

REFUSED = reverse("merge-proposals")  # supervisors and admins only
MISSING = reverse("customer-detail", args=[10**9])


def _client(role: str, **defaults: str) -> Client:
    client = Client(**defaults)
    client.force_login(UserFactory(role=role, username=f"err_{role}"))
    return client


def test_refusal_is_a_page_in_the_layout_with_a_way_back() -> None:
    client = _client(Role.AGENT)

    response = client.get(REFUSED, HTTP_REFERER="http://testserver/customers/")

    html = response.content.decode()
    assert response.status_code == 403
    assert 'data-testid="error-403"' in html
    assert "Your role does not allow this page" in html
    assert 'class="sidebar"' in html
    assert reverse("desk") in html
    assert 'href="http://testserver/customers/"' in html
    assert f'href="{reverse("home")}"' in html


def test_back_link_never_leads_off_the_site() -> None:
    response = _client(Role.AGENT).get(REFUSED, HTTP_REFERER="https://evil.example/phish")

    html = response.content.decode()
    assert "evil.example" not in html
    assert 'data-testid="error-back"' not in html


def test_not_found_page_in_english_and_chinese() -> None:
    english = _client(Role.AGENT).get(MISSING)
    chinese = _client(Role.SUPERVISOR).get(MISSING, HTTP_ACCEPT_LANGUAGE="zh-hans")

    assert (english.status_code, chinese.status_code) == (404, 404)
    assert "Page not found" in english.content.decode()
    html = chinese.content.decode()
    assert "页面不存在" in html
    assert "返回首页" in html
    assert 'lang="zh-CN"' in html


def test_refusal_in_chinese_by_the_language_cookie() -> None:
    client = _client(Role.AGENT)
    client.cookies["django_language"] = "zh-hans"

    html = client.get(REFUSED).content.decode()

    assert "您的角色无权打开此页面" in html


def test_anonymous_visitors_get_the_not_found_page_too() -> None:
    response = Client().get("/no-such-page/")

    assert response.status_code == 404
    assert 'data-testid="error-404"' in response.content.decode()


@pytest.mark.urls("tests.callcenter.error_urls")
def test_server_error_page_in_both_languages() -> None:
    client = Client(raise_request_exception=False)

    english = client.get("/fail/")
    chinese = client.get("/fail/", HTTP_ACCEPT_LANGUAGE="zh-hans")

    assert (english.status_code, chinese.status_code) == (500, 500)
    assert "Something went wrong" in english.content.decode()
    assert "a failure the 500 page hides" not in english.content.decode()
    assert "出错了" in chinese.content.decode()
    assert 'href="/"' in chinese.content.decode()


def test_server_error_page_needs_no_database(
    django_assert_num_queries: Callable[..., Any],
) -> None:
    request = RequestFactory().get("/anything/")

    with translation.override("zh-hans"), django_assert_num_queries(0):
        response = server_error(request)

    assert response.status_code == 500
    assert "出错了" in response.content.decode()


def test_a_refusal_logs_one_line_without_a_traceback(caplog: pytest.LogCaptureFixture) -> None:
    client = _client(Role.AGENT)

    with caplog.at_level(logging.INFO, logger="django"):
        client.get(REFUSED)

    records = [r for r in caplog.records if r.name.startswith("django")]
    assert [r.getMessage() for r in records] == [f"Forbidden (Permission denied): {REFUSED}"]
    assert records[0].exc_info is None
    assert "Traceback" not in caplog.text
    assert "\n" not in logging.Formatter().format(records[0])


@pytest.mark.urls("tests.callcenter.error_urls")
def test_a_server_error_keeps_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="django"):
        Client(raise_request_exception=False).get("/fail/")

    records = [r for r in caplog.records if r.name == "django.request"]
    assert len(records) == 1
    assert records[0].exc_info is not None


@pytest.mark.parametrize(
    ("language", "expected"), [("en", "This form has expired"), ("zh-hans", "此表单已过期")]
)
def test_a_failed_csrf_check_is_the_products_page_and_changes_nothing(
    language: str, expected: str
) -> None:
    client = Client(enforce_csrf_checks=True)
    user = UserFactory(role=Role.SUPERVISOR, username=f"err_csrf_{language}")
    client.force_login(user)
    client.cookies["django_language"] = language

    response = client.post(reverse("merge-proposals-find"))

    html = response.content.decode()
    assert response.status_code == 403
    assert 'data-testid="error-403-csrf"' in html
    assert expected in html
    assert 'class="sidebar"' in html
    assert not MergeProposal.objects.exists()


@pytest.mark.urls("tests.callcenter.error_urls")
@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "The server could not finish this request"),
        ("zh-hans", "服务器未能完成此请求"),
    ],
)
def test_an_api_server_error_answers_json(language: str, expected: str) -> None:
    response = Client(raise_request_exception=False).get(
        "/api/fail/", HTTP_ACCEPT_LANGUAGE=language
    )

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert expected in response.json()["detail"]
    assert "a failure the 500 page hides" not in response.content.decode()


@pytest.mark.parametrize(("language", "expected"), [("en", "Not found."), ("zh-hans", "未找到。")])
def test_an_unknown_api_address_answers_json(language: str, expected: str) -> None:
    response = _client(Role.AGENT).get("/api/no-such-resource/", HTTP_ACCEPT_LANGUAGE=language)

    assert response.status_code == 404
    assert response.json() == {"detail": expected}


@pytest.mark.urls("tests.callcenter.error_urls")
def test_a_refusal_outside_drf_answers_json_in_the_api() -> None:
    response = _client(Role.AGENT).get("/api/refuse/")

    assert response.status_code == 403
    assert response.json() == {"detail": "You do not have permission to perform this action."}


def test_the_api_docs_address_stays_a_page() -> None:
    response = _client(Role.AGENT).get("/api/docs/no-such-page/")

    assert response.status_code == 404
    assert 'data-testid="error-404"' in response.content.decode()


@pytest.mark.urls("tests.callcenter.error_urls")
def test_a_500_page_that_cannot_render_still_answers_and_keeps_the_failure_logged(
    tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # Production's manifest storage with no manifest: what a server without collectstatic
    # (or with a stale manifest) does when the 500 page asks for its stylesheet.
    manifest_storage = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
    }
    with (
        override_settings(STORAGES=manifest_storage, STATIC_ROOT=tmp_path),
        caplog.at_level(logging.INFO, logger="django"),
        caplog.at_level(logging.ERROR, logger="callcenter"),
    ):
        response = Client(raise_request_exception=False).get(
            "/fail/", HTTP_ACCEPT_LANGUAGE="zh-hans"
        )

    assert response.status_code == 500
    assert "出错了" in response.content.decode()
    assert "a failure the 500 page hides" not in response.content.decode()
    failures = [r for r in caplog.records if r.name == "django.request"]
    assert len(failures) == 1
    assert failures[0].exc_info is not None
    assert "a failure the 500 page hides" in str(failures[0].exc_info[1])
    render = [r for r in caplog.records if r.name == "callcenter.views.errors"]
    assert len(render) == 1
    assert "css/app.css" in str(render[0].exc_info[1])
