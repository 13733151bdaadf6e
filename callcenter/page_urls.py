"""Page routes of the customer-profile domain."""

from django.urls import path

from callcenter import views
from callcenter.views import customers as customer_views
from callcenter.views.imports import import_csv_view

urlpatterns = [
    path("", views.home, name="home"),
    path("import/", import_csv_view, name="import-csv"),
    path("customers/", customer_views.customer_search_view, name="customer-search"),
    path("customers/<int:pk>/", customer_views.customer_detail_view, name="customer-detail"),
    path(
        "customers/<int:pk>/timeline/",
        customer_views.customer_timeline_view,
        name="customer-timeline",
    ),
]
