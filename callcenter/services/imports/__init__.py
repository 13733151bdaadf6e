"""CSV import of the customer-profile domain (customers, orders, interactions, tickets, surveys).

The column reference is docs/import.md. Split by step: `cells` (parsing one cell), `staging`
(streaming the file into a COPY), `customers` and `activity` (each kind's SQL), `run` (the
transaction and the record of the run), `background` (uploads, and large ones imported by a
worker with live progress).
"""

from .background import (
    import_progress,
    import_run_execute,
    import_runs_in_background,
    import_size_check,
    import_size_message,
    import_upload,
    import_upload_limit,
)
from .base import ERROR_REPORT_LIMIT, EVENT_BATCH_SIZE, KindSpec
from .run import IMPORT_KINDS, PHASE_PERCENT, csv_import

__all__ = [
    "ERROR_REPORT_LIMIT",
    "EVENT_BATCH_SIZE",
    "IMPORT_KINDS",
    "PHASE_PERCENT",
    "KindSpec",
    "csv_import",
    "import_progress",
    "import_run_execute",
    "import_runs_in_background",
    "import_size_check",
    "import_size_message",
    "import_upload",
    "import_upload_limit",
]
