"""An upload handler that refuses files above IMPORT_MAX_UPLOAD_MB while the request is read.

It comes first in FILE_UPLOAD_HANDLERS, so it runs whoever reads the body first (the CSRF
check of a page, the API's parser): a file above the limit is skipped, neither held in memory
nor written to a temporary file, and the request is marked (`request.upload_refused_size`, the
size in bytes as far as it is known) so the Import page and the API answer with a clear
error. The other form fields are still read, so the page's CSRF token still counts.
"""

from typing import Any

from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.http import HttpRequest

from callcenter.services.imports import import_upload_limit

# Room for the other fields and the multipart framing of a request whose only large part is
# the file: a request this much over the limit cannot hold a file within it.
MULTIPART_SLACK_BYTES = 64 * 1024
# The attribute a request whose file was skipped gets: the file's size in bytes, as far as known.
REFUSED_SIZE_ATTRIBUTE = "upload_refused_size"


class UploadSizeLimitHandler(FileUploadHandler):
    """Skips an uploaded file as soon as it is known to exceed IMPORT_MAX_UPLOAD_MB."""

    def __init__(self, request: HttpRequest | None = None) -> None:
        super().__init__(request)
        self.limit = import_upload_limit()
        self.request_length = 0

    def handle_raw_input(
        self,
        input_data: Any,
        META: dict[str, Any],  # noqa: N803 - Django's argument name
        content_length: int,
        boundary: bytes | str,
        encoding: str | None = None,
    ) -> None:
        self.request_length = content_length or 0

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        if self.request_length > self.limit + MULTIPART_SLACK_BYTES:
            self._refuse(self.request_length)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        if start + len(raw_data) > self.limit:
            self._refuse(max(self.request_length, start + len(raw_data)))
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None

    def _refuse(self, size: int) -> None:
        if self.request is not None:
            setattr(self.request, REFUSED_SIZE_ATTRIBUTE, size)
        raise SkipFile
