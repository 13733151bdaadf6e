"""The Celery application: settings from CELERY_* Django settings, tasks autodiscovered."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "callcenter.settings.dev")

app = Celery("callcenter")
app.config_from_object("django.conf:settings", namespace="CELERY")

# Named queues in one place; routing by task module keeps heavy refreshes off the
# latency-sensitive outreach queue.
app.conf.task_routes = {
    "segments.tasks.*": {"queue": "segments"},
    "outreach.tasks.*": {"queue": "outreach"},
}
app.autodiscover_tasks()
