"""CSV import: every kind imports, every kind of bad row is reported as `line N: reason` and a
bad file changes nothing, rows upsert by external_id, consent changes are recorded, dates
without a time mean the start of the day in TIME_ZONE, events go out in batches, and only
supervisors and admins may import (command, upload page, API)."""

import datetime as dt
import io
import re
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections
from django.test import override_settings
from django.utils import timezone

from callcenter.choices import ConsentChannel, ConsentSource, CustomerStatus, ImportStatus
from callcenter.events import domain_events
from callcenter.management.commands.import_csv import Command as ImportCommand
from callcenter.models import (
    AuditLog,
    ConsentChange,
    ContactPoint,
    Customer,
    ImportRun,
    Interaction,
    Order,
    SurveyResponse,
    Ticket,
)
from callcenter.services.imports import IMPORT_KINDS, base, csv_import
from tests.callcenter.factories import (
    CustomerFactory,
    OrderFactory,
    PhoneFactory,
    TicketFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
UTC = dt.UTC

CUSTOMER_HEADER = (
    "external_id,name,kind,phone,email,birthday,city,timezone,language,sms_opt_out,"
    "call_opt_out,email_opt_out,company_name,industry,employee_count"
)
ORDER_HEADER = "external_id,customer_external_id,placed_at,amount,currency,category,channel,status"
INTERACTION_HEADER = (
    "external_id,customer_external_id,channel,direction,occurred_at,duration_seconds,agent,"
    "reason,notes,outcome"
)
TICKET_HEADER = (
    "external_id,customer_external_id,kind,status,priority,subject,description,opened_at,"
    "resolved_at"
)
SURVEY_HEADER = (
    "external_id,customer_external_id,kind,score,comment,responded_at,ticket_external_id"
)
DATE_HINT = "(use YYYY-MM-DD or YYYY-MM-DD HH:MM[:SS][+08:00])"


def _import(kind: str, *lines: str, encoding: str = "utf-8", **kwargs: object) -> ImportRun:
    text = "\n".join(lines) + "\n"
    return csv_import(
        kind=kind, file=io.BytesIO(text.encode(encoding)), file_name=f"{kind}.csv", **kwargs
    )


def _at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


@pytest.fixture
def captured() -> Iterator[list[list]]:
    """The events of each emit_events call, one list per call."""
    calls: list[list] = []

    def receiver(sender: object, events: list, **kwargs: object) -> None:
        calls.append(list(events))

    domain_events.connect(receiver, dispatch_uid="test-import-capture")
    yield calls
    domain_events.disconnect(dispatch_uid="test-import-capture")


def _events(calls: list[list]) -> list[tuple[str, int]]:
    return sorted((event.type, event.customer_id) for call in calls for event in call)


@pytest.fixture
def c1() -> Customer:
    return CustomerFactory(external_id="C1", name="王芳")


@pytest.fixture
def c2() -> Customer:
    return CustomerFactory(external_id="C2", name="Tom")


# ------------------------------------------------------------------------------- customers


def test_customers_file_creates_customers_contacts_attributes_and_consent(
    captured: list[list],
) -> None:
    user = UserFactory(role="supervisor")
    run = _import(
        "customers",
        CUSTOMER_HEADER + ",member_level,来源",
        "C1,王芳,person,138 0013 8000;+86 139 0013 9000,Wang@Example.COM,1990-05-01,上海,"
        ",,yes,,,,,,gold,门店",
        "C2,ACME,business,010 6552 9988,,,北京,Asia/Tokyo,en,,,,ACME Ltd,Retail,120,,",
        started_by=user,
    )

    assert run.status == ImportStatus.SUCCEEDED, run.errors
    assert (run.rows, run.created, run.updated) == (2, 2, 0)
    wang = Customer.objects.get(external_id="C1")
    assert wang.name == "王芳"
    assert wang.kind == "person"
    assert wang.birthday == dt.date(1990, 5, 1)
    assert wang.timezone == "Asia/Shanghai"
    assert wang.language == "zh-hans"
    assert wang.attributes == {"member_level": "gold", "来源": "门店"}
    assert (wang.sms_opt_out, wang.call_opt_out, wang.email_opt_out) == (True, False, False)
    assert wang.consent_source == ConsentSource.IMPORT
    assert set(wang.contact_points.values_list("kind", "value", "raw_value", "is_primary")) == {
        ("phone", "+8613800138000", "138 0013 8000", True),
        ("phone", "+8613900139000", "+86 139 0013 9000", False),
        ("email", "wang@example.com", "Wang@Example.COM", True),
    }
    acme = Customer.objects.get(external_id="C2")
    assert (acme.kind, acme.company_name, acme.industry, acme.employee_count) == (
        "business",
        "ACME Ltd",
        "Retail",
        120,
    )
    assert (acme.timezone, acme.language, acme.attributes) == ("Asia/Tokyo", "en", {})
    assert list(acme.contact_points.values_list("value", flat=True)) == ["+861065529988"]
    # a new customer created opted out has where that came from in its history
    change = ConsentChange.objects.get()
    assert (change.customer_id, change.channel, change.opted_out) == (wang.pk, "sms", True)
    assert (change.source, change.changed_by) == (ConsentSource.IMPORT, user)
    assert _events(captured) == sorted(
        [("customer_created", wang.pk), ("customer_created", acme.pk)]
    )
    audit = AuditLog.objects.get(action="import.run")
    assert (audit.actor, audit.object_id) == (user, str(run.pk))
    assert audit.data["status"] == "succeeded"


def test_customers_upsert_updates_only_the_cells_given(c1: Customer) -> None:
    c1.city = "上海"
    c1.attributes = {"member_level": "silver", "source": "web"}
    c1.save()
    PhoneFactory(customer=c1, value="+8613800138000")

    run = _import(
        "customers",
        "external_id,name,city,phone,member_level",
        "C1,,杭州,13800138000;13900139000,gold",
        "C3,New One,,,",
    )

    assert run.status == ImportStatus.SUCCEEDED, run.errors
    assert (run.rows, run.created, run.updated) == (2, 1, 1)
    c1.refresh_from_db()
    assert c1.name == "王芳"  # empty cell: kept
    assert c1.city == "杭州"
    assert c1.attributes == {"member_level": "gold", "source": "web"}
    assert set(c1.contact_points.values_list("value", "is_primary")) == {
        ("+8613800138000", True),
        ("+8613900139000", False),
    }
    assert Customer.objects.count() == 2

    again = _import(
        "customers",
        "external_id,name,city,phone,member_level",
        "C1,,杭州,13800138000;13900139000,gold",
        "C3,New One,,,",
    )
    assert (again.rows, again.created, again.updated) == (2, 0, 0)


def test_customers_consent_changes_are_recorded_once_per_changed_channel(
    c1: Customer, captured: list[list]
) -> None:
    c1.call_opt_out = True
    c1.save()
    user = UserFactory(role="admin")

    run = _import(
        "customers",
        "external_id,sms_opt_out,call_opt_out,email_opt_out,do_not_contact",
        "C1,Y,,no,0",
        started_by=user,
    )

    assert run.status == ImportStatus.SUCCEEDED, run.errors
    assert run.updated == 1
    c1.refresh_from_db()
    assert (c1.sms_opt_out, c1.call_opt_out, c1.email_opt_out, c1.do_not_contact) == (
        True,
        True,
        False,
        False,
    )
    assert c1.consent_source == ConsentSource.IMPORT
    assert c1.consent_updated_at is not None
    changes = list(ConsentChange.objects.values_list("channel", "opted_out", "source"))
    assert changes == [(ConsentChannel.SMS, True, ConsentSource.IMPORT)]
    assert ConsentChange.objects.get().note == "CSV import: customers.csv"
    [event] = [e for call in captured for e in call]
    assert (event.type, event.customer_id) == ("consent_changed", c1.pk)
    assert event.payload == {"channel": "sms", "opted_out": True, "source": "import"}

    _import("customers", "external_id,sms_opt_out", "C1,false")
    assert ConsentChange.objects.count() == 2
    assert not Customer.objects.get(pk=c1.pk).sms_opt_out


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (",Ann,,,,,,,,,,,,,", "external_id: a value is required"),
        ("C9,Ann,robot,,,,,,,,,,,,", 'kind: "robot" is not one of person, business'),
        ("C9,Ann,,12345,,,,,,,,,,,", 'phone: not a valid phone number: "12345"'),
        ("C9,Ann,,,not-an-email,,,,,,,,,,", 'email: not a valid email address: "not-an-email"'),
        ("C9,Ann,,,,1990-02-30,,,,,,,,,", 'birthday: "1990-02-30" is not a date (use YYYY-MM-DD)'),
        ("C9,Ann,,,,,,Mars/Base,,,,,,,", 'timezone: "Mars/Base" is not a known time zone'),
        ("C9,Ann,,,,,,,fr,,,,,,", 'language: "fr" is not one of zh-hans, en'),
        ("C9,Ann,,,,,,,,maybe,,,,,", 'sms_opt_out: "maybe" is not a yes/no value'),
        ("C9,Ann,,,,,,,,,,,,,-3", 'employee_count: "-3" is negative'),
        ("C9,Ann,business,,,,,,,,,,,,", "company_name: a business customer needs a company name"),
        ("C9,,,,,,,,,,,,,,", "name: a value is required for a new customer"),
        ("C1,Ann,,,,,,,,,,,,,", 'external_id: "C1" appears more than once in the file'),
        ("C9,Ann,,13800138000,,,,,,,,,,,", 'phone: "+8613800138000" is also on line 2'),
        ("C9,Ann,,,,", "6 values, but the header has 15 columns"),
    ],
)
def test_customers_bad_row_is_reported_and_nothing_is_imported(row: str, reason: str) -> None:
    run = _import("customers", CUSTOMER_HEADER, "C1,Bob,,13800138000,,,,,,,,,,,", row)

    assert run.status == ImportStatus.REJECTED
    assert len(run.errors) == 1
    assert run.errors[0].startswith(f"line 3: {reason}")
    assert not Customer.objects.exists()
    assert not ContactPoint.objects.exists()


