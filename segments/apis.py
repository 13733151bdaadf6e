"""REST API of the segmentation engine."""

import datetime as dt

from django.db import transaction
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from callcenter.http import AuthenticatedRequest
from callcenter.models import Customer
from callcenter.pagination import CheckedCursorPagination
from callcenter.roles import IsAgent, IsSupervisor
from segments.choices import PriorityField, age_band
from segments.models import (
    ChurnModel,
    ClusterProfile,
    CustomerBehaviour,
    CustomerMetrics,
    CustomerReach,
    RefreshRun,
    Segment,
    SegmentMembership,
    SegmentSnapshot,
    ValueModel,
    age_at,
    days_since,
    overdue_ratio,
)
from segments.rules import rule_fields_catalog, rule_preview
from segments.selectors import (
    MemberRow,
    MetricsRow,
    churn_model_status,
    cluster_profiles_latest,
    customer_behaviour,
    customer_metrics,
    customer_reach,
    customer_segments,
    members_explain,
    memberships_explain,
    metrics_as_of,
    refresh_runs,
    segment_list,
    segment_members,
    segment_snapshots,
    value_model_current,
    value_model_fits,
)
from segments.services.export import metrics_export_audit, metrics_export_chunks
from segments.services.refresh_runs import refresh_progress, segment_refresh_request
from segments.services.segment_compute import (
    segment_compute_pending,
    segment_members_request,
    segments_compute_pending,
)
from segments.services.segments import segment_create, segment_delete, segment_update
from segments.tasks import churn_model_train_task, segment_refresh_task


class SnapshotSerializer(serializers.ModelSerializer):
    class Meta:
        model = SegmentSnapshot
        fields = ["taken_at", "size", "entered", "exited"]


class SegmentSerializer(serializers.ModelSerializer):
    trend = serializers.SerializerMethodField()
    computing = serializers.SerializerMethodField(
        help_text="True while a worker computes the members of a rule segment just saved "
        "(`size` is then the previous count)."
    )

    class Meta:
        model = Segment
        fields = [
            "id", "name", "slug", "kind", "key", "description", "rule", "capacity",
            "priority_field", "priority_descending", "is_active", "size", "last_refreshed_at",
            "created_at", "updated_at", "trend", "computing",
        ]  # fmt: skip

    def get_computing(self, segment: Segment) -> bool:
        pending = self.context.get("pending")
        if pending is not None:
            return segment.pk in pending
        return segment_compute_pending(segment=segment)

    def get_trend(self, segment: Segment) -> list[int]:
        """Sizes at the latest refreshes, oldest first (uses the prefetched snapshots)."""
        return [s.size for s in list(segment.snapshots.all())[:30]][::-1]


class SegmentWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    rule = serializers.JSONField(required=False)
    capacity = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    priority_field = serializers.ChoiceField(choices=PriorityField.choices, required=False)
    priority_descending = serializers.BooleanField(required=False)
    is_active = serializers.BooleanField(required=False)


class PreviewSerializer(serializers.Serializer):
    rule = serializers.JSONField()
    sample_size = serializers.IntegerField(required=False, min_value=1, max_value=100, default=20)


def _as_of_text(as_of: dt.datetime | None) -> str | None:
    """The API's text for the moment metrics describe (as its other timestamps)."""
    return None if as_of is None else serializers.DateTimeField().to_representation(as_of)


class BehaviourSerializer(serializers.ModelSerializer):
    """A customer's buying habits and service history (`customer_behaviour`), with the profile
    facts segments use and the values derived against the metrics' as-of (context `as_of`,
    `last_order_at`)."""

    gender = serializers.CharField(source="customer.gender", help_text="Blank when not given.")
    age = serializers.SerializerMethodField(help_text="Whole years from the birthday to as_of.")
    age_band = serializers.SerializerMethodField(help_text="The age's band (AgeBand).")
    overdue_ratio = serializers.SerializerMethodField(
        help_text="Whole days since the last paid order to as_of over median_gap_days."
    )

    class Meta:
        model = CustomerBehaviour
        exclude = ["customer"]

    def get_age(self, row: CustomerBehaviour) -> int | None:
        return age_at(row.customer.birthday, as_of=self.context["as_of"])

    def get_age_band(self, row: CustomerBehaviour) -> str | None:
        age = self.get_age(row)
        return None if age is None else str(age_band(age))

    def get_overdue_ratio(self, row: CustomerBehaviour) -> float | None:
        return overdue_ratio(
            self.context["last_order_at"], row.median_gap_days, as_of=self.context["as_of"]
        )


