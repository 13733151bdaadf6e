"""`seed_demo` creates working demo logins and realistic, varied data once."""

from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.db.models import Count

from callcenter.choices import CustomerKind, OrderStatus
from callcenter.models import ContactPoint, Customer, Interaction, Order, Ticket

pytestmark = pytest.mark.django_db


def test_seed_demo_creates_users_and_history() -> None:
    out = StringIO()
    call_command("seed_demo", "--customers", "120", "--password", "demo-pass-1", stdout=out)

    for username, role in [("admin", "admin"), ("supervisor", "supervisor"), ("agent1", "agent")]:
        user = authenticate(username=username, password="demo-pass-1")
        assert user is not None
        assert user.groups.filter(name=role).exists()
    assert Customer.objects.count() == 120
    assert Customer.objects.filter(kind=CustomerKind.BUSINESS).exists()
    assert Order.objects.filter(status=OrderStatus.PAID).count() > 100
    assert Order.objects.exclude(status=OrderStatus.PAID).exists()
    assert Interaction.objects.filter(sentiment__lt=-0.3).exists()
    assert Ticket.objects.filter(kind="complaint").exists()
    # every customer can be reached by phone, and every phone is valid E.164
    assert ContactPoint.objects.filter(kind="phone").values("customer").distinct().count() == 120
    assert not ContactPoint.objects.filter(kind="phone").exclude(value__regex=r"^\+86\d{11}$")
    assert "Created 120 customers" in out.getvalue()
    # business accounts with 2-4 contacts in roles, the contacts with orders
    accounts = Customer.objects.filter(kind=CustomerKind.BUSINESS, contacts__isnull=False)
    sizes = accounts.annotate(n=Count("contacts")).values_list("n", flat=True).distinct()
    assert accounts.exists()
    assert set(sizes) <= {2, 3, 4}
    contacts = Customer.objects.filter(account__isnull=False)
    assert not contacts.filter(account_role="").exists()
    assert Order.objects.filter(customer__in=contacts, status=OrderStatus.PAID).exists()


def test_seed_demo_if_empty_adds_nothing_the_second_time() -> None:
    call_command("seed_demo", "--customers", "10", "--password", "p", stdout=StringIO())
    out = StringIO()
    call_command("seed_demo", "--customers", "10", "--if-empty", stdout=out)
    assert Customer.objects.count() == 10
    assert "password (shown once)" in out.getvalue()
    assert "no demo customers added" in out.getvalue()