def test_customers_future_birthday_and_exact_messages() -> None:
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    run = _import(
        "customers",
        "external_id,name,birthday,timezone,sms_opt_out",
        f"C1,Ann,{tomorrow},Mars/Base,maybe",
    )
    assert run.errors == [
        f'line 2: birthday: "{tomorrow}" is in the future; '
        'timezone: "Mars/Base" is not a known time zone (use e.g. Asia/Shanghai); '
        'sms_opt_out: "maybe" is not a yes/no value (use true/false, 1/0, yes/no or y/n)'
    ]


def test_customers_phone_of_another_customer_is_a_bad_row(c1: Customer) -> None:
    PhoneFactory(customer=c1, value="+8613800138000")
    PhoneFactory(customer=c1, value="+8613900139000", is_active=False, is_primary=False)

    run = _import(
        "customers",
        "external_id,name,phone,wechat",
        "C1,王芳,13800138000,",  # its own number: fine
        "C2,Bob,+86 138-0013-8000,",
        "C3,Eve,13900139000,wx_eve",  # given up by C1: free to take
    )

    assert run.status == ImportStatus.REJECTED
    assert run.errors == [
        'line 3: phone: "+8613800138000" already belongs to customer C1; '
        'phone: "+8613800138000" is also on line 2'
    ]
    assert Customer.objects.count() == 1


