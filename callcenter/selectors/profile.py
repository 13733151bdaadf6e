"""Reads behind the customer pages: search rows, the profile card and the activity timeline.

Every function here runs a fixed number of queries, whatever the customer's history holds:
the profile is one row plus two prefetches, the timeline one bounded query per activity kind.
"""

import datetime as dt
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypedDict

from django.db.models import (
    Case,
    IntegerField,
    Model,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    When,
)
from django.db.models import Value as V

from callcenter.choices import ContactKind, CustomerStatus, SurveyKind
from callcenter.models import (
    ConsentChange,
    ContactPoint,
    Customer,
    Interaction,
    Order,
    SurveyResponse,
    Ticket,
)
from callcenter.selectors.customers import customer_search

if TYPE_CHECKING:
    # Types only: on Python 3.11 WithAnnotations[Model, TypedDict] fails at runtime.
    from django_stubs_ext import WithAnnotations

TIMELINE_LIMIT = 50
CONSENT_HISTORY_LIMIT = 20

# Contact points are listed phones first, then emails, WeChat ids and external ids.
_CONTACT_KIND_ORDER = Case(
    When(kind=ContactKind.PHONE, then=V(0)),
    When(kind=ContactKind.EMAIL, then=V(1)),
    When(kind=ContactKind.WECHAT, then=V(2)),
    default=V(3),
    output_field=IntegerField(),
)


def customer_search_rows(query: str) -> QuerySet[Customer]:
    """Customers matching `query` (see customer_search), with their primary phone, by name.

    The phone comes from a correlated subquery, so a page of rows is one query.
    """
    primary_phone = (
        ContactPoint.objects.filter(
            customer_id=OuterRef("pk"), kind=ContactKind.PHONE, is_active=True
        )
        .order_by("-is_primary", "id")
        .values("value")[:1]
    )
    return (
        customer_search(query)
        .annotate(primary_phone=Subquery(primary_phone))
        .only("id", "name", "kind", "company_name", "city", "region", "external_id")
        .order_by("name", "id")
    )


class ConsentHistory(TypedDict):
    """The attribute `customer_profile` prefetches: the newest consent changes."""

    recent_consent_changes: list[ConsentChange]


# The contacts a business account's page lists (a fixed slice: the page's cost stays flat).
ACCOUNT_CONTACTS_SHOWN = 50


def account_contacts(account_id: int) -> list[Customer]:
    """A business account's active contacts by role and name (the first
    ACCOUNT_CONTACTS_SHOWN): one query."""
    return list(
        Customer.objects.filter(account_id=account_id, status=CustomerStatus.ACTIVE).order_by(
            "account_role", "name", "id"
        )[:ACCOUNT_CONTACTS_SHOWN]
    )


def customer_profile(customer_id: int) -> "WithAnnotations[Customer, ConsentHistory] | None":
    """The customer with advisor, contact points and recent consent history, or None.

    Merged customers are returned too (the caller sends the user on to the survivor).
    Contact points are on `contact_points.all()`; the newest consent changes on
    `recent_consent_changes`; a contact's account (with its advisor) on `account`.
    """
    contact_points = ContactPoint.objects.annotate(kind_order=_CONTACT_KIND_ORDER).order_by(
        "kind_order", "-is_active", "-is_primary", "id"
    )
    consent_changes = ConsentChange.objects.select_related("changed_by").order_by(
        "-changed_at", "-id"
    )[:CONSENT_HISTORY_LIMIT]
    return (
        Customer.objects.select_related("advisor", "account", "account__advisor")
        .prefetch_related(
            Prefetch("contact_points", queryset=contact_points),
            Prefetch("consent_changes", queryset=consent_changes, to_attr="recent_consent_changes"),
        )
        .filter(pk=customer_id)
        .first()
    )


@dataclass(frozen=True)
class TimelineSource:
    """One kind of activity shown on the timeline and how to read it newest first."""

    kind: str
    rank: int  # breaks ties between kinds at the same moment, so the order is total
    model: type[Model]
    time_field: str
    related: tuple[str, ...] = ()


