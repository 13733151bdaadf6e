"""WSGI entry point for gunicorn.

Django imports the URL configuration, and through it every view module and what those import
(pandas, scikit-learn for the segment services), on the first request a process serves, and
loads the translation catalogs on the first request in each language. Under gunicorn that
first request is in a freshly forked worker, after every `max_requests` recycle too: seconds of
CPU during which the worker's queued requests wait. Here it happens once, at import, which
gunicorn's `preload_app` does in the arbiter before forking, so workers start warm and share
those pages.

The objects alive at that point are then moved out of the garbage collector's reach
(`gc.freeze`, as Python's documentation advises before forking): they live as long as the
process, and a full collection would otherwise walk all of them (about 250,000) in every
worker, in the middle of a request, and write to their pages, which undoes the sharing.
"""

import gc
import os

from django.conf import settings
from django.conf.urls.i18n import is_language_prefix_patterns_used
from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver
from django.utils import translation

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "callcenter.settings.production")

application = get_wsgi_application()


def _load_what_requests_load_lazily() -> None:
    resolver = get_resolver()
    for language, _name in settings.LANGUAGES:
        with translation.override(language):
            resolver.reverse_dict  # noqa: B018 - builds the reverse lookup of this language
    is_language_prefix_patterns_used(settings.ROOT_URLCONF)


_load_what_requests_load_lazily()
gc.freeze()
