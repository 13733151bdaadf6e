"""Project-wide checks: migrations in step with models, a clean OpenAPI schema, deploy checks."""

import datetime as dt
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
import time_machine
from django.core import checks
from django.core.management import call_command

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
    inherited = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env = {
        **inherited,
        "DJANGO_SETTINGS_MODULE": "callcenter.settings.production",
        "SECRET_KEY": "a-long-random-production-secret-key-for-the-check-0123456789abcdef",
        "ALLOWED_HOSTS": "crm.example.com",
        "OUTREACH_WEBHOOK_SECRET": "webhook-secret-for-the-check",
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


@pytest.mark.parametrize("clock", ["08:00:00", "09:00:00", "18:00:00", "21:00:00"])
def test_the_model_checks_pass_at_any_time_of_day(clock: str) -> None:
    # fields.W161 flags a fixed date or time default when the check runs within seconds of
    # it (UTC): the deploy check above failed in CI at 09:00 with the care hours' defaults.
    moment = dt.datetime.fromisoformat(f"2026-11-24T{clock}+00:00")
    with time_machine.travel(moment, tick=False):
        messages = checks.run_checks(tags=[checks.Tags.models])

    assert [str(message) for message in messages] == []