def test_customers_wechat_id_of_another_customer_is_a_bad_row(c1: Customer) -> None:
    ContactPoint.objects.create(customer=c1, kind="wechat", value="wx_wang", is_primary=True)

    run = _import("customers", "external_id,name,wechat", "C2,Bob,wx_bob；wx_wang")

    assert run.errors == ['line 2: wechat: "wx_wang" already belongs to customer C1']
    assert not Customer.objects.filter(external_id="C2").exists()


def test_customers_merged_external_id_is_a_bad_row(c1: Customer, c2: Customer) -> None:
    c2.status = CustomerStatus.MERGED
    c2.merged_into = c1
    c2.save()

    run = _import("customers", "external_id,name", "C2,Tom Again")

    assert run.errors == [
        'line 2: external_id: customer "C2" was merged into customer C1; import into that one'
    ]


def test_customers_file_in_gb18030_with_bom_free_header_and_utf8_bom() -> None:
    gbk = _import("customers", "external_id,name,city", "C1,王芳,上海", encoding="gb18030")
    assert gbk.status == ImportStatus.SUCCEEDED, gbk.errors
    assert Customer.objects.get(external_id="C1").city == "上海"

    bom = _import("customers", "external_id,name", "C2,李娜", encoding="utf-8-sig")
    assert bom.status == ImportStatus.SUCCEEDED, bom.errors
    assert Customer.objects.get(external_id="C2").name == "李娜"


# ---------------------------------------------------------------------------------- orders


def test_orders_carry_their_product_and_a_file_without_it_keeps_it(c1: Customer) -> None:
    created = _import(
        "orders",
        "external_id,customer_external_id,placed_at,amount,category,product",
        "O1,C1,2024-03-01,199.90,electronics,降噪耳机 X2",
    )
    assert created.status == ImportStatus.SUCCEEDED, created.errors
    assert Order.objects.get(external_id="O1").product == "降噪耳机 X2"

    renamed = _import(
        "orders",
        "external_id,customer_external_id,placed_at,amount,product",
        "O1,C1,2024-03-01,199.90,降噪耳机 X3",
    )
    untouched = _import("orders", ORDER_HEADER, "O1,C1,2024-03-01,199.90,cny,electronics,web,")
    assert (renamed.updated, untouched.status) == (1, ImportStatus.SUCCEEDED)
    assert Order.objects.get(external_id="O1").product == "降噪耳机 X3"


def test_orders_file_creates_orders_and_announces_them(
    c1: Customer, c2: Customer, captured: list[list]
) -> None:
    OrderFactory(customer=c2, external_id="OLD", status="paid")

    run = _import(
        "orders",
        ORDER_HEADER,
        "O1,C1,2024-03-01,199.90,cny,electronics,web,paid",
        "O2,C1,2024-03-05 10:30,20,,,,",
        "O3,C2,2024-03-06T10:00:00+00:00,5.5,USD,home,app,paid",
        "O4,C2,2024/3/7 9:05,0.50,,,,refunded",
    )

    assert run.status == ImportStatus.SUCCEEDED, run.errors
    assert (run.rows, run.created, run.updated) == (4, 4, 0)
    o1, o2, o3, o4 = (Order.objects.get(external_id=f"O{n}") for n in range(1, 5))
    assert (o1.customer, o1.amount, o1.currency, o1.category, o1.channel, o1.status) == (
        c1,
        Decimal("199.90"),
        "CNY",
        "electronics",
        "web",
        "paid",
    )
    # a date alone is the start of that day in TIME_ZONE (Asia/Shanghai, UTC+8)
    assert o1.placed_at == _at("2024-02-29T16:00:00+00:00")
    assert o2.placed_at == _at("2024-03-05T02:30:00+00:00")
    assert (o2.currency, o2.category, o2.status) == ("CNY", "", "paid")
    assert o3.placed_at == _at("2024-03-06T10:00:00+00:00")
    assert o4.placed_at == _at("2024-03-07T01:05:00+00:00")
    events = _events(captured)
    assert events == sorted(
        [
            ("order_placed", c1.pk),
            ("order_placed", c1.pk),
            ("first_order", c1.pk),  # C1 had no paid order
            ("order_placed", c2.pk),  # C2 had one already: no first_order
            ("order_refunded", c2.pk),
        ]
    )
    first = next(e for call in captured for e in call if e.type == "first_order")
    assert first.payload == {"order_id": o1.pk, "amount": "199.90", "category": "electronics"}
    assert first.occurred_at == o1.placed_at.isoformat()


