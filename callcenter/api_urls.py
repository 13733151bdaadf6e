"""API routes of the customer-profile domain."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from callcenter.apis.calendar import CalendarDayDetailApi, CalendarDayListApi
from callcenter.apis.cti import CtiCallEventApi
from callcenter.apis.customers import (
    CustomerViewSet,
    InteractionViewSet,
    OrderViewSet,
    SurveyViewSet,
    TicketViewSet,
)
from callcenter.apis.identity import CustomerMergeApi, MergeProposalViewSet
from callcenter.apis.imports import ImportRunDetailApi, ImportRunListCreateApi
from callcenter.apis.screenpop import ScreenpopApi
from callcenter.apis.tokens import ApiTokenDetailApi, ApiTokenListApi

router = DefaultRouter()
router.register("customers", CustomerViewSet, basename="api-customer")
router.register("orders", OrderViewSet, basename="api-order")
router.register("interactions", InteractionViewSet, basename="api-interaction")
router.register("tickets", TicketViewSet, basename="api-ticket")
router.register("surveys", SurveyViewSet, basename="api-survey")
router.register("merge-proposals", MergeProposalViewSet, basename="api-merge-proposal")

urlpatterns = [
    path("screenpop/", ScreenpopApi.as_view(), name="api-screenpop"),
    path("cti/call-events/", CtiCallEventApi.as_view(), name="api-cti-call-events"),
    path("imports/", ImportRunListCreateApi.as_view(), name="api-import-list"),
    path("imports/<int:pk>/", ImportRunDetailApi.as_view(), name="api-import-detail"),
    path("customers/<int:pk>/merge/", CustomerMergeApi.as_view(), name="api-customer-merge"),
    path("calendar-days/", CalendarDayListApi.as_view(), name="api-calendar-days"),
    path("calendar-days/<int:pk>/", CalendarDayDetailApi.as_view(), name="api-calendar-day"),
    path("tokens/", ApiTokenListApi.as_view(), name="api-tokens"),
    path("tokens/<int:pk>/", ApiTokenDetailApi.as_view(), name="api-token"),
    path("", include(router.urls)),
]
