"""REST API of CSV imports: upload a file (multipart `kind` + `file`), list and read the runs.

Supervisors and admins only. A file with any bad row imports nothing: the answer is a 400 with
every bad row as `line N: column: reason` in `errors`; the rejected run is kept on record. A
file above IMPORT_SYNC_MAX_KB is imported by a worker: the answer is a 202 with the queued run
(and its URL in `Location`), whose `status` and `progress` tell how it goes; a file above
IMPORT_MAX_UPLOAD_MB is refused with a 400 before it is stored.
"""

from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import generics, serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from callcenter.choices import IMPORT_PENDING_STATUSES, ImportKind, ImportStatus
from callcenter.errors import ApplicationError
from callcenter.http import AuthenticatedRequest
from callcenter.models import ImportRun
from callcenter.roles import IsSupervisor
from callcenter.services.imports import import_progress, import_size_message, import_upload
from callcenter.uploads import REFUSED_SIZE_ATTRIBUTE


class ImportRunSerializer(serializers.ModelSerializer):
    started_by: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )
    unchanged = serializers.SerializerMethodField()

    class Meta:
        model = ImportRun
        fields: tuple[str, ...] = (
            "id",
            "kind",
            "file_name",
            "status",
            "rows",
            "created",
            "updated",
            "unchanged",
            "seconds",
            "size",
            "started_by",
            "started_at",
            "finished_at",
        )

    def get_unchanged(self, run: ImportRun) -> int:
        return max(run.rows - run.created - run.updated, 0)


class ImportProgressSerializer(serializers.Serializer):
    phase = serializers.CharField(
        help_text="queued, reading, checking, writing, events, done (or the final status)."
    )
    percent = serializers.IntegerField()
    rows = serializers.IntegerField(help_text="Rows read so far.")


class ImportRunDetailSerializer(ImportRunSerializer):
    progress = serializers.SerializerMethodField()

    class Meta(ImportRunSerializer.Meta):
        fields = (*ImportRunSerializer.Meta.fields, "errors", "progress")

    @extend_schema_field(ImportProgressSerializer)
    def get_progress(self, run: ImportRun) -> dict[str, object]:
        return import_progress(run=run)


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

    permission_classes = [IsSupervisor]
    parser_classes = [MultiPartParser, FormParser]
    serializer_class = ImportRunSerializer

    def get_queryset(self) -> QuerySet[ImportRun]:
        return ImportRun.objects.select_related("started_by")

    @extend_schema(
        summary="Import a CSV file",
        request=ImportInputSerializer,
        responses={
            201: ImportRunDetailSerializer,
            202: OpenApiResponse(
                ImportRunDetailSerializer,
                description="A large file: queued for a worker; follow the run's URL.",
            ),
            400: OpenApiResponse(
                RejectedSerializer, description="Bad rows, or a file too large; nothing imported."
            ),
        },
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        data = ImportInputSerializer(data=request.data)
        refused_size = getattr(request, REFUSED_SIZE_ATTRIBUTE, None)
        if refused_size is not None:
            # The upload handler skipped a file above the limit while the body was read.
            raise ApplicationError(import_size_message(refused_size))
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        run = import_upload(
            kind=data.validated_data["kind"],
            file=upload.file,
            file_name=upload.name,
            started_by=request.user,
            announce=not data.validated_data["no_events"],
        )
        body = ImportRunDetailSerializer(run).data
        if run.status in IMPORT_PENDING_STATUSES:
            location = reverse("api-import-detail", kwargs={"pk": run.pk})
            return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": location})
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

    permission_classes = [IsSupervisor]
    serializer_class = ImportRunDetailSerializer

    def get_queryset(self) -> QuerySet[ImportRun]:
        return ImportRun.objects.select_related("started_by")
