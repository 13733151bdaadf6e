"""The Import page in a real browser with a real worker: a large file shows its progress, then
the result; a refused file lists its bad lines (in Chinese for a Chinese user), and nothing is
imported."""

import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from callcenter.choices import ImportStatus, Role
from callcenter.models import ImportRun, Order
from callcenter.services.imports import csv_import
from tests.e2e.conftest import shot

# A background import of ORDERS rows takes seconds; the worker may still be starting.
IMPORT_TIMEOUT_MS = 120_000
ORDERS = 120_000
CUSTOMERS = 300
ORDER_HEADER = "external_id,customer_external_id,placed_at,amount,currency,category,channel,status"
PHASES = (
    "Waiting for a worker|Reading and checking rows|Checking references|Writing|"
    "Announcing events|Done"
)


def _customers() -> None:
    rows = "".join(f"E2E-C{n},Customer {n}\n" for n in range(CUSTOMERS))
    run = csv_import(
        kind="customers",
        file=io.BytesIO(f"external_id,name\n{rows}".encode()),
        file_name="customers.csv",
        announce=False,
    )
    assert run.status == ImportStatus.SUCCEEDED, run.errors


def _orders_file(folder: Path, count: int, *bad: str) -> Path:
    path = folder / "orders.csv"
    with path.open("w", encoding="utf-8") as file:
        file.write(ORDER_HEADER + "\n")
        for n in range(count):
            file.write(f"E2E-O{n},E2E-C{n % CUSTOMERS},2024-02-01,{n % 500}.90,,,,\n")
        for line in bad:
            file.write(line + "\n")
    return path


def test_a_large_file_shows_its_progress_then_the_result(
    logged_in: Callable[..., Any], real_worker: str, tmp_path: Path, settings: Any
) -> None:
    settings.IMPORT_SYNC_MAX_KB = 64
    _customers()
    path = _orders_file(tmp_path, ORDERS)
    page = logged_in(Role.SUPERVISOR)

    page.goto("/import/")
    page.select_option("select[name=kind]", "orders")
    page.set_input_files("input[name=file]", str(path))
    page.check("input[name=no_events]")
    page.get_by_role("button", name="Import", exact=True).click()

    # the page follows the worker: a progress bar with the phase, then the result
    expect(page.get_by_test_id("import-progress")).to_be_visible()
    expect(page.get_by_test_id("import-phase")).to_have_text(re.compile(PHASES))
    shot(page, "import-progress")
    done = page.get_by_test_id("import-done")
    expect(done).to_be_visible(timeout=IMPORT_TIMEOUT_MS)
    expect(done).to_contain_text("Imported Orders from orders.csv.")
    expect(page.locator("#import-result")).to_contain_text(f"{ORDERS}")
    expect(page.get_by_test_id("import-progress")).to_have_count(0)
    expect(page.locator("#import-history tbody tr").first).to_contain_text("Imported")
    shot(page, "import-done")
    assert Order.objects.filter(external_id__startswith="E2E-O").count() == ORDERS


def test_a_refused_file_lists_its_bad_lines_in_the_users_language(
    logged_in: Callable[..., Any], real_worker: str, tmp_path: Path, settings: Any
) -> None:
    settings.IMPORT_SYNC_MAX_KB = 64
    _customers()
    path = _orders_file(tmp_path, 5_000, "E2E-X1,E2E-C1,2024-02-01,-1,,,,", "E2E-X2,E2E-C1,,1,,,,")
    page = logged_in(Role.SUPERVISOR, "e2e_import_zh", locale="zh-CN")

    page.goto("/import/")
    page.select_option("select[name=kind]", "orders")
    page.set_input_files("input[name=file]", str(path))
    page.get_by_role("button", name="导入", exact=True).click()

    rejected = page.get_by_test_id("import-rejected")
    expect(rejected).to_be_visible(timeout=IMPORT_TIMEOUT_MS)
    errors = page.locator("#import-errors li")
    expect(errors).to_have_text(
        ["第 5002 行：amount: “-1”是负数", "第 5003 行：placed_at: 必须填写此值"]
    )
    shot(page, "import-refused-zh")
    run = ImportRun.objects.get(file_name="orders.csv", status=ImportStatus.REJECTED)
    assert run.language == "zh-hans"
    assert not Order.objects.filter(external_id__startswith="E2E-").exists()
