"""Tasks sent by name (callcenter.jobs, the beat schedule) exist: a renamed task fails here."""

import ast
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from celery.exceptions import NotRegistered
from django.db import transaction

from callcenter.jobs import enqueue_on_commit, task_by_name
from callcenter.schedules import PERIODIC_TASKS

ROOT = Path(__file__).resolve().parent.parent
APPS = ("callcenter", "segments", "care", "outreach", "service")
BY_NAME = {"enqueue_on_commit", "task_by_name"}


def _called_name(call: ast.Call) -> str | None:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _names_sent_by_services() -> dict[str, str]:
    """Each task name passed to the enqueue helpers in the apps' code, with where it is."""
    names: dict[str, str] = {}
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if path.name == "jobs.py" and path.parent.name == "callcenter":
                continue
            tree = ast.parse(path.read_text(), filename=str(path))
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call) or _called_name(node) not in BY_NAME:
                    continue
                where = f"{path.relative_to(ROOT)}:{node.lineno}"
                first = node.args[0] if node.args else None
                literal = first.value if isinstance(first, ast.Constant) else None
                assert isinstance(literal, str), (
                    f"{where}: name the task with a string literal, so this test can check it"
                )
                names[literal] = where
    return names


def test_every_task_a_service_enqueues_by_name_is_registered() -> None:
    names = _names_sent_by_services()

    assert {
        "callcenter.tasks.import_run_execute_task",
        "care.tasks.event_process_task",
        "segments.tasks.churn_model_train_task",
        "segments.tasks.value_model_train_task",
        "outreach.tasks.dispatch_due_task",
    } <= set(names)
    for name, where in names.items():
        assert task_by_name(name).name == name, where


def test_every_periodic_task_is_registered() -> None:
    for job in PERIODIC_TASKS:
        assert task_by_name(job.task).name == job.task


@pytest.mark.django_db
def test_an_unknown_task_name_fails_in_the_caller_not_after_commit(
    django_capture_on_commit_callbacks: Any,
) -> None:
    with (
        django_capture_on_commit_callbacks() as callbacks,
        pytest.raises(NotRegistered),
        transaction.atomic(),
    ):
        enqueue_on_commit("care.tasks.no_such_task", [1])

    assert callbacks == []


@pytest.mark.django_db
def test_a_task_enqueued_by_name_is_sent_after_commit_with_its_arguments(
    monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    sent: list[tuple[Any, ...]] = []
    task = task_by_name("care.tasks.event_process_task")
    monkeypatch.setattr(task, "delay", lambda *args, **kwargs: sent.append((args, kwargs)))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        enqueue_on_commit("care.tasks.event_process_task", [1, 2])
        assert sent == []
    for callback in callbacks:
        callback()

    assert sent == [(([1, 2],), {})]


def _fresh_process(code: str) -> str:
    """Run `code` in a new interpreter (this one has discovered every task long ago) with
    Django set up as here; returns what it printed."""
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()\n" + code],
        cwd=ROOT,
        env=os.environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stdout.strip().splitlines()[-1]


def test_threads_of_a_fresh_process_find_a_task_by_name_at_the_same_moment() -> None:
    """A fresh web process under load: several requests enqueue at once, and the tasks modules
    are not imported yet. Celery's discovery returned nothing to all but the first of them."""
    printed = _fresh_process(
        textwrap.dedent(
            """
            import threading
            from callcenter.jobs import task_by_name

            barrier = threading.Barrier(16)
            found = []

            def enqueue():
                barrier.wait()
                found.append(task_by_name("care.tasks.event_process_task").name)

            threads = [threading.Thread(target=enqueue) for _ in range(16)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            print(len(found))
            """
        )
    )

    assert printed == "16"


def test_the_web_process_imports_the_tasks_modules_before_its_first_request() -> None:
    printed = _fresh_process(
        "import callcenter.wsgi\n"
        "from callcenter.celery import app\n"
        "print('care.tasks.event_process_task' in app.tasks)"
    )

    assert printed == "True"