def test_orders_upsert_updates_changed_rows_and_announces_refunds(
    c1: Customer, c2: Customer, captured: list[list]
) -> None:
    existing = OrderFactory(
        customer=c1, external_id="O1", amount=Decimal("10.00"), category="home", status="paid"
    )
    unchanged = OrderFactory(
        customer=c1,
        external_id="O2",
        placed_at=_at("2024-01-01T00:00:00+08:00"),
        amount=Decimal("5.00"),
        category="",
        channel="",
    )

    run = _import(
        "orders",
        ORDER_HEADER,
        f"O1,C2,{existing.placed_at.isoformat()},12.00,,,,refunded",
        "O2,C1,2024-01-01,5,CNY,,,paid",
    )

    assert run.status == ImportStatus.SUCCEEDED, run.errors
    assert (run.rows, run.created, run.updated) == (2, 0, 1)
    existing.refresh_from_db()
    assert (existing.customer, existing.amount, existing.category, existing.status) == (
        c2,
        Decimal("12.00"),
        "home",
        "refunded",
    )
    assert Order.objects.get(pk=unchanged.pk).updated_at == unchanged.updated_at
    assert _events(captured) == [("order_refunded", c2.pk)]


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("O2,C1,2024-13-01,10,,,,", f'placed_at: "2024-13-01" is not a date or time {DATE_HINT}'),
        ("O2,C1,yesterday,10,,,,", f'placed_at: "yesterday" is not a date or time {DATE_HINT}'),
        ("O2,C1,1024-01-01,10,,,,", 'placed_at: "1024-01-01" is outside the years 1900 to 2100'),
        ("O2,C1,2024-01-01,-5,,,,", 'amount: "-5" is negative'),
        ("O2,C1,2024-01-01,1.234,,,,", 'amount: "1.234" has more than 2 decimal places'),
        ("O2,C1,2024-01-01,12345678901,,,,", 'amount: "12345678901" is too large'),
        (
            "O2,C1,2024-01-01,ten,,,,",
            'amount: "ten" is not an amount (use digits and a point, e.g. 199.90)',
        ),
        ("O2,C1,2024-01-01,10,RMB1,,,", 'currency: "RMB1" is not a 3-letter currency code'),
        ("O2,C9,2024-01-01,10,,,,", 'customer_external_id: unknown customer "C9"'),
        (
            "O2,C1,2024-01-01,10,,,,shipped",
            'status: "shipped" is not one of paid, refunded, cancelled',
        ),
        (",C1,2024-01-01,10,,,,", "external_id: a value is required"),
        ("O2,,2024-01-01,10,,,,", "customer_external_id: a value is required"),
        ("O2,C1,,10,,,,", "placed_at: a value is required"),
        ("O1,C1,2024-01-02,10,,,,", 'external_id: "O1" appears more than once in the file'),
        ("O2,C1,2024-01-01,10,,x" * 12, "values, but the header has 8 columns"),
        (
            "O2,C1,2024-01-01,10,,{},,".format("c" * 101),
            "category: longer than 100 characters",
        ),
    ],
)
def test_orders_bad_row_is_reported_and_nothing_is_imported(
    c1: Customer, row: str, reason: str
) -> None:
    run = _import("orders", ORDER_HEADER, "O1,C1,2024-01-01,10,,,,", row)

    assert run.status == ImportStatus.REJECTED
    assert len(run.errors) == 1
    assert run.errors[0].startswith("line 3: ")
    assert reason in run.errors[0]
    assert not Order.objects.exists()
    recorded = ImportRun.objects.get()
    assert (recorded.status, recorded.rows, recorded.created) == ("rejected", 2, 0)
    assert recorded.errors == run.errors


def test_orders_report_lists_every_bad_line_with_all_its_reasons(c1: Customer) -> None:
    run = _import(
        "orders",
        ORDER_HEADER,
        "O1,C1,2024-13-05,-199.90,cny,electronics,web,paid",
        ",C9,2024-01-06 10:00,20,,,,shipped",
        "O3,C1,2024-01-07,5.5,CNY,home,app,refunded",
        "",  # blank lines are skipped but still counted as lines
        "O1,C1,2024-01-07,5.5,CNY,home,app,refunded",
        "O4,C1",
        " , ,,,,,, ",  # a line of empty cells is skipped too
    )

    assert run.errors == [
        f'line 2: placed_at: "2024-13-05" is not a date or time {DATE_HINT}; '
        'amount: "-199.90" is negative',
        "line 3: external_id: a value is required; "
        'status: "shipped" is not one of paid, refunded, cancelled; '
        'customer_external_id: unknown customer "C9"',
        'line 6: external_id: "O1" appears more than once in the file (first on line 2)',
        "line 7: 2 values, but the header has 8 columns",
    ]
    assert run.rows == 5
    assert not Order.objects.exists()


def test_orders_of_a_merged_customer_go_to_the_survivor(c1: Customer, c2: Customer) -> None:
    c2.status = CustomerStatus.MERGED
    c2.merged_into = c1
    c2.save()

    run = _import("orders", ORDER_HEADER, "O1,C2,2024-01-01,10,,,,")

    assert run.status == ImportStatus.SUCCEEDED, run.errors
    assert Order.objects.get().customer == c1


