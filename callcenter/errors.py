"""One application error for services, and the DRF handler that turns it into a response."""

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler


class ApplicationError(Exception):
    """A request the service refuses, with a message for the user and optional details."""

    status_code: int = status.HTTP_400_BAD_REQUEST

    def __init__(self, message: str, *, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra or {}


class ApplicationForbidden(ApplicationError):
    """A request the caller's role or identity does not allow (403, nothing written)."""

    status_code = status.HTTP_403_FORBIDDEN


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Map ApplicationError (400, or its own status: 429 with Retry-After for a spent limit)
    and Django's ValidationError to responses with a readable body."""
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        exc = exceptions.ValidationError(detail)
    if isinstance(exc, ApplicationError):
        response = Response({"detail": exc.message, **exc.extra}, status=exc.status_code)
        retry_after = getattr(exc, "retry_after", None)
        if retry_after:
            response["Retry-After"] = str(retry_after)
        return response
    return exception_handler(exc, context)
