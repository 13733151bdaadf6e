"""CSV import of the customer-profile domain (customers, orders, interactions, tickets, surveys).

The column reference is docs/import.md. Split by step: `cells` (parsing one cell), `staging`
(streaming the file into a COPY), `customers` and `activity` (each kind's SQL), `run` (the
transaction and the record of the run).
"""

from .base import ERROR_REPORT_LIMIT, EVENT_BATCH_SIZE, KindSpec
from .run import IMPORT_KINDS, csv_import

__all__ = ["ERROR_REPORT_LIMIT", "EVENT_BATCH_SIZE", "IMPORT_KINDS", "KindSpec", "csv_import"]