def test_error_report_is_capped_and_says_how_many_more(c1: Customer) -> None:
    rows = [f"O{n},X{n},2024-01-01,10,,,," for n in range(base.ERROR_REPORT_LIMIT + 5)]
    rows[1] = "O1,X1,2024-01-01,-1,,,,"

    run = _import("orders", ORDER_HEADER, *rows)

    assert len(run.errors) == base.ERROR_REPORT_LIMIT + 1
    assert run.errors[0] == 'line 2: customer_external_id: unknown customer "X0"'
    assert run.errors[1] == (
        'line 3: amount: "-1" is negative; customer_external_id: unknown customer "X1"'
    )
    assert run.errors[-2].startswith(f"line {base.ERROR_REPORT_LIMIT + 1}: ")
    assert run.errors[-1] == "... and 5 more bad lines"


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (
            "external_id,placed_at,currency",
            "missing column(s): customer_external_id, amount",
        ),
        (
            ORDER_HEADER + ",colour",
            'unknown column "colour" (known columns: external_id, customer_external_id,',
        ),
        (ORDER_HEADER + ",Amount", 'column "Amount" appears more than once'),
        (ORDER_HEADER + ",", "column 9 has no name"),
    ],
)
def test_bad_header_is_line_1(c1: Customer, header: str, reason: str) -> None:
    run = _import("orders", header, "O1,C1,2024-01-01,10,,,,")

    assert run.status == ImportStatus.REJECTED
    assert run.errors[0].startswith("line 1: ")
    assert reason in run.errors[0]


def test_empty_file_is_rejected() -> None:
    run = csv_import(kind="orders", file=io.BytesIO(b""), file_name="empty.csv")
    assert run.errors == ["line 1: the file is empty (it needs a header line)"]


def test_header_only_file_imports_nothing_and_succeeds() -> None:
    run = _import("orders", ORDER_HEADER)
    assert (run.status, run.rows) == (ImportStatus.SUCCEEDED, 0)


def test_file_that_is_neither_utf8_nor_gb18030_is_rejected(c1: Customer) -> None:
    content = (ORDER_HEADER + "\n").encode() + b"O1,C1,2024-01-01,10,\xff\xfe\x80,,,\n"
    run = csv_import(kind="orders", file=io.BytesIO(content), file_name="x.csv")
    assert run.status == ImportStatus.REJECTED
    assert run.errors == ["line 2: the file is not UTF-8 text from here on"]


@override_settings(TIME_ZONE="America/New_York")
def test_dates_without_time_are_the_start_of_the_day_in_time_zone(c1: Customer) -> None:
    run = _import(
        "orders",
        "external_id,customer_external_id,placed_at,amount",
        "O1,C1,2024-07-01,1",
        "O2,C1,2024/7/2,1",
        "O3,C1,2024-01-15,1",
        "O4,C1,2024-07-01 09:30,1",
        "O5,C1,2024-07-01T09:30:00+02:00,1",
        "O6,C1,2024-07-01T09:30:00Z,1",
    )

    assert run.status == ImportStatus.SUCCEEDED, run.errors
    placed = dict(Order.objects.values_list("external_id", "placed_at"))
    assert placed == {
        "O1": dt.datetime(2024, 7, 1, 4, tzinfo=UTC),  # EDT, UTC-4
        "O2": dt.datetime(2024, 7, 2, 4, tzinfo=UTC),
        "O3": dt.datetime(2024, 1, 15, 5, tzinfo=UTC),  # EST, UTC-5
        "O4": dt.datetime(2024, 7, 1, 13, 30, tzinfo=UTC),
        "O5": dt.datetime(2024, 7, 1, 7, 30, tzinfo=UTC),
        "O6": dt.datetime(2024, 7, 1, 9, 30, tzinfo=UTC),
    }


def test_no_events_loads_history_silently(c1: Customer, captured: list[list]) -> None:
    run = _import("orders", ORDER_HEADER, "O1,C1,2024-01-01,10,,,,", announce=False)

    assert run.created == 1
    assert captured == []


