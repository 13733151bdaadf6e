"""CSV import edge cases: a broken quote refuses the file at the line where it opened; digits of
other scripts are the numbers they read as; nothing a row check accepts is refused later by
PostgreSQL (which would hide every other bad line), and every bad line is reported."""

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql

from callcenter.choices import ImportStatus
from callcenter.models import Customer, ImportRun, Interaction, Order, SurveyResponse
from callcenter.services.imports import IMPORT_KINDS, csv_import
from callcenter.services.imports.cells import CellError
from tests.callcenter.factories import CustomerFactory

pytestmark = pytest.mark.django_db

ORDER_HEADER = "external_id,customer_external_id,placed_at,amount,currency,category,channel,status"
QUOTE_MISSING = 'a quoted cell starts in this row and its closing quote (") is missing'


def _import(kind: str, text: str, **kwargs: object) -> ImportRun:
    return csv_import(
        kind=kind, file=io.BytesIO(text.encode("utf-8")), file_name=f"{kind}.csv", **kwargs
    )


@pytest.fixture
def c1() -> Customer:
    return CustomerFactory(external_id="C1", name="王芳")


# ------------------------------------------------------------------------------ broken quotes


def test_an_unterminated_quote_refuses_the_file_at_the_line_where_it_opened() -> None:
    # given: the quote opened on line 2 never closes, so it swallows every line after it
    text = 'external_id,name\nSQ-1,"Alice\nSQ-2,Bob\nSQ-3,Carol\nSQ-4,Dan\n'

    # when
    run = _import("customers", text)

    # then: refused, and no customer named "Alice\nSQ-2,Bob..." (or any other) exists
    assert run.status == ImportStatus.REJECTED
    assert run.errors == [f"line 2: {QUOTE_MISSING}"]
    assert not Customer.objects.exists()


def test_an_unterminated_quote_after_good_and_bad_rows_reports_all_of_them() -> None:
    text = 'external_id,name,birthday\nSQ-1,Alice,\nSQ-2,Bob,1990-13-01\nSQ-3,"Carol,\nSQ-4,Dan,\n'

    run = _import("customers", text)

    assert run.errors == [
        'line 3: birthday: "1990-13-01" is not a date (use YYYY-MM-DD)',
        f"line 4: {QUOTE_MISSING}",
    ]
    assert not Customer.objects.exists()


def test_text_after_a_closing_quote_is_a_bad_line_and_reading_goes_on() -> None:
    text = 'external_id,name,birthday\nSQ-1,"Alice" Smith,\nSQ-2,Bob,2990-01-01\n'

    run = _import("customers", text)

    assert run.errors == [
        "line 2: a quoted cell in this row has text after its closing quote "
        '(inside a quoted cell write a quote as "")',
        'line 3: birthday: "2990-01-01" is outside the years 1900 to 2100',
    ]
    assert not Customer.objects.exists()


def test_a_quote_that_swallows_more_than_a_cell_may_hold_is_reported_where_it_opened() -> None:
    rows = "".join(f"SQ-{n},Name {n}\n" for n in range(2, 12_000))
    text = f'external_id,name\nSQ-1,"Alice\n{rows}'

    run = _import("customers", text)

    assert run.status == ImportStatus.REJECTED
    assert run.errors[0].startswith("line 2: a cell in this row is longer than 131072 characters")
    assert not Customer.objects.exists()


def test_quoted_cells_with_commas_quotes_and_new_lines_still_import(c1: Customer) -> None:
    text = (
        "external_id,customer_external_id,channel,occurred_at,notes\n"
        'I1,C1,call,2024-05-01,"said ""hello"", then\nhung up"\n'
    )

    run = _import("interactions", text)

    assert run.status == ImportStatus.SUCCEEDED, run.errors
    assert Interaction.objects.get().notes == 'said "hello", then\nhung up'


# ------------------------------------------------------------------------- digits and dates


def test_full_width_and_arabic_indic_digits_are_the_numbers_they_read_as(c1: Customer) -> None:
    text = (
        f"{ORDER_HEADER}\n"
        "O1,C1,２０２４－０３－０１,１２.00,,,,\n"
        "O2,C1,٢٠٢٤-٠٣-٠٢ ١٠:٣٠,٣.٠٠,,,,\n"
        "O3,C1,2024/3/3,１２．５,,,,\n"
    )

    run = _import("orders", text)

    assert run.status == ImportStatus.SUCCEEDED, run.errors
    orders = {o.external_id: o for o in Order.objects.all()}
    assert orders["O1"].amount == Decimal("12.00")
    assert orders["O2"].amount == Decimal("3.00")
    assert orders["O3"].amount == Decimal("12.50")
    shanghai = dt.timezone(dt.timedelta(hours=8))
    assert orders["O1"].placed_at == dt.datetime(2024, 3, 1, tzinfo=shanghai)
    assert orders["O2"].placed_at == dt.datetime(2024, 3, 2, 10, 30, tzinfo=shanghai)


def test_full_width_digits_no_longer_hide_a_bad_date_on_another_line(c1: Customer) -> None:
    # Before, PostgreSQL refused "１２.00" during the COPY: one error without a line number,
    # and the bad date on line 3 was never reported.
    text = f"{ORDER_HEADER}\nO1,C1,2024-03-01,１２.00,,,,\nO2,C1,2024-02-30,5,,,,\n"

    run = _import("orders", text)

    assert run.errors == [
        'line 3: placed_at: "2024-02-30" is not a date or time '
        "(use YYYY-MM-DD or YYYY-MM-DD HH:MM[:SS][+08:00])"
    ]
    assert not Order.objects.exists()


