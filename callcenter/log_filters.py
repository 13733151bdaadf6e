"""Logging filters the settings' LOGGING installs."""

import logging

# Responses below this status are refusals (403, 404, 400...), not failures.
SERVER_ERROR = 500


class RefusalWithoutTraceback(logging.Filter):
    """A refused request (a `django.request` record with a 4xx `status_code`) logs one line.

    Django attaches the PermissionDenied it caught to the "Forbidden (Permission denied)"
    record, so every refusal printed a traceback of an expected outcome; server errors keep
    theirs."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if isinstance(status, int) and status < SERVER_ERROR:
            record.exc_info = None
            record.exc_text = None
        return True
