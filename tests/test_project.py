"""Project-wide checks: migrations in step with models, a clean OpenAPI schema, deploy checks."""

import datetime as dt
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core import checks
from django.core.management import call_command

from callcenter.checks import integration_secrets_distinct_check, webhook_throttle_rate_check

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.django_db
def test_models_and_migrations_are_in_step() -> None:
    call_command("makemigrations", "--check", "--dry-run", stdout=StringIO())


@pytest.mark.django_db
def test_openapi_schema_has_no_errors_or_warnings(tmp_path: Path) -> None:
    call_command(
        "spectacular",
        "--validate",
        "--fail-on-warn",
        "--file",
        str(tmp_path / "schema.yml"),
        stderr=StringIO(),
    )
    assert (tmp_path / "schema.yml").stat().st_size > 10_000


def test_production_settings_pass_the_deploy_check() -> None:
    # The browser tests' Playwright loop needs DJANGO_ALLOW_ASYNC_UNSAFE in the test process;
    # a deployment must not have it (async.E001).
    inherited = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DJANGO_ALLOW_ASYNC_UNSAFE", "OUTREACH_WEBHOOK_SECRET")
    }
    env = {
        **inherited,
        "DJANGO_SETTINGS_MODULE": "callcenter.settings.production",
        "SECRET_KEY": "a-long-random-production-secret-key-for-the-check-0123456789abcdef",
        "ALLOWED_HOSTS": "crm.example.com",
        "SMS_WEBHOOK_SECRETS": "webhook-secret-for-the-check",
        "TRACKED_LINK_BASE_URL": "https://crm.example.com",
    }
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("entry", ["callcenter.wsgi", "callcenter.asgi", "callcenter.celery"])
def test_a_server_that_names_no_settings_runs_production_settings(entry: str) -> None:
    # given gunicorn, uvicorn or a Celery worker started without DJANGO_SETTINGS_MODULE
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "DEBUG")}
    env |= {
        "SECRET_KEY": "a-long-random-production-secret-key-for-the-check-0123456789abcdef",
        "ALLOWED_HOSTS": "crm.example.com",
    }

    result = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import {entry}, django\n"
            "from django.conf import settings\n"
            "django.setup()\n"
            "print(settings.SETTINGS_MODULE, settings.DEBUG)",
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "callcenter.settings.production False"


def test_the_retired_shared_webhook_secret_stops_every_command_with_a_clear_message() -> None:
    # given a deployment that still sets the one secret all webhooks used to share
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "callcenter.settings.test",
        "OUTREACH_WEBHOOK_SECRET": "the-old-shared-secret",
    }

    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "check"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode != 0
    assert "callcenter.E101" in result.stderr
    assert "OUTREACH_WEBHOOK_SECRET is set but no longer read" in result.stderr
    assert (
        "SMS_WEBHOOK_SECRETS, VOICE_WEBHOOK_SECRETS, CTI_WEBHOOK_SECRETS, EVENTS_WEBHOOK_SECRETS"
        in result.stderr
    )


def test_one_secret_listed_for_two_integrations_is_a_deploy_warning(settings: Any) -> None:
    settings.SMS_WEBHOOK_SECRETS = ["sms-only", "shared"]
    settings.CTI_WEBHOOK_SECRETS = ["shared"]
    settings.EVENTS_WEBHOOK_SECRETS = ["events-only"]

    warnings = integration_secrets_distinct_check()

    assert [(w.id, w.msg) for w in warnings] == [
        (
            "callcenter.W101",
            "The same secret is listed in SMS_WEBHOOK_SECRETS, CTI_WEBHOOK_SECRETS.",
        )
    ]


@pytest.mark.parametrize("rate", ["many", "10/fortnight", ""])
def test_a_malformed_webhook_rate_fails_the_checks(settings: Any, rate: str) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"webhook": rate},
    }

    assert [e.id for e in webhook_throttle_rate_check()] == ["callcenter.E102"]


@pytest.mark.parametrize("clock", ["08:00:00", "09:00:00", "18:00:00", "21:00:00"])
def test_the_model_checks_pass_at_any_time_of_day(clock: str) -> None:
    # fields.W161 flags a fixed date or time default when the check runs within seconds of
    # it (UTC): the deploy check above failed in CI at 09:00 with the care hours' defaults.
    moment = dt.datetime.fromisoformat(f"2026-11-24T{clock}+00:00")
    with time_machine.travel(moment, tick=False):
        messages = checks.run_checks(tags=[checks.Tags.models])

    assert [str(message) for message in messages] == []


def test_template_comments_close_on_their_line() -> None:
    # Django's {# #} comment is one line only: one that runs on shows its text on the page.
    root = ROOT / "templates"
    open_comments = [
        f"{path.relative_to(root)}:{number}"
        for path in root.rglob("*.html")
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if "{#" in line and "#}" not in line.split("{#", 1)[1]
    ]
    assert open_comments == []
