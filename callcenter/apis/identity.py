"""REST API of identity resolution: review merge proposals and merge customers.

Supervisors and admins only; agents get 403. Anonymous callers get 403 too (the session
authenticator comes first and sends no WWW-Authenticate challenge).

    GET  /api/merge-proposals/?status=open        proposals with both customers' summary
    POST /api/merge-proposals/{id}/merge/         {"survivor_id": ...}  (one of the pair)
    POST /api/merge-proposals/{id}/dismiss/
    POST /api/customers/{id}/merge/               {"merged_id": ...}    (this one survives)
"""

from typing import Any

import django_filters
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from callcenter.choices import MergeProposalStatus
from callcenter.http import AuthenticatedRequest
from callcenter.masking import contacts_visible_in_full
from callcenter.models import ContactPoint, Customer, CustomerMerge, MergeProposal
from callcenter.pagination import CheckedCursorPagination
from callcenter.roles import MANAGER_ROLES, HasRole
from callcenter.services.identity import (
    customer_merge,
    evidence_in_words,
    merge_proposal_accept,
    merge_proposal_dismiss,
)

# --- reads ---------------------------------------------------------------------------------


def merge_proposal_list(*, filters: dict[str, Any] | None = None) -> QuerySet[MergeProposal]:
    """Proposals with both customers and their active contact points, in three queries."""
    points = ContactPoint.objects.filter(is_active=True).order_by("kind", "-is_primary", "id")
    proposals = MergeProposal.objects.select_related(
        "customer_a", "customer_b", "decided_by"
    ).prefetch_related(
        Prefetch("customer_a__contact_points", queryset=points, to_attr="active_points"),
        Prefetch("customer_b__contact_points", queryset=points, to_attr="active_points"),
    )
    filterset = MergeProposalFilter(filters or {}, queryset=proposals)
    if not filterset.is_valid():
        raise ValidationError(filterset.errors)
    return filterset.qs


class MergeProposalFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=MergeProposalStatus.choices)
    customer = django_filters.NumberFilter(method="filter_customer", label=_("customer id"))

    class Meta:
        model = MergeProposal
        fields = ("status",)

    def filter_customer(
        self, queryset: QuerySet[MergeProposal], name: str, value: int
    ) -> QuerySet[MergeProposal]:
        return queryset.filter(customer_a_id=value) | queryset.filter(customer_b_id=value)


class ProposalPagination(CheckedCursorPagination):
    """Most likely duplicates first."""

    ordering = ("-score", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


# --- serializers ---------------------------------------------------------------------------


class ContactSummarySerializer(serializers.Serializer):
    kind = serializers.CharField()
    system = serializers.CharField()
    value = serializers.CharField()
    is_primary = serializers.BooleanField()


class CustomerSummarySerializer(serializers.ModelSerializer):
    contact_points = ContactSummarySerializer(many=True, source="active_points")

    class Meta:
        model = Customer
        fields = (
            "id",
            "external_id",
            "name",
            "kind",
            "status",
            "company_name",
            "birthday",
            "city",
            "created_at",
            "contact_points",
        )


class MergeProposalSerializer(serializers.ModelSerializer):
    customer_a = CustomerSummarySerializer()
    customer_b = CustomerSummarySerializer()
    decided_by: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )
    evidence = serializers.SerializerMethodField(
        help_text=_("The reasons in words, in the request's language, as the pages show them.")
    )

    def get_evidence(self, proposal: MergeProposal) -> list[str]:
        request = self.context.get("request")
        in_full = request is not None and contacts_visible_in_full(request.user)
        return evidence_in_words(proposal.reasons, in_full=in_full)

    class Meta:
        model = MergeProposal
        fields = (
            "id",
            "score",
            "reasons",
            "evidence",
            "status",
            "customer_a",
            "customer_b",
            "decided_by",
            "decided_at",
            "created_at",
            "updated_at",
        )


class DecisionSerializer(serializers.ModelSerializer):
    """A proposal after a decision (without the customers' details)."""

    decided_by: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )

    class Meta:
        model = MergeProposal
        fields = ("id", "customer_a", "customer_b", "score", "status", "decided_by", "decided_at")


class CustomerMergeSerializer(serializers.ModelSerializer):
    merged_by: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )

    class Meta:
        model = CustomerMerge
        fields = ("id", "survivor", "merged", "merged_by", "merged_at", "moved", "proposal")


class ProposalMergeInputSerializer(serializers.Serializer):
    survivor_id = serializers.IntegerField(help_text=_("The customer of the pair to keep."))


class CustomerMergeInputSerializer(serializers.Serializer):
    merged_id = serializers.IntegerField(
        help_text=_("The customer folded into this one; it becomes a merged tombstone.")
    )


# --- views ---------------------------------------------------------------------------------


class MergeProposalViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Review likely duplicates found by `find_duplicates`: merge them or dismiss them."""

    permission_classes = [HasRole]
    allowed_roles = MANAGER_ROLES
    serializer_class = MergeProposalSerializer
    pagination_class = ProposalPagination
    filter_backends = []

    def get_queryset(self) -> QuerySet[MergeProposal]:
        if self.action == "list":
            return merge_proposal_list(filters=self.request.query_params)
        return MergeProposal.objects.all()

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=MergeProposalStatus.values),
            OpenApiParameter("customer", int, description=_("Proposals involving this customer.")),
        ],
        responses=MergeProposalSerializer(many=True),
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(request=ProposalMergeInputSerializer, responses=CustomerMergeSerializer)
    @action(detail=True, methods=["post"])
    def merge(self, request: AuthenticatedRequest, pk: str | None = None) -> Response:
        proposal = self.get_object()
        data = ProposalMergeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        record = merge_proposal_accept(
            proposal=proposal, survivor_id=data.validated_data["survivor_id"], user=request.user
        )
        return Response(CustomerMergeSerializer(record).data, status=status.HTTP_200_OK)

    @extend_schema(request=None, responses=DecisionSerializer)
    @action(detail=True, methods=["post"])
    def dismiss(self, request: AuthenticatedRequest, pk: str | None = None) -> Response:
        proposal = merge_proposal_dismiss(proposal=self.get_object(), user=request.user)
        return Response(DecisionSerializer(proposal).data)


class CustomerMergeApi(APIView):
    """Fold another customer into this one (without a proposal)."""

    permission_classes = [HasRole]
    allowed_roles = MANAGER_ROLES

    @extend_schema(request=CustomerMergeInputSerializer, responses=CustomerMergeSerializer)
    def post(self, request: AuthenticatedRequest, pk: int) -> Response:
        survivor = get_object_or_404(Customer, pk=pk)
        data = CustomerMergeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        merged = get_object_or_404(Customer, pk=data.validated_data["merged_id"])
        record = customer_merge(survivor=survivor, merged=merged, merged_by=request.user)
        return Response(CustomerMergeSerializer(record).data)
