"""Page routes of the customer-profile domain."""

from django.urls import path

from callcenter import views
from callcenter.views import customers as customer_views
from callcenter.views import desk as desk_views
from callcenter.views import duplicates as duplicate_views
from callcenter.views.imports import import_csv_view, import_run_view

urlpatterns = [
    path("", views.home, name="home"),
    path("import/", import_csv_view, name="import-csv"),
    path("import/runs/<int:pk>/", import_run_view, name="import-run"),
    path("customers/", customer_views.customer_search_view, name="customer-search"),
    path("customers/<int:pk>/", customer_views.customer_detail_view, name="customer-detail"),
    path(
        "customers/<int:pk>/timeline/",
        customer_views.customer_timeline_view,
        name="customer-timeline",
    ),
    path(
        "customers/<int:pk>/reveal/",
        customer_views.customer_reveal_view,
        name="customer-reveal",
    ),
    path(
        "customers/<int:pk>/account/",
        customer_views.customer_account_view,
        name="customer-account",
    ),
    path("duplicates/", duplicate_views.merge_proposal_list_view, name="merge-proposals"),
    path(
        "duplicates/find/",
        duplicate_views.merge_proposals_find_view,
        name="merge-proposals-find",
    ),
    path(
        "duplicates/<int:pk>/merge/",
        duplicate_views.merge_proposal_merge_view,
        name="merge-proposal-merge",
    ),
    path(
        "duplicates/<int:pk>/dismiss/",
        duplicate_views.merge_proposal_dismiss_view,
        name="merge-proposal-dismiss",
    ),
    path("desk/", desk_views.desk_view, name="desk"),
    path("desk/events/", desk_views.desk_events_view, name="desk-events"),
    path("desk/card/", desk_views.desk_card_view, name="desk-card"),
    path(
        "desk/customers/",
        desk_views.desk_customer_create_view,
        name="desk-customer-create",
    ),
    path(
        "desk/customers/<int:pk>/log-call/",
        desk_views.desk_log_call_view,
        name="desk-log-call",
    ),
    path("desk/customers/<int:pk>/ticket/", desk_views.desk_ticket_view, name="desk-ticket"),
]
