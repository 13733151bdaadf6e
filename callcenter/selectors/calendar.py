"""Reading the holiday calendar: is a date a working day, the holidays of a period, a year's
days. Set-based code joins the `CalendarDay` table on `day` instead."""

import datetime as dt

from django.db.models import QuerySet
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from callcenter.choices import CalendarDayKind
from callcenter.models import CalendarDay

# The package's holiday names, translated for display (an admin's own names show as written).
HOLIDAY_LABELS: dict[str, Promise] = {
    "New Year's Day": _("New Year's Day"),
    "Spring Festival": _("Spring Festival"),
    "Tomb-sweeping Day": _("Tomb-sweeping Day"),
    "Labour Day": _("Labour Day"),
    "Dragon Boat Festival": _("Dragon Boat Festival"),
    "Mid-autumn Festival": _("Mid-autumn Festival"),
    "National Day": _("National Day"),
    "Anti-Fascist 70th Day": _("Anti-Fascist 70th Day"),
}
# The years the calendar pages and API accept (the date fields' range).
CALENDAR_YEARS = range(2000, 3000)
# Monday is 0: Saturday and Sunday are days off unless the calendar says otherwise.
WEEKEND = frozenset({5, 6})


def calendar_day_label(name: str) -> str:
    """The display name of a calendar day in the current language."""
    label = HOLIDAY_LABELS.get(name)
    return name if label is None else str(label)


def is_working_day(day: dt.date) -> bool:
    """True on a working day: a weekday that is not a holiday, or a make-up working day."""
    kind = CalendarDay.objects.filter(day=day).values_list("kind", flat=True).first()
    if kind is not None:
        return kind == CalendarDayKind.WORKDAY
    return day.weekday() not in WEEKEND


def holidays_between(start: dt.date, end: dt.date) -> QuerySet[CalendarDay]:
    """The holidays from `start` to `end`, both included, in date order."""
    return CalendarDay.objects.filter(
        kind=CalendarDayKind.HOLIDAY, day__gte=start, day__lte=end
    ).order_by("day")


def calendar_days_of_year(year: int) -> QuerySet[CalendarDay]:
    """Every day of `year` in the calendar (holidays and make-up working days), in order."""
    return CalendarDay.objects.filter(day__year=year).select_related("created_by").order_by("day")


def holiday_names() -> list[str]:
    """The names a holiday may have: the package's and every name in the calendar, sorted."""
    named = CalendarDay.objects.filter(kind=CalendarDayKind.HOLIDAY).values_list("name", flat=True)
    return sorted(set(HOLIDAY_LABELS) | set(named.distinct()))
