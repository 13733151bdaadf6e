"""A record of every CSV import: who, what, how many rows, and the errors if it was refused."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from callcenter.choices import ImportKind, ImportStatus


class ImportRun(models.Model):
    """One import of a CSV file; a rejected file imported nothing and keeps its error lines."""

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

    class Meta:
        verbose_name = _("import run")
        verbose_name_plural = _("import runs")
        ordering = ("-started_at",)

    def __str__(self) -> str:
        return f"{self.kind} {self.file_name} {self.status}"
