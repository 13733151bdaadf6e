"""The Celery application: settings from CELERY_* Django settings, tasks autodiscovered."""

import os

from celery import Celery

# The package imports this module first (callcenter/__init__.py), before callcenter.wsgi and
# callcenter.asgi set their own default: a process that names no settings module (gunicorn or
# a worker started by hand) must get production's, never DEBUG. manage.py, `make run` and the
# tests name theirs.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "callcenter.settings.production")

app = Celery("callcenter")
app.config_from_object("django.conf:settings", namespace="CELERY")

# Named queues in one place; routing by task module keeps heavy refreshes off the
# latency-sensitive outreach queue.
app.conf.task_routes = {
    "segments.tasks.*": {"queue": "segments"},
    "outreach.tasks.*": {"queue": "outreach"},
}
app.autodiscover_tasks()
