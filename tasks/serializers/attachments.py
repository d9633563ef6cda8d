"""Attachments: the output shape renders the event snapshot; the upload's one part."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from tasks.events import attachment_snapshot
from tasks.models import Attachment


class AttachmentSerializer(serializers.ModelSerializer[Attachment]):
    download_url = serializers.CharField(read_only=True)
    thumbnail_url = serializers.CharField(read_only=True, allow_null=True)

    class Meta:
        model = Attachment
        fields = [
            "id",
            "task",
            "uploader",
            "filename",
            "content_type",
            "size",
            "sha256",
            "created_at",
            "download_url",
            "thumbnail_url",
        ]
        read_only_fields = fields

    def to_representation(self, attachment: Attachment) -> dict[str, Any]:
        return dict(attachment_snapshot(attachment))


class UploadSerializer(serializers.Serializer[Any]):
    file = serializers.FileField()