def test_events_are_emitted_in_batches(
    c1: Customer, captured: list[list], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(base, "EVENT_BATCH_SIZE", 2)
    rows = [f"O{n},C1,2024-01-0{n},10,,,,paid" for n in range(1, 6)]

    _import("orders", ORDER_HEADER, *rows)

    # 5 created orders in batches of 2 rows: 3 calls, not one per order
    assert len(captured) == 3
    assert sum(len(call) for call in captured) == 6  # 5 order_placed + 1 first_order


def test_statements_do_not_grow_with_rows(c1: Customer, monkeypatch: pytest.MonkeyPatch) -> None:
    executed: list[str] = []
    original = psycopg.Cursor.execute

    def counting(self: psycopg.Cursor, query: object, *args: object, **kwargs: object) -> object:
        executed.append(str(query))
        return original(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", counting)

    def statements(rows: int, prefix: str) -> int:
        executed.clear()
        lines = [f"{prefix}{n},C1,2024-01-01,{n},,,," for n in range(rows)]
        run = _import("orders", ORDER_HEADER, *lines, announce=False)
        assert run.created == rows
        return len(executed)

    few, many = statements(5, "A"), statements(60, "B")
    assert few > 10  # the import's statements are counted
    assert few == many


# ---------------------------------------------------------------------------- interactions


def test_interactions_file_computes_sentiment_and_resolves_agents(
    c1: Customer, captured: list[list]
) -> None:
    agent = UserFactory(username="li.na", role="agent")

    run = _import(
        "interactions",
        INTERACTION_HEADER,
        "I1,C1,call,inbound,2024-05-01 10:00,300,li.na,delivery,"
        '"Customer is very angry: the device broke after two days, wants a refund now.",escalated',
        "I2,C1,SMS,,2024-05-02,,,,,",
    )

    assert run.status == ImportStatus.SUCCEEDED, run.errors
    i1, i2 = Interaction.objects.get(external_id="I1"), Interaction.objects.get(external_id="I2")
    assert (i1.agent, i1.duration_seconds, i1.outcome) == (agent, 300, "escalated")
    assert i1.sentiment < -0.3
    assert (i2.channel, i2.direction, i2.duration_seconds, i2.agent, i2.sentiment) == (
        "sms",
        "inbound",
        0,
        None,
        None,
    )
    assert _events(captured) == [("interaction_logged", c1.pk), ("interaction_logged", c1.pk)]
    logged = next(e for call in captured for e in call if e.payload["interaction_id"] == i1.pk)
    assert logged.payload["sentiment"] == i1.sentiment

    update = _import(
        "interactions", INTERACTION_HEADER, "I1,C1,call,,2024-05-01 10:00,,,,Thanks a lot!,"
    )
    assert update.updated == 1
    i1.refresh_from_db()
    assert (i1.agent, i1.duration_seconds, i1.notes) == (agent, 300, "Thanks a lot!")
    assert i1.sentiment > 0


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("I2,C1,fax,,2024-05-01,,,,,", 'channel: "fax" is not one of call, sms, email,'),
        ("I2,C1,call,sideways,2024-05-01,,,,,", 'direction: "sideways" is not one of'),
        ("I2,C1,call,,2024-05-01,-30,,,,", 'duration_seconds: "-30" is negative'),
        ("I2,C1,call,,2024-05-01,1.5,,,,", 'duration_seconds: "1.5" is not a whole number'),
        ("I2,C1,call,,2024-05-01,,ghost,,,", 'agent: unknown user "ghost"'),
        ("I2,C1,call,,,,,,,", "occurred_at: a value is required"),
        ("I2,C404,call,,2024-05-01,,,,,", 'customer_external_id: unknown customer "C404"'),
        ("I1,C1,call,,2024-05-01,,,,,", 'external_id: "I1" appears more than once in the file'),
    ],
)
def test_interactions_bad_row(c1: Customer, row: str, reason: str) -> None:
    run = _import("interactions", INTERACTION_HEADER, "I1,C1,call,,2024-05-01,,,,ok,", row)

    assert run.status == ImportStatus.REJECTED
    assert len(run.errors) == 1
    assert run.errors[0].startswith(f"line 3: {reason}")
    assert not Interaction.objects.exists()


def test_line_numbers_count_physical_lines_of_quoted_multiline_cells(c1: Customer) -> None:
    run = _import(
        "interactions",
        INTERACTION_HEADER,
        'I1,C1,call,,2024-05-01,,,,"first line',
        'second line",',
        "I2,C1,fax,,2024-05-01,,,,,",
    )
    assert run.errors == [
        'line 4: channel: "fax" is not one of call, sms, email, chat, wechat, ivr'
    ]


# --------------------------------------------------------------------------------- tickets


def test_tickets_file_opens_and_resolves(c1: Customer, captured: list[list]) -> None:
    open_ticket = TicketFactory(customer=c1, external_id="T0", kind="inquiry", subject="Invoice")

    run = _import(
        "tickets",
        TICKET_HEADER,
        "T1,C1,complaint,,high,配送延迟,Three calls already,2024-05-01 09:00,",
        "T2,C1,suggestion,resolved,,App 界面建议,,2024-05-02,2024-05-03",
        f"T0,C1,inquiry,resolved,,Invoice,,{open_ticket.opened_at.isoformat()},",
    )

    assert run.status == ImportStatus.SUCCEEDED, run.errors
    assert (run.created, run.updated) == (2, 1)
    t1, t2 = Ticket.objects.get(external_id="T1"), Ticket.objects.get(external_id="T2")
    assert (t1.kind, t1.status, t1.priority, t1.subject) == (
        "complaint",
        "open",
        "high",
        "配送延迟",
    )
    assert t1.opened_at == _at("2024-05-01T01:00:00+00:00")
    assert t2.resolved_at == _at("2024-05-02T16:00:00+00:00")
    assert Ticket.objects.get(external_id="T0").status == "resolved"
    assert _events(captured) == sorted(
        [
            ("ticket_opened", c1.pk),
            ("ticket_opened", c1.pk),
            ("ticket_resolved", c1.pk),  # T2, created resolved
            ("ticket_resolved", c1.pk),  # T0, resolved by the file
        ]
    )


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (
            "T2,C1,rant,,,S,,2024-05-01,",
            'kind: "rant" is not one of inquiry, complaint, suggestion',
        ),
        ("T2,C1,inquiry,done,,S,,2024-05-01,", 'status: "done" is not one of open, in_progress,'),
        ("T2,C1,inquiry,,asap,S,,2024-05-01,", 'priority: "asap" is not one of low, normal,'),
        ("T2,C1,inquiry,,,,,2024-05-01,", "subject: a value is required"),
        ("T2,C1,inquiry,,,S,,2024-05-02,2024-05-01", "resolved_at: is before opened_at"),
        (
            "T0,C1,inquiry,,,S,,2024-05-02,",
            "opened_at: the stored resolved_at 2024-05-01 10:00 is before opened_at",
        ),
    ],
)
def test_tickets_bad_row(c1: Customer, row: str, reason: str) -> None:
    TicketFactory(
        customer=c1,
        external_id="T0",
        opened_at=_at("2024-04-01T00:00:00+08:00"),
        resolved_at=_at("2024-05-01T10:00:00+08:00"),
        status="resolved",
    )

    run = _import("tickets", TICKET_HEADER, "T1,C1,inquiry,,,Question,,2024-05-01,", row)

    assert run.status == ImportStatus.REJECTED
    assert run.errors[0].startswith(f"line 3: {reason}"), run.errors
    assert not Ticket.objects.filter(external_id="T1").exists()


