"""Page routes of the customer-profile domain."""

from django.urls import path

from callcenter import views

urlpatterns = [
    path("", views.home, name="home"),
]