def test_digits_of_other_scripts_in_counts_scores_phones_and_birthdays(c1: Customer) -> None:
    customers = _import(
        "customers",
        "external_id,name,phone,birthday,employee_count\n"
        "C2,Li,１３８ ００１３ ８０００,１９９０－０５－０１,１２０\n",
    )
    surveys = _import(
        "surveys",
        "external_id,customer_external_id,kind,score,responded_at\nS1,C1,nps,９,2024-05-01\n",
    )
    calls = _import(
        "interactions",
        "external_id,customer_external_id,channel,occurred_at,duration_seconds\n"
        "I1,C1,call,2024-05-01,６０\n",
    )

    assert [r.status for r in (customers, surveys, calls)] == [ImportStatus.SUCCEEDED] * 3
    li = Customer.objects.get(external_id="C2")
    assert (li.birthday, li.employee_count) == (dt.date(1990, 5, 1), 120)
    assert li.contact_points.get().value == "+8613800138000"
    assert SurveyResponse.objects.get().score == 9
    assert Interaction.objects.get().duration_seconds == 60


def test_a_negative_full_width_amount_is_reported_as_written(c1: Customer) -> None:
    run = _import("orders", f"{ORDER_HEADER}\nO1,C1,2024-03-01,－５,,,,\n")
    assert run.errors == ['line 2: amount: "－５" is negative']


@pytest.mark.parametrize("offset", ["+15:00", "-16:00", "+23:59"])
def test_an_offset_postgresql_would_refuse_is_a_bad_line(c1: Customer, offset: str) -> None:
    text = f"{ORDER_HEADER}\nO1,C1,2024-03-01 10:00{offset},1,,,,\nO2,C1,2024-03-01,-1,,,,\n"

    run = _import("orders", text)

    assert run.errors == [
        f'line 2: placed_at: "2024-03-01 10:00{offset}" has a UTC offset beyond ±14:00',
        'line 3: amount: "-1" is negative',
    ]


def test_nul_characters_make_their_line_bad_and_every_other_bad_line_is_reported(
    c1: Customer,
) -> None:
    text = f"{ORDER_HEADER}\nO1,C1,2024-03-01,1,,ele\x00ctronics,,\nO2,C1,2024-03-01,-1,,,,\n"

    run = _import("orders", text)

    assert run.errors == [
        "line 2: contains a NUL character (is this a text file?)",
        'line 3: amount: "-1" is negative',
    ]
    assert not Order.objects.exists()


def test_a_utf16_file_is_refused_with_a_hint() -> None:
    run = csv_import(
        kind="orders", file=io.BytesIO(ORDER_HEADER.encode("utf-16")), file_name="o.csv"
    )
    assert run.errors == ["line 1: the file is UTF-16 text; save it as CSV UTF-8"]


# ------------------------------------------- what a row check accepts, PostgreSQL accepts

# Cells as the parsers get them: stripped, non-empty, no NUL (dropped when the line is read).
# Besides any text, the strategies favour digits, signs and separators of many scripts, which
# is where a parser and PostgreSQL are most likely to disagree.
DIGITS = "0123456789０１２３４５６７８９٠١٢٣٤٥٦٧٨٩०१२३४५६७८९߀߁"
PUNCTUATION = ".．,-－:：/／+＋ TZ\u3000٫e_"
cells = (
    st.one_of(
        st.text(
            st.characters(blacklist_characters="\x00", blacklist_categories=["Cs"]), min_size=1
        ),
        st.text(st.sampled_from(DIGITS + PUNCTUATION), min_size=1, max_size=32),
        st.builds(
            lambda y, m, d, rest: f"{y}-{m}-{d}{rest}",
            st.text(st.sampled_from(DIGITS), min_size=4, max_size=4),
            st.text(st.sampled_from(DIGITS), min_size=1, max_size=2),
            st.text(st.sampled_from(DIGITS), min_size=1, max_size=2),
            st.text(st.sampled_from(DIGITS + PUNCTUATION), max_size=16),
        ),
    )
    .map(str.strip)
    .filter(bool)
)

# Each distinct column once (the id columns are shared by several kinds).
COLUMNS = sorted(
    {
        column: (kind, column.name)
        for kind, spec in reversed(IMPORT_KINDS.items())
        for column in spec.columns
    }.values()
)


@pytest.mark.parametrize(("kind", "name"), COLUMNS)
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much],
)
@given(cell=cells)
def test_every_value_a_column_accepts_is_stored_by_postgresql(
    kind: str, name: str, cell: str
) -> None:
    column = next(c for c in IMPORT_KINDS[kind].columns if c.name == name)
    try:
        parsed = column.parse(cell)
    except CellError:
        return
    values = list(parsed) if len(column.fields) > 1 else [parsed]
    table = sql.SQL("CREATE TEMP TABLE cell_check ({}) ON COMMIT DROP").format(
        sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(field), sql.SQL(sql_type))
            for field, sql_type in column.fields
        )
    )
    # The staging COPY reads date-times without an offset in TIME_ZONE, as here.
    with transaction.atomic(), connection.connection.cursor() as cur:
        cur.execute("SELECT set_config('TimeZone', 'Asia/Shanghai', true)")
        cur.execute(table)
        with cur.copy("COPY cell_check FROM STDIN") as copy:
            copy.write_row(values)
        cur.execute("DROP TABLE cell_check")