class ReachSerializer(serializers.ModelSerializer):
    """A customer's reachability and receptiveness over 180 days (segments.CustomerReach,
    filled by outreach); shares 0 to 1, null without anything counted."""

    class Meta:
        model = CustomerReach
        exclude = ["customer"]


class MetricsSerializer(serializers.ModelSerializer):
    """A metrics row read through `customer_metrics` (which adds `metrics_as_of`)."""

    as_of = serializers.SerializerMethodField(
        help_text="The moment these metrics and scores describe: the as-of of the refresh that "
        "computed them (null before the first refresh)."
    )
    recency_days = serializers.SerializerMethodField(
        help_text="Whole days from the last paid order to as_of (what the R score ranks)."
    )
    days_since_contact = serializers.SerializerMethodField(
        help_text="Whole days from the last contact to as_of."
    )
    behaviour = serializers.SerializerMethodField(
        help_text="Buying habits and service history as of as_of (null before a refresh "
        "reached the customer)."
    )

    reach = serializers.SerializerMethodField(
        help_text="Reachability and receptiveness over the last 180 days (null when nothing "
        "was counted for the customer)."
    )

    class Meta:
        model = CustomerMetrics
        # The moments of change by the clock are the refresh's own bookkeeping.
        exclude = ["customer", "orders_edge_at", "contacts_edge_at"]

    @extend_schema_field(ReachSerializer(allow_null=True))
    def get_reach(self, metrics: MetricsRow) -> dict | None:
        row = customer_reach(customer_id=metrics.customer_id)
        return None if row is None else ReachSerializer(row).data

    @extend_schema_field(BehaviourSerializer(allow_null=True))
    def get_behaviour(self, metrics: MetricsRow) -> dict | None:
        row = customer_behaviour(customer_id=metrics.customer_id)
        if row is None:
            return None
        context = {"as_of": metrics.metrics_as_of, "last_order_at": metrics.last_order_at}
        return BehaviourSerializer(row, context=context).data

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get_as_of(self, metrics: MetricsRow) -> str | None:
        return _as_of_text(metrics.metrics_as_of)

    def get_recency_days(self, metrics: MetricsRow) -> int | None:
        return days_since(metrics.last_order_at, as_of=metrics.metrics_as_of)

    def get_days_since_contact(self, metrics: MetricsRow) -> int | None:
        return days_since(metrics.last_contact_at, as_of=metrics.metrics_as_of)


class WhyPartSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="The rule field tested (empty for a negated group).")
    field_label = serializers.CharField(help_text="The field's label, in the request's language.")
    cmp = serializers.CharField()
    value = serializers.JSONField(help_text="The customer's own value.")
    limit = serializers.JSONField(help_text="The rule's value.")
    text = serializers.CharField()


class WhySerializer(serializers.Serializer):
    text = serializers.CharField(help_text="The reasons in words, in the request's language.")
    parts = WhyPartSerializer(many=True)


def _why(membership: SegmentMembership) -> dict | None:
    why = getattr(membership, "why", None)
    return None if why is None else why.as_data()


class MemberSerializer(serializers.ModelSerializer):
    customer_id = serializers.IntegerField(source="customer.id")
    external_id = serializers.CharField(source="customer.external_id")
    name = serializers.CharField(source="customer.name")
    city = serializers.CharField(source="customer.city")
    metrics = serializers.SerializerMethodField()
    why = serializers.SerializerMethodField()

    class Meta:
        model = SegmentMembership
        fields = [
            "id",
            "customer_id",
            "external_id",
            "name",
            "city",
            "entered_at",
            "reason",
            "why",
            "metrics",
        ]

    @extend_schema_field(WhySerializer(allow_null=True))
    def get_why(self, membership: SegmentMembership) -> dict | None:
        """Why the customer is in, with their own values, in words (see `reason` for the text
        recorded at entry)."""
        return _why(membership)

    def get_metrics(self, membership: MemberRow) -> dict | None:
        """Scores and metrics as of the refresh that computed them (`as_of`), read through
        `segment_members` (which adds `metrics_as_of`)."""
        metrics = getattr(membership.customer, "metrics", None)
        if metrics is None:
            return None
        as_of = membership.metrics_as_of
        return {
            "as_of": _as_of_text(as_of),
            "rfm_code": metrics.rfm_code,
            "rfm_segment": metrics.rfm_segment,
            "lifecycle_stage": metrics.lifecycle_stage,
            "value_tier": metrics.value_tier,
            "monetary": str(metrics.monetary),
            "frequency": metrics.frequency,
            "recency_days": days_since(metrics.last_order_at, as_of=as_of),
            "churn_probability": metrics.churn_probability,
            "p_alive": metrics.p_alive,
            "predicted_value_365d": None
            if metrics.predicted_value_365d is None
            else str(metrics.predicted_value_365d),
            "value_potential": metrics.value_potential,
        }


