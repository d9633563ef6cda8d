"""/api/v1/tasks/{id}/attachments/ and /api/v1/attachments/{id}/...: files on tasks.

Downloads check the caller's membership on every request (a removed member's old link
stops working), stream from storage a part at a time with single-range requests
honoured, and are always downloads: `Content-Disposition: attachment`, `nosniff`, and a
CSP that runs nothing even if a browser were to render the bytes.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from django.core.files.storage import default_storage
from django.db.models import QuerySet
from django.http import HttpResponse, HttpResponseBase, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from tasks import selectors
from tasks.api.base import ParentEndpoint, TaskEndpoint, none_match
from tasks.models import Attachment
from tasks.permissions import Action
from tasks.serializers.attachments import AttachmentSerializer, UploadSerializer
from tasks.services import attachments as attachment_services

logger = logging.getLogger(__name__)

CHUNK_BYTES = 64 * 1024
DOWNLOAD_CSP = "default-src 'none'; sandbox; frame-ancestors 'none'"
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
_BEYOND_ANY_FILE = 10**18  # (a position with more digits than this means "past the end")


class AttachmentEndpoint(ParentEndpoint[Attachment]):
    lookup = "attachment_id"
    attachment: Attachment

    def parent_queryset(self) -> QuerySet[Attachment]:
        return Attachment.objects.all()

    def found(self, parent: Attachment) -> None:
        self.attachment = parent


class TaskAttachmentsView(TaskEndpoint):
    serializer_class = AttachmentSerializer
    queryset = Attachment.objects.none()  # for the schema; reads go through selectors
    parser_classes = [MultiPartParser]
    actions = {"GET": Action.VIEW, "POST": Action.ATTACH_FILES}

    @extend_schema(operation_id="tasks_attachments_list", responses=AttachmentSerializer(many=True))
    def get(self, request: Request, task_id: Any) -> Response:
        page = self.paginate_queryset(selectors.attachments_of(task=self.task))
        return self.get_paginated_response(AttachmentSerializer(page, many=True).data)

    @extend_schema(
        request={"multipart/form-data": UploadSerializer},
        responses={
            201: AttachmentSerializer,
            413: OpenApiResponse(description="over ATTACHMENT_MAX_BYTES"),
            415: OpenApiResponse(description="a refused type"),
        },
    )
    def post(self, request: Request, task_id: Any) -> Response:
        upload = request.FILES.get("file")
        attachment = attachment_services.attachment_create(actor=self.user, task=self.task, upload=upload)
        return Response(AttachmentSerializer(attachment).data, status=status.HTTP_201_CREATED)


class AttachmentDetailView(AttachmentEndpoint):
    serializer_class = AttachmentSerializer
    # Deleting: the uploader (member+) or an admin; the service checks which under the lock.
    actions = {"GET": Action.VIEW, "DELETE": Action.ATTACH_FILES}

    def object_action(self, attachment: Attachment) -> Action | None:
        if self.request.method == "DELETE" and attachment.uploader_id != self.user.pk:
            return Action.DELETE_OTHERS_ATTACHMENTS
        return None

    def get(self, request: Request, attachment_id: Any) -> Response:
        return Response(AttachmentSerializer(self.attachment).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, attachment_id: Any) -> Response:
        attachment_services.attachment_delete(actor=self.user, attachment_id=self.attachment.pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AttachmentDownloadView(AttachmentEndpoint):
    actions = {"GET": Action.VIEW}

    @extend_schema(
        operation_id="attachments_download",
        responses={
            (200, "*/*"): OpenApiTypes.BINARY,  # (the file's own type, sniffed at upload)
            (206, "*/*"): OpenApiTypes.BINARY,
            304: OpenApiResponse(description="If-None-Match names the file's ETag"),
            416: OpenApiResponse(description="a range outside the file"),
        },
    )
    def get(self, request: Request, attachment_id: Any) -> HttpResponseBase:
        attachment = self.attachment
        return file_response(
            request,
            name=str(attachment.file.name),
            size=attachment.size,
            etag=f'"{attachment.sha256}"',
            content_type=attachment.content_type,
            filename=attachment.filename,
        )


class AttachmentThumbnailView(AttachmentEndpoint):
    actions = {"GET": Action.VIEW}

    @extend_schema(
        operation_id="attachments_thumbnail",
        responses={(200, "image/png"): OpenApiTypes.BINARY, 404: OpenApiResponse(description="no thumbnail (yet)")},
    )
    def get(self, request: Request, attachment_id: Any) -> HttpResponseBase:
        attachment = self.attachment
        if not attachment.thumbnail.name:
            return Response({"detail": "This attachment has no thumbnail."}, status=status.HTTP_404_NOT_FOUND)
        try:
            size = default_storage.size(attachment.thumbnail.name)
        except Exception:  # (gone from storage: a file system's OSError, an S3 ClientError)
            return Response({"detail": "This attachment has no thumbnail."}, status=status.HTTP_404_NOT_FOUND)
        stem = attachment.filename.rsplit(".", 1)[0] or "file"
        return file_response(
            request,
            name=str(attachment.thumbnail.name),
            size=size,
            etag=f'"{attachment.sha256[:32]}-thumb"',
            content_type="image/png",
            filename=f"{stem}-thumbnail.png",
        )


def content_disposition(filename: str) -> str:
    """RFC 6266: an ASCII fallback and the exact name in `filename*` (RFC 5987)."""
    fallback = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\;%' else "_" for ch in filename) or "file"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def byte_range(header: str | None, size: int) -> tuple[int, int] | bool | None:
    """The one range asked for as (first, last), None for the whole file (no header, or one
    we serve whole: several ranges, another unit), False when it cannot be satisfied."""
    if not header:
        return None
    match = _RANGE.fullmatch(header.strip())
    if match is None:
        return None
    first, last = (
        digits if len(digits) <= 18 else str(_BEYOND_ANY_FILE) for digits in match.groups()
    )  # (int() of thousands of digits is refused, and slow)
    if first == "" and last == "":
        return None
    if first == "":  # the last N bytes
        length = int(last)
        if length == 0:
            return False
        return max(size - length, 0), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last != "" else size - 1
    if start >= size or (last != "" and int(last) < start):
        return False
    return start, end


def file_response(
    request: Request, *, name: str, size: int, etag: str, content_type: str, filename: str
) -> HttpResponseBase:
    headers = {
        "ETag": etag,
        "Accept-Ranges": "bytes",
        "Content-Disposition": content_disposition(filename),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": DOWNLOAD_CSP,
        "Cache-Control": "private, no-cache",
        "Cross-Origin-Resource-Policy": "same-origin",
    }
    if none_match(request, etag):
        return HttpResponse(status=304, headers=headers)
    if not default_storage.exists(name):  # (before the headers promise a length)
        logger.error("stored file %s is missing", name)
        return HttpResponse(
            b'{"detail":"The file is missing from storage."}', status=404, content_type="application/json"
        )
    asked = request.headers.get("Range")
    if_range = request.headers.get("If-Range")
    if asked and if_range is not None and if_range.strip() != etag:
        asked = None  # (the file changed since the client's copy: send it whole)
    span = byte_range(asked, size)
    if span is False:
        return HttpResponse(status=416, headers={**headers, "Content-Range": f"bytes */{size}"})
    first, last = span if isinstance(span, tuple) else (0, size - 1)
    code = 206 if isinstance(span, tuple) else 200
    response: HttpResponseBase
    if request.method == "HEAD":  # (the headers only: storage is not opened)
        response = HttpResponse(status=code, content_type=content_type)
    else:
        response = StreamingHttpResponse(stream(name, first, last), status=code, content_type=content_type)
    for header, value in headers.items():
        response[header] = value
    response["Content-Length"] = str(last - first + 1)
    if isinstance(span, tuple):
        response["Content-Range"] = f"bytes {first}-{last}/{size}"
    return response


def stream(name: str, first: int, last: int) -> Iterator[bytes]:
    """The stored bytes first..last, a part at a time (opened when sending starts)."""
    with default_storage.open(name, "rb") as stored:
        stored.seek(first)
        left = last - first + 1
        while left > 0:
            part = stored.read(min(CHUNK_BYTES, left))
            if not part:
                return
            left -= len(part)
            yield part
