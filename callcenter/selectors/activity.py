"""List reads behind the REST API: customers and their orders, interactions, tickets, surveys.

Each selector returns a queryset that already joins or prefetches what its serializer shows,
so a page of any size costs the same few queries. Filtering happens in the FilterSets of
callcenter/filters.py on top of these querysets.
"""

from django.db.models import QuerySet

from callcenter.models import Customer, Interaction, Order, SurveyResponse, Ticket, TicketUpdate


def customer_list() -> QuerySet[Customer]:
    """All customers (merged ones included, see `status`), with advisor and contact points."""
    return Customer.objects.select_related("advisor").prefetch_related("contact_points")


def order_list() -> QuerySet[Order]:
    """All orders; the serializer shows only ids of related rows, so nothing is joined."""
    return Order.objects.all()


def interaction_list() -> QuerySet[Interaction]:
    """All interactions with the agent who handled them."""
    return Interaction.objects.select_related("agent")


def ticket_list() -> QuerySet[Ticket]:
    """All tickets with their assignee."""
    return Ticket.objects.select_related("assignee")


def ticket_history_list(*, ticket_id: int) -> QuerySet[TicketUpdate]:
    """A ticket's history with who did each and whom it was assigned to."""
    return TicketUpdate.objects.filter(ticket_id=ticket_id).select_related("by", "assignee")


def survey_list() -> QuerySet[SurveyResponse]:
    """All survey responses."""
    return SurveyResponse.objects.all()