# --------------------------------------------------------------------------------- surveys


def test_surveys_file_links_tickets_and_announces(
    c1: Customer, c2: Customer, captured: list[list]
) -> None:
    ticket = TicketFactory(customer=c1, external_id="T1")

    run = _import(
        "surveys",
        SURVEY_HEADER,
        "S1,C1,nps,9,很满意,2024-05-01,T1",
        "S2,C2,CSAT,1,Could be better,2024-05-02 18:00,",
    )

    assert run.status == ImportStatus.SUCCEEDED, run.errors
    s1, s2 = (
        SurveyResponse.objects.get(external_id="S1"),
        SurveyResponse.objects.get(external_id="S2"),
    )
    assert (s1.kind, s1.score, s1.ticket, s1.comment) == ("nps", 9, ticket, "很满意")
    assert (s2.kind, s2.score, s2.ticket) == ("csat", 1, None)
    assert _events(captured) == sorted([("survey_submitted", c1.pk), ("survey_submitted", c2.pk)])


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("S2,C1,csat,7,,2024-05-01,", "score: 7 is outside 1 to 5 for CSAT"),
        ("S2,C1,nps,11,,2024-05-01,", "score: 11 is outside 0 to 10 for NPS"),
        ("S2,C1,nps,,,2024-05-01,", "score: a value is required"),
        ("S2,C1,ces,3,,2024-05-01,", 'kind: "ces" is not one of nps, csat'),
        ("S2,C1,nps,3,,2024-05-01,T404", 'ticket_external_id: unknown ticket "T404"'),
        ("S2,C1,nps,3,,2024-05-01,T2", 'ticket_external_id: ticket "T2" belongs to another'),
    ],
)
def test_surveys_bad_row(c1: Customer, c2: Customer, row: str, reason: str) -> None:
    TicketFactory(customer=c2, external_id="T2")

    run = _import("surveys", SURVEY_HEADER, "S1,C1,nps,10,,2024-05-01,", row)

    assert run.status == ImportStatus.REJECTED
    assert run.errors[0].startswith(f"line 3: {reason}"), run.errors
    assert not SurveyResponse.objects.exists()


# --------------------------------------------------------------------------------- command


@pytest.fixture
def orders_csv(tmp_path: Path) -> Callable[..., Path]:
    def write(*rows: str) -> Path:
        path = tmp_path / "orders.csv"
        path.write_text("\n".join([ORDER_HEADER, *rows]) + "\n", encoding="utf-8")
        return path

    return write


def test_command_prints_counts_and_seconds(c1: Customer, orders_csv: Callable[..., Path]) -> None:
    out = io.StringIO()
    path = orders_csv("O1,C1,2024-01-01,10,,,,", "O2,C1,2024-01-02,20,,,,")

    call_command("import_csv", "orders", str(path), "--no-events", stdout=out)

    assert re.fullmatch(
        r"orders orders\.csv: 2 rows, 2 created, 0 updated, 0 unchanged in \d+\.\d\d s\n",
        out.getvalue(),
    )
    assert Order.objects.count() == 2


def test_command_records_who_ran_it(c1: Customer, orders_csv: Callable[..., Path]) -> None:
    user = UserFactory(username="ops", role="admin")

    call_command(
        "import_csv", "orders", str(orders_csv("O1,C1,2024-01-01,10,,,,")), "--user", "ops"
    )

    assert ImportRun.objects.get().started_by == user
    assert AuditLog.objects.get(action="import.run").actor == user


def test_command_exits_non_zero_and_prints_every_bad_line(
    c1: Customer, orders_csv: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # run_from_argv closes the connections when done; the test's transaction needs its own.
    monkeypatch.setattr(connections, "close_all", lambda: None)
    path = orders_csv("O1,C1,2024-01-01,10,,,,", "O2,C9,2024-01-02,-20,,,,")
    command = ImportCommand(stdout=io.StringIO(), stderr=io.StringIO())

    with pytest.raises(SystemExit) as exit_info:
        command.run_from_argv(["manage.py", "import_csv", "orders", str(path)])

    assert exit_info.value.code == 1
    errors = command.stderr._out.getvalue().splitlines()
    assert errors[0] == (
        'line 3: amount: "-20" is negative; customer_external_id: unknown customer "C9"'
    )
    assert errors[1].startswith("CommandError: orders.csv: rejected, nothing was imported")
    assert not Order.objects.exists()

    good = orders_csv("O1,C1,2024-01-01,10,,,,")
    command.run_from_argv(["manage.py", "import_csv", "orders", str(good)])
    assert Order.objects.count() == 1


def test_command_refuses_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="no such file") as error:
        call_command("import_csv", "orders", str(tmp_path / "nope.csv"))
    assert error.value.returncode == 2