def ticket_csat_score() -> Subquery:
    """The latest CSAT score answered about the ticket (OuterRef "pk"), for an annotation."""
    return Subquery(
        SurveyResponse.objects.filter(ticket_id=OuterRef("pk"), kind=SurveyKind.CSAT)
        .order_by("-responded_at", "-id")
        .values("score")[:1]
    )


TIMELINE_SOURCES = (
    TimelineSource("order", 3, Order, "placed_at"),
    TimelineSource("interaction", 2, Interaction, "occurred_at", ("agent",)),
    TimelineSource("ticket", 1, Ticket, "opened_at", ("assignee",)),
    TimelineSource("survey", 0, SurveyResponse, "responded_at"),
)
_RANKS = {source.kind: source.rank for source in TIMELINE_SOURCES}
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_CURSOR = re.compile(r"^(\d{1,17})\.([a-z]{1,16})\.(\d{1,18})$")


@dataclass(frozen=True)
class TimelineCursor:
    """A position on the timeline: items strictly after it (older) come next."""

    at: dt.datetime
    kind: str
    pk: int

    def encode(self) -> str:
        micros = (self.at - _EPOCH) // dt.timedelta(microseconds=1)
        return f"{micros}.{self.kind}.{self.pk}"

    @classmethod
    def decode(cls, text: str) -> "TimelineCursor | None":
        """The cursor written by `encode`, or None when `text` is not one."""
        match = _CURSOR.match(text or "")
        if match is None or match.group(2) not in _RANKS:
            return None
        # At most 17 digits of microseconds: always a valid datetime (before the year 5200).
        at = _EPOCH + dt.timedelta(microseconds=int(match.group(1)))
        return cls(at=at, kind=match.group(2), pk=int(match.group(3)))


@dataclass(frozen=True)
class TimelineItem:
    kind: str
    at: dt.datetime
    obj: Model

    @property
    def cursor(self) -> TimelineCursor:
        return TimelineCursor(at=self.at, kind=self.kind, pk=self.obj.pk)

    def sort_key(self) -> tuple[dt.datetime, int, int]:
        return (self.at, _RANKS[self.kind], self.obj.pk)


@dataclass(frozen=True)
class TimelinePage:
    items: list[TimelineItem]
    next_cursor: TimelineCursor | None


def _older_than(source: TimelineSource, cursor: TimelineCursor) -> Q:
    """Rows of `source` that sort after `cursor` in (time, kind rank, id) descending order."""
    field = source.time_field
    cursor_rank = _RANKS[cursor.kind]
    if source.rank < cursor_rank:
        return Q(**{f"{field}__lte": cursor.at})
    if source.rank > cursor_rank:
        return Q(**{f"{field}__lt": cursor.at})
    return Q(**{f"{field}__lt": cursor.at}) | Q(**{field: cursor.at, "pk__lt": cursor.pk})


def customer_timeline(
    customer_id: int, *, limit: int = TIMELINE_LIMIT, before: TimelineCursor | None = None
) -> TimelinePage:
    """Orders, interactions, tickets and surveys of a customer, newest first, `limit` at a time.

    Each kind is read by its (customer, time) index, at most `limit + 1` rows, and the four
    sorted lists are merged; so the cost is four small queries however long the history is.
    Pass the page's `next_cursor` as `before` to read the next page.
    """
    items: list[TimelineItem] = []
    for source in TIMELINE_SOURCES:
        rows = source.model._default_manager.filter(customer_id=customer_id)
        if before is not None:
            rows = rows.filter(_older_than(source, before))
        if source.related:
            rows = rows.select_related(*source.related)
        if source.kind == "ticket":
            rows = rows.annotate(csat_score=ticket_csat_score())
        rows = rows.order_by(f"-{source.time_field}", "-pk")[: limit + 1]
        items.extend(
            TimelineItem(kind=source.kind, at=getattr(row, source.time_field), obj=row)
            for row in rows
        )
    items.sort(key=TimelineItem.sort_key, reverse=True)
    if len(items) > limit:
        return TimelinePage(items=items[:limit], next_cursor=items[limit - 1].cursor)
    return TimelinePage(items=items, next_cursor=None)
