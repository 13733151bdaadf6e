"""A record of every CSV import: who, what, how many rows, and the errors if it was refused."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from callcenter.choices import ImportKind, ImportStatus


class ImportRun(models.Model):
    """One import of a CSV file; a rejected file imported nothing and keeps its error lines.

    A large upload is imported by a worker: the run is `queued` with the file kept under
    IMPORT_UPLOAD_DIR (`stored_file`), `running` while the worker imports it (its live phase
    and percent are in the cache), then `succeeded`, `rejected` or `failed` (the worker
    stopped with an error; nothing was imported), and the stored file is removed.
    """

    kind = models.CharField(_("kind"), max_length=16, choices=ImportKind.choices)
    file_name = models.CharField(_("file"), max_length=255)
    status = models.CharField(_("status"), max_length=16, choices=ImportStatus.choices)
    rows = models.PositiveIntegerField(_("rows"), default=0)
    created = models.PositiveIntegerField(_("created"), default=0)
    updated = models.PositiveIntegerField(_("updated"), default=0)
    errors = models.JSONField(_("errors"), default=list, blank=True)
    seconds = models.FloatField(_("seconds"), default=0)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("started by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    started_at = models.DateTimeField(_("started at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    size = models.PositiveBigIntegerField(_("size (bytes)"), default=0)
    announce = models.BooleanField(
        _("announce events"), default=True, help_text=_("False for a history load.")
    )
    language = models.CharField(
        _("language"), max_length=16, blank=True, help_text=_("Language of the error lines.")
    )
    phase = models.CharField(_("phase"), max_length=16, blank=True)
    stored_file = models.CharField(
        _("stored file"),
        max_length=100,
        blank=True,
        help_text=_("Name of the uploaded file under IMPORT_UPLOAD_DIR until it is imported."),
    )

    class Meta:
        verbose_name = _("import run")
        verbose_name_plural = _("import runs")
        ordering = ("-started_at",)

    def __str__(self) -> str:
        return f"{self.kind} {self.file_name} {self.status}"
