"""factory_boy factories for the customer-profile domain."""

import datetime as dt
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from callcenter.choices import (
    ContactKind,
    CustomerKind,
    InteractionChannel,
    OrderStatus,
    SurveyKind,
    TicketKind,
)
from callcenter.models import (
    ContactPoint,
    Customer,
    Interaction,
    Order,
    SurveyResponse,
    Ticket,
)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    password = factory.django.Password("pass-1234")

    @factory.post_generation
    def role(self, create: bool, extracted: str | None, **kwargs: object) -> None:
        if create and extracted:
            self.groups.add(Group.objects.get(name=extracted))


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    external_id = factory.Sequence(lambda n: f"C{n:06d}")
    kind = CustomerKind.PERSON
    name = factory.Faker("name", locale="zh_CN")
    city = "上海"


class BusinessCustomerFactory(CustomerFactory):
    kind = CustomerKind.BUSINESS
    company_name = factory.Faker("company", locale="zh_CN")
    industry = "Retail"
    employee_count = 120


class PhoneFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContactPoint

    customer = factory.SubFactory(CustomerFactory)
    kind = ContactKind.PHONE
    value = factory.Sequence(lambda n: f"+86139{n:08d}")
    raw_value = factory.LazyAttribute(lambda o: o.value)
    is_primary = True


class EmailFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContactPoint

    customer = factory.SubFactory(CustomerFactory)
    kind = ContactKind.EMAIL
    value = factory.Sequence(lambda n: f"customer{n}@example.com")
    raw_value = factory.LazyAttribute(lambda o: o.value)
    is_primary = True


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order

    external_id = factory.Sequence(lambda n: f"O{n:07d}")
    customer = factory.SubFactory(CustomerFactory)
    placed_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(days=10))
    amount = Decimal("199.00")
    currency = "CNY"
    category = "electronics"
    channel = "web"
    status = OrderStatus.PAID


class InteractionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Interaction

    customer = factory.SubFactory(CustomerFactory)
    channel = InteractionChannel.CALL
    occurred_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(days=1))
    duration_seconds = 180
    reason = "billing"
    notes = ""


class TicketFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Ticket

    customer = factory.SubFactory(CustomerFactory)
    kind = TicketKind.COMPLAINT
    subject = "Late delivery"
    opened_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(hours=5))


class SurveyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SurveyResponse

    customer = factory.SubFactory(CustomerFactory)
    kind = SurveyKind.NPS
    score = 9
    responded_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(days=2))
