"""WSGI entry point for gunicorn.

Django imports the URL configuration (and through it every view module, pandas and
scikit-learn) and the translation catalogs lazily, on a process's first request, and the
Celery tasks modules on the first request that enqueues a task (callcenter.jobs). Under gunicorn
that request would be in a freshly forked worker, after every `max_requests` recycle too, and
the worker's queued requests would wait for it. Here it happens once, at import, which
gunicorn's `preload_app` does in the arbiter before forking, so workers start warm and share
those pages.

The objects alive at that point live as long as the process, so they are moved out of the
garbage collector's reach (`gc.freeze`, as Python's documentation advises before forking): a
full collection would otherwise walk them all in every worker, in the middle of a request, and
write to their pages, which undoes the sharing. See docs/performance.md.
"""

import gc
import os

from django.conf import settings
from django.conf.urls.i18n import is_language_prefix_patterns_used
from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver
from django.utils import translation

from callcenter.celery import app as celery_app

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "callcenter.settings.production")

application = get_wsgi_application()


def _load_what_requests_load_lazily() -> None:
    resolver = get_resolver()
    for language, _name in settings.LANGUAGES:
        with translation.override(language):
            resolver.reverse_dict  # noqa: B018 - builds the reverse lookup of this language
    is_language_prefix_patterns_used(settings.ROOT_URLCONF)
    celery_app.autodiscover_tasks(force=True)


_load_what_requests_load_lazily()
gc.freeze()
