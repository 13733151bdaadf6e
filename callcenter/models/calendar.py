"""The shared holiday calendar: days that differ from the usual Monday-to-Friday week."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from callcenter.choices import CalendarDayKind, CalendarDaySource

from .base import TimeStampedModel


class CalendarDay(TimeStampedModel):
    """A public holiday, or a make-up working day (a weekend day worked instead of a holiday).

    Days from the maintained `chinesecalendar` package (`source=package`) are written by
    `callcenter.services.calendar.calendar_days_sync`; an admin adds the company's own dates
    (`source=admin`, with a reason), which a later sync never overwrites. A date missing from
    the table is a working day from Monday to Friday and a day off at the weekend. The table is
    the set-based form of the calendar: join it on `day` in SQL.
    """

    day = models.DateField(_("date"), unique=True)
    kind = models.CharField(_("kind"), max_length=16, choices=CalendarDayKind.choices)
    name = models.CharField(
        _("name"), max_length=100, help_text=_("The holiday, in English (e.g. Spring Festival).")
    )
    source = models.CharField(_("source"), max_length=16, choices=CalendarDaySource.choices)
    reason = models.CharField(
        _("reason"), max_length=255, blank=True, help_text=_("Why an admin added this date.")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("calendar day")
        verbose_name_plural = _("calendar days")
        ordering = ("day",)
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=CalendarDayKind.values), name="calendar_day_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(source__in=CalendarDaySource.values),
                name="calendar_day_source_valid",
            ),
            models.CheckConstraint(condition=~Q(name=""), name="calendar_day_name_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.kind} {self.name}"
