"""The API's parsers: request bodies decoded with the limits of `callcenter.jsoninput`, and
form bodies without NUL characters.

DRF's own JSONParser reads the whole body whatever its size (Django checks
DATA_UPLOAD_MAX_MEMORY_SIZE only when `request.body` is read) and lets a NUL character, a
number too large for a float or a document nested a thousand levels deep through, each of which
then fails as a server error. This one answers 400 (413 for a body over the size limit) with
`{"detail": ...}` before any view sees the data. Form and multipart bodies go through the
serializers as strings, and a NUL in one would reach a jsonb column through a DictField or a
JSONField: they are refused here too (pages are covered by
`callcenter.middleware.RefuseNulCharactersMiddleware`).
"""

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import (  # type: ignore[attr-defined]  # get_encoding: not in the stubs
    DataAndFiles,
    FormParser,
    JSONParser,
    MultiPartParser,
    get_encoding,
)

from callcenter.jsoninput import JSONInputError, json_loads_checked
from callcenter.middleware import fields_hold_nul


class RequestBodyTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "request_too_large"


class CheckedJSONParser(JSONParser):
    """JSONParser that refuses bodies over DATA_UPLOAD_MAX_MEMORY_SIZE, NUL characters in
    strings and keys, non-finite numbers and nesting deeper than MAX_JSON_DEPTH."""

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        encoding = get_encoding(parser_context or {})
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read() if limit is None else stream.read(limit + 1)
        if limit is not None and len(raw) > limit:
            raise RequestBodyTooLarge(
                _("The request body is larger than %(max)d bytes.") % {"max": limit}
            )
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as exc:
            raise ParseError(
                _("The request body is not valid %(encoding)s.") % {"encoding": encoding}
            ) from exc
        try:
            return json_loads_checked(text)
        except JSONInputError as exc:
            raise ParseError(str(exc)) from exc


def _refuse_nul_fields(data: Any, files: Any = None) -> None:
    if fields_hold_nul(data, files):
        raise ParseError(_("Form fields must not contain NUL characters."))


class CheckedFormParser(FormParser):
    """FormParser that refuses NUL characters in field names and values."""

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        data = super().parse(stream, media_type, parser_context)
        _refuse_nul_fields(data)
        return data


class CheckedMultiPartParser(MultiPartParser):
    """MultiPartParser that refuses NUL characters in field names, values and file names."""

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> DataAndFiles:
        parsed = super().parse(stream, media_type, parser_context)
        _refuse_nul_fields(parsed.data, parsed.files)
        return parsed
