"""Enqueue Celery tasks by name, so that services never import a tasks module.

A task is a thin wrapper that imports and calls a service; a service that starts background work
names the task instead of importing it, which keeps the dependency one way (tasks -> services).
The name is resolved when the service runs, inside its transaction: a misspelt or renamed task
fails there, loudly, instead of after the commit where a robust callback only logs the error.
tests/test_task_names.py checks every name passed here against the registry.
"""

import threading
from typing import Any

from celery import Task
from django.db import transaction

from callcenter.celery import app

# One thread discovers at a time: Celery guards its discovery against re-entry with a global
# flag, so a second thread's discovery, while the first imports the tasks modules, returns at
# once with nothing imported, and its caller's task is not registered (a fresh web process
# under load: every request enqueueing at the same moment but one failed with a 500).
_discovery = threading.Lock()


def task_by_name(name: str) -> Task:
    """The registered task called `name` (`<app>.tasks.<function>`); NotRegistered, a KeyError,
    when there is none. A process that has not imported every app's tasks module (the web
    process imports them at start, callcenter.wsgi) first runs the autodiscovery a worker runs
    at start-up."""
    if name not in app.tasks:
        with _discovery:
            if name not in app.tasks:
                app.autodiscover_tasks(force=True)
    return app.tasks[name]


def enqueue_on_commit(name: str, *args: Any, **kwargs: Any) -> None:
    """Send task `name` with these arguments once the current transaction commits, as its own
    `.delay()` would (the queue routes of callcenter/celery.py, eager mode in tests). A broker
    error then is logged, not raised (robust): the caller's rows are committed, and each caller
    has a sweep or a retry that picks them up."""
    task = task_by_name(name)
    transaction.on_commit(lambda: task.delay(*args, **kwargs), robust=True)
