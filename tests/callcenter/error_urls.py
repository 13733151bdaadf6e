"""The project's URLs plus views that fail or refuse, on a page and in the API, for the error
pages' tests."""

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import path

from callcenter.urls import handler403, handler404, handler500
from callcenter.urls import urlpatterns as project_urls


def fail(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a failure the 500 page hides")


def refuse(request: HttpRequest) -> HttpResponse:
    raise PermissionDenied


urlpatterns = [
    path("fail/", fail),
    path("api/fail/", fail),
    path("api/refuse/", refuse),
    *project_urls,
]

__all__ = ("handler403", "handler404", "handler500", "urlpatterns")
