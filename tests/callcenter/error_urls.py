"""The project's URLs plus one view that fails, for the 500 page's tests."""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from callcenter.urls import handler403, handler404, handler500
from callcenter.urls import urlpatterns as project_urls


def fail(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a failure the 500 page hides")


urlpatterns = [path("fail/", fail), *project_urls]

__all__ = ("handler403", "handler404", "handler500", "urlpatterns")