class MembershipSerializer(serializers.ModelSerializer):
    segment = serializers.CharField(source="segment.name")
    slug = serializers.CharField(source="segment.slug")
    kind = serializers.CharField(source="segment.kind")
    why = serializers.SerializerMethodField()

    class Meta:
        model = SegmentMembership
        fields = [
            "segment_id", "segment", "slug", "kind", "entered_at", "exited_at", "reason", "why",
        ]  # fmt: skip

    @extend_schema_field(WhySerializer(allow_null=True))
    def get_why(self, membership: SegmentMembership) -> dict | None:
        """Of a current membership: why the customer is in, with their own values, in words."""
        return _why(membership)


class RunSerializer(serializers.ModelSerializer):
    progress = serializers.SerializerMethodField()
    requested_by = serializers.CharField(source="requested_by.username", default=None)

    class Meta:
        model = RefreshRun
        fields = [
            "id",
            "status",
            "as_of",
            "window_days",
            "trigger",
            "requested_by",
            "started_at",
            "finished_at",
            "phase",
            "percent",
            "progress",
            "timings",
            "counts",
            "error",
        ]

    def get_progress(self, run: RefreshRun) -> dict:
        return dict(refresh_progress(run=run))


class RefreshRequestSerializer(serializers.Serializer):
    as_of = serializers.DateTimeField(required=False)
    window_days = serializers.IntegerField(required=False, min_value=1, max_value=3650)


class ClusterSerializer(serializers.ModelSerializer):
    class Meta:
        model = ClusterProfile
        exclude = ["id", "center", "scaling"]


class ChurnModelSerializer(serializers.ModelSerializer):
    class Meta:
        model = ChurnModel
        exclude = ["model_blob"]


class ValueModelSerializer(serializers.ModelSerializer):
    """One fit of the value model: sample, parameters (r, alpha, a, b of BG/NBD with time in
    days; p, q, gamma of Gamma-Gamma), log-likelihoods and the hold-out check."""

    class Meta:
        model = ValueModel
        fields = [
            "id", "version", "status", "is_current", "trained_at", "as_of", "cutoff",
            "sample_customers", "repeat_customers", "params", "log_likelihood", "holdout",
            "holdout_error", "message",
        ]  # fmt: skip


class MemberPagination(CheckedCursorPagination):
    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class RunPagination(CheckedCursorPagination):
    ordering = "-id"
    page_size = 20


class ValueModelPagination(CheckedCursorPagination):
    ordering = "-version"
    page_size = 20


class SegmentListApi(APIView):
    """List segments (any role) or create a rule segment (supervisors, admins)."""

    def get_permissions(self) -> list:
        return [IsSupervisor()] if self.request.method == "POST" else [IsAgent()]

    @extend_schema(responses=SegmentSerializer(many=True))
    def get(self, request: AuthenticatedRequest) -> Response:
        segments = list(segment_list())
        pending = segments_compute_pending(segments=segments)
        return Response(SegmentSerializer(segments, many=True, context={"pending": pending}).data)

    @extend_schema(request=SegmentWriteSerializer, responses={201: SegmentSerializer})
    def post(self, request: AuthenticatedRequest) -> Response:
        payload = SegmentWriteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        if "name" not in data or "rule" not in data:
            raise serializers.ValidationError({"detail": "name and rule are required"})
        data.pop("is_active", None)
        segment = segment_create(created_by=request.user, **data)
        segment_members_request(segment=segment)
        return Response(SegmentSerializer(segment).data, status=status.HTTP_201_CREATED)


# Changing any of these changes a rule segment's members, computed again at once.
MEMBERSHIP_FIELDS = frozenset(
    {"rule", "is_active", "capacity", "priority_field", "priority_descending"}
)


