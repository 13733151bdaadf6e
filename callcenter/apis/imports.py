"""REST API of CSV imports: upload a file (multipart `kind` + `file`), list and read the runs.

Supervisors and admins only. A file with any bad row imports nothing: the answer is a 400 with
every bad row as `line N: column: reason` in `errors`; the rejected run is kept on record.
"""

from typing import ClassVar

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from callcenter.choices import ImportKind, ImportStatus
from callcenter.models import ImportRun
from callcenter.roles import IsSupervisor
from callcenter.services.imports import csv_import


class ImportRunSerializer(serializers.ModelSerializer):
    started_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    unchanged = serializers.SerializerMethodField()

    class Meta:
        model = ImportRun
        fields = (
            "id",
            "kind",
            "file_name",
            "status",
            "rows",
            "created",
            "updated",
            "unchanged",
            "seconds",
            "started_by",
            "started_at",
        )

    def get_unchanged(self, run: ImportRun) -> int:
        return max(run.rows - run.created - run.updated, 0)


class ImportRunDetailSerializer(ImportRunSerializer):
    class Meta(ImportRunSerializer.Meta):
        fields = (*ImportRunSerializer.Meta.fields, "errors")


class ImportInputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ImportKind.choices)
    file = serializers.FileField()
    no_events = serializers.BooleanField(
        default=False, help_text="Load history without triggering care plans."
    )


RejectedSerializer = inline_serializer(
    name="ImportRejected",
    fields={
        "detail": serializers.CharField(),
        "errors": serializers.ListField(child=serializers.CharField()),
        "run": ImportRunDetailSerializer(),
    },
)


class ImportRunListCreateApi(generics.ListAPIView):
    """GET: import runs, newest first. POST: import a CSV file."""

    permission_classes: ClassVar[list] = [IsSupervisor]
    parser_classes: ClassVar[list] = [MultiPartParser, FormParser]
    serializer_class = ImportRunSerializer

    def get_queryset(self) -> QuerySet[ImportRun]:
        return ImportRun.objects.select_related("started_by")

    @extend_schema(
        summary="Import a CSV file",
        request=ImportInputSerializer,
        responses={
            201: ImportRunDetailSerializer,
            400: OpenApiResponse(RejectedSerializer, description="Bad rows; nothing imported."),
        },
    )
    def post(self, request: Request) -> Response:
        data = ImportInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        run = csv_import(
            kind=data.validated_data["kind"],
            file=upload.file,
            file_name=upload.name,
            started_by=request.user,
            announce=not data.validated_data["no_events"],
        )
        body = ImportRunDetailSerializer(run).data
        if run.status == ImportStatus.REJECTED:
            # Answered, not raised: the request's transaction commits the rejected run's record.
            return Response(
                {
                    "detail": _("The file has bad rows; nothing was imported."),
                    "errors": run.errors,
                    "run": body,
                },
                status=status.HTTP_400_BAD_REQUEST,
            )
        return Response(body, status=status.HTTP_201_CREATED)


class ImportRunDetailApi(generics.RetrieveAPIView):
    """One import run with its error lines."""

    permission_classes: ClassVar[list] = [IsSupervisor]
    serializer_class = ImportRunDetailSerializer

    def get_queryset(self) -> QuerySet[ImportRun]:
        return ImportRun.objects.select_related("started_by")
