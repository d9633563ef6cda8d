"""Uploads: streamed to a temporary file, and refused (413) as soon as one is too large.

Django's own handlers keep small files in memory and have no size limit for files. This
one writes every file to a temporary file as its chunks arrive (never the whole upload in
memory) and stops the request with 413 once a file passes ATTACHMENT_MAX_BYTES, or at
once when the declared body is larger than that allows, before anything is stored. (The
ASGI handler also refuses a body larger than REQUEST_BODY_MAX_BYTES while reading it.)
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.files.uploadhandler import TemporaryFileUploadHandler

from timetodo.errors import PayloadTooLarge

# Room for the multipart framing and a few small fields beside the file.
MULTIPART_OVERHEAD_BYTES = 1024 * 1024


def too_large() -> PayloadTooLarge:
    limit = settings.ATTACHMENT_MAX_BYTES
    shown = f"{limit / 1024 / 1024:g} MiB" if limit >= 1024 * 1024 else f"{limit} bytes"
    return PayloadTooLarge(f"The file is larger than the limit of {shown}.")


class LimitedUploadHandler(TemporaryFileUploadHandler):
    def handle_raw_input(
        self, input_data: Any, META: Any, content_length: int, boundary: Any, encoding: str | None = None
    ) -> None:
        if content_length > settings.ATTACHMENT_MAX_BYTES + MULTIPART_OVERHEAD_BYTES:
            raise too_large()

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        self.received = 0
        super().new_file(*args, **kwargs)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.received += len(raw_data)
        if self.received > settings.ATTACHMENT_MAX_BYTES:
            self.file.close()  # (the temporary file goes now)
            raise too_large()
        return super().receive_data_chunk(raw_data, start)