class SegmentDetailApi(APIView):
    """Read (any role), change or delete (supervisors, admins) one segment."""

    def get_permissions(self) -> list:
        return [IsAgent()] if self.request.method == "GET" else [IsSupervisor()]

    @extend_schema(responses=SegmentSerializer)
    def get(self, request: AuthenticatedRequest, pk: int) -> Response:
        segment = get_object_or_404(segment_list(), pk=pk)
        return Response(SegmentSerializer(segment).data)

    @extend_schema(request=SegmentWriteSerializer, responses=SegmentSerializer)
    def patch(self, request: AuthenticatedRequest, pk: int) -> Response:
        segment = get_object_or_404(Segment, pk=pk)
        payload = SegmentWriteSerializer(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        segment = segment_update(segment=segment, updated_by=request.user, **payload.validated_data)
        if MEMBERSHIP_FIELDS & set(payload.validated_data):
            segment_members_request(segment=segment)
        return Response(SegmentSerializer(segment).data)

    @extend_schema(responses={204: None})
    def delete(self, request: AuthenticatedRequest, pk: int) -> Response:
        segment_delete(segment=get_object_or_404(Segment, pk=pk), deleted_by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SegmentPreviewApi(APIView):
    """Count and sample of the customers a rule tree selects, before saving it: evaluated as of
    the moment the stored metrics describe (`as_of`), as a refresh at that moment would, so
    metrics, days since and events in the last N days all count to the same moment."""

    permission_classes = [IsSupervisor]

    @extend_schema(request=PreviewSerializer, responses={200: dict})
    def post(self, request: AuthenticatedRequest) -> Response:
        payload = PreviewSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        as_of = metrics_as_of()
        preview = rule_preview(
            tree=payload.validated_data["rule"],
            sample_size=payload.validated_data["sample_size"],
            as_of=as_of,
        )
        return Response({**preview, "as_of": _as_of_text(as_of)})


class RuleFieldsApi(APIView):
    """Fields, operators and choices the rule builder may use."""

    permission_classes = [IsSupervisor]

    @extend_schema(responses={200: dict})
    def get(self, request: AuthenticatedRequest) -> Response:
        return Response(rule_fields_catalog())


class SegmentMembersApi(APIView):
    """Current members of a segment with their scores (cursor-paginated, searchable by q)."""

    permission_classes = [IsSupervisor]

    @extend_schema(responses=MemberSerializer(many=True))
    def get(self, request: AuthenticatedRequest, pk: int) -> Response:
        segment = get_object_or_404(Segment, pk=pk)
        members = segment_members(segment=segment, query=request.query_params.get("q", ""))
        paginator = MemberPagination()
        page = paginator.paginate_queryset(members, request, view=self)
        members_explain(page or [])
        return paginator.get_paginated_response(MemberSerializer(page, many=True).data)


class SegmentSnapshotsApi(APIView):
    """Size, entries and exits of a segment at each refresh."""

    permission_classes = [IsAgent]

    @extend_schema(responses=SnapshotSerializer(many=True))
    def get(self, request: AuthenticatedRequest, pk: int) -> Response:
        segment = get_object_or_404(Segment, pk=pk)
        return Response(SnapshotSerializer(segment_snapshots(segment=segment), many=True).data)


def _csv_response(segment: Segment | None, request: AuthenticatedRequest) -> StreamingHttpResponse:
    metrics_export_audit(segment=segment, actor=request.user)
    name = segment.slug if segment is not None else "customers"
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(
        metrics_export_chunks(segment=segment), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{name}-{stamp}.csv"'
    return response


class SegmentExportApi(APIView):
    """CSV of a segment's members with metrics and scores (audited)."""

    permission_classes = [IsSupervisor]

    @extend_schema(operation_id="segments_members_export", responses={(200, "text/csv"): str})
    def get(self, request: AuthenticatedRequest, pk: int) -> StreamingHttpResponse:
        return _csv_response(get_object_or_404(Segment, pk=pk), request)


class MetricsExportApi(APIView):
    """CSV of every customer's metrics and scores (audited)."""

    permission_classes = [IsSupervisor]

    @extend_schema(operation_id="segments_metrics_export", responses={(200, "text/csv"): str})
    def get(self, request: AuthenticatedRequest) -> StreamingHttpResponse:
        return _csv_response(None, request)


class RefreshApi(APIView):
    """Start a refresh, or join the one running (202 with the run either way)."""

    permission_classes = [IsSupervisor]

    @extend_schema(request=RefreshRequestSerializer, responses={202: RunSerializer})
    def post(self, request: AuthenticatedRequest) -> Response:
        payload = RefreshRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        run, created = segment_refresh_request(
            requested_by=request.user, trigger="api", **payload.validated_data
        )
        if created:
            transaction.on_commit(lambda: segment_refresh_task.delay(run.pk), robust=True)
        data = RunSerializer(run).data
        data["joined"] = not created
        return Response(data, status=status.HTTP_202_ACCEPTED)


class RefreshRunListApi(APIView):
    permission_classes = [IsSupervisor]

    @extend_schema(responses=RunSerializer(many=True))
    def get(self, request: AuthenticatedRequest) -> Response:
        paginator = RunPagination()
        page = paginator.paginate_queryset(refresh_runs(), request, view=self)
        return paginator.get_paginated_response(RunSerializer(page, many=True).data)


class RefreshRunDetailApi(APIView):
    """A run's status and live progress."""

    permission_classes = [IsSupervisor]

    @extend_schema(responses=RunSerializer)
    def get(self, request: AuthenticatedRequest, pk: int) -> Response:
        return Response(RunSerializer(get_object_or_404(refresh_runs(), pk=pk)).data)


class ClusterListApi(APIView):
    permission_classes = [IsAgent]

    @extend_schema(responses=ClusterSerializer(many=True))
    def get(self, request: AuthenticatedRequest) -> Response:
        return Response(ClusterSerializer(cluster_profiles_latest(), many=True).data)


class ChurnModelApi(APIView):
    """Churn model status (GET); retrain now (POST, supervisors and admins)."""

    def get_permissions(self) -> list:
        return [IsSupervisor()] if self.request.method == "POST" else [IsAgent()]

    @extend_schema(responses={200: dict})
    def get(self, request: AuthenticatedRequest) -> Response:
        state = churn_model_status()
        return Response(
            {
                "trained": state["trained"],
                "current": ChurnModelSerializer(state["current"]).data
                if state["current"]
                else None,
                "attempts": ChurnModelSerializer(state["attempts"], many=True).data,
            }
        )

    @extend_schema(request=None, responses={202: dict})
    def post(self, request: AuthenticatedRequest) -> Response:
        transaction.on_commit(churn_model_train_task.delay, robust=True)
        return Response({"detail": "training queued"}, status=status.HTTP_202_ACCEPTED)


class ValueModelListApi(APIView):
    """Every fit of the value model, the latest first (supervisors and admins)."""

    permission_classes = [IsSupervisor]

    @extend_schema(responses=ValueModelSerializer(many=True))
    def get(self, request: AuthenticatedRequest) -> Response:
        paginator = ValueModelPagination()
        page = paginator.paginate_queryset(value_model_fits(), request, view=self)
        return paginator.get_paginated_response(ValueModelSerializer(page, many=True).data)


class ValueModelCurrentApi(APIView):
    """The value model fit in use (supervisors and admins); 404 before the first fit."""

    permission_classes = [IsSupervisor]

    @extend_schema(
        responses={
            200: ValueModelSerializer,
            404: OpenApiResponse(description="No value model has been fitted yet."),
        }
    )
    def get(self, request: AuthenticatedRequest) -> Response:
        current = value_model_current()
        if current is None:
            return Response({"detail": "no value model yet"}, status=status.HTTP_404_NOT_FOUND)
        return Response(ValueModelSerializer(current).data)


class CustomerSegmentsApi(APIView):
    """Which segments a customer is in, since when and why; and past stays."""

    permission_classes = [IsAgent]

    @extend_schema(responses={200: dict})
    def get(self, request: AuthenticatedRequest, pk: int) -> Response:
        get_object_or_404(Customer, pk=pk)
        stays = customer_segments(customer_id=pk)
        memberships_explain(
            stays["current"], metrics={pk: CustomerMetrics.objects.filter(customer_id=pk).first()}
        )
        return Response(
            {
                "current": MembershipSerializer(stays["current"], many=True).data,
                "history": MembershipSerializer(stays["history"], many=True).data,
            }
        )


class CustomerMetricsApi(APIView):
    """A customer's metrics and scores from the last refresh, all as of its as-of moment."""

    permission_classes = [IsAgent]

    @extend_schema(responses=MetricsSerializer)
    def get(self, request: AuthenticatedRequest, pk: int) -> Response:
        get_object_or_404(Customer, pk=pk)
        metrics = customer_metrics(customer_id=pk)
        if metrics is None:
            return Response({"detail": "not scored yet"}, status=status.HTTP_404_NOT_FOUND)
        return Response(MetricsSerializer(metrics).data)