# -------------------------------------------------------------------------- page and API


def _upload(text: str, name: str = "orders.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode("utf-8"), content_type="text/csv")


@pytest.mark.parametrize(
    ("role_user", "expected"),
    [(None, 302), ("agent", 403), ("supervisor", 200), ("admin", 200)],
    indirect=["role_user"],
)
def test_upload_page_is_for_supervisors_and_admins(
    client: object, role_user: object, expected: int
) -> None:
    if role_user is not None:
        client.force_login(role_user)

    response = client.get("/import/")

    assert response.status_code == expected
    if expected == 302:
        assert response["Location"].startswith("/accounts/login/")


def test_agent_cannot_import_through_the_page(client: object, agent_user: object) -> None:
    client.force_login(agent_user)
    response = client.post("/import/", {"kind": "customers", "file": _upload("external_id\nC1")})
    assert response.status_code == 403
    assert not Customer.objects.exists()


def test_upload_page_imports_and_shows_counts_or_bad_lines(
    client: object, supervisor_user: object, c1: Customer, settings: object
) -> None:
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 10  # stream the upload from a temporary file
    client.force_login(supervisor_user)

    good = client.post(
        "/import/", {"kind": "orders", "file": _upload(f"{ORDER_HEADER}\nO1,C1,2024-01-01,10,,,,")}
    )

    assert good.status_code == 200
    assert good.context["run"].status == ImportStatus.SUCCEEDED
    assert good.context["run"].started_by == supervisor_user
    assert Order.objects.count() == 1
    assert "Imported" in good.content.decode()

    bad = client.post(
        "/import/",
        {"kind": "orders", "file": _upload(f"{ORDER_HEADER}\nO2,C1,2024-01-01,-10,,,,")},
    )

    assert bad.status_code == 200
    body = bad.content.decode()
    assert "line 2: amount: &quot;-10&quot; is negative" in body
    assert Order.objects.count() == 1
    assert ImportRun.objects.filter(status=ImportStatus.REJECTED).count() == 1


@pytest.mark.parametrize(
    ("role_user", "expected"),
    [(None, 403), ("agent", 403), ("supervisor", 201), ("admin", 201)],
    indirect=["role_user"],
)
def test_api_import_is_for_supervisors_and_admins(
    api_as: Callable[[object | None], object], role_user: object, expected: int, c1: Customer
) -> None:
    client = api_as(role_user)

    response = client.post(
        "/api/imports/",
        {"kind": "orders", "file": _upload(f"{ORDER_HEADER}\nO1,C1,2024-01-01,10,,,,")},
        format="multipart",
    )

    assert response.status_code == expected
    assert Order.objects.count() == (1 if expected == 201 else 0)
    if expected == 201:
        assert response.json()["created"] == 1
        assert response.json()["errors"] == []
    listed = client.get("/api/imports/")
    assert listed.status_code == (200 if expected == 201 else 403)


def test_api_bad_file_is_a_400_with_every_bad_line(
    api_as: Callable[[object | None], object], crm_admin_user: object, c1: Customer
) -> None:
    client = api_as(crm_admin_user)

    response = client.post(
        "/api/imports/",
        {
            "kind": "orders",
            "file": _upload(f"{ORDER_HEADER}\nO1,C1,2024-01-01,10,,,,\nO1,C7,2024-02-30,5,,,,"),
            "no_events": "true",
        },
        format="multipart",
    )

    assert response.status_code == 400
    assert response.json()["errors"] == [
        f'line 3: placed_at: "2024-02-30" is not a date or time {DATE_HINT}; '
        'external_id: "O1" appears more than once in the file (first on line 2); '
        'customer_external_id: unknown customer "C7"'
    ]
    assert not Order.objects.exists()
    run_id = response.json()["run"]["id"]
    detail = client.get(f"/api/imports/{run_id}/")
    assert detail.json()["status"] == "rejected"
    assert detail.json()["errors"] == response.json()["errors"]
    listed = client.get("/api/imports/").json()["results"]
    assert [item["id"] for item in listed] == [run_id]


def test_api_refuses_an_unknown_kind(
    api_as: Callable[[object | None], object], supervisor_user: object
) -> None:
    response = api_as(supervisor_user).post(
        "/api/imports/", {"kind": "pets", "file": _upload("x\n")}, format="multipart"
    )
    assert response.status_code == 400
    assert "kind" in response.json()


# ------------------------------------------------------------------------------------ docs


def test_docs_describe_every_column_of_every_kind() -> None:
    docs = (ROOT / "docs" / "import.md").read_text(encoding="utf-8")
    for kind, spec in IMPORT_KINDS.items():
        assert f"## {kind}" in docs
        for column in spec.columns:
            assert f"`{column.name}`" in docs, (kind, column.name)
