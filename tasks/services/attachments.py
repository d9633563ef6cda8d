"""Files on tasks: upload, delete, and the stored files that go with deleted rows.

The bytes are written to storage (Django's `default_storage`: MEDIA_ROOT, or S3) before
the transaction, under a name made of ids; then lock, check, write, record. If anything
after the write fails, the stored file is removed before the error goes on, so a failed
upload leaves nothing behind. Files of deleted rows (an attachment, a task, a project) are
removed by a job enqueued in the deleting transaction: after its commit, and again later
if storage was away.
"""

from __future__ import annotations

import hashlib
import io
import logging
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import F, Q

from accounts.models import User
from tasks import permissions
from tasks.events import Verb, attachment_snapshot, emit
from tasks.files import SNIFF_BYTES, THUMBNAIL_TYPES, safe_filename, sniff
from tasks.models import Attachment, Task, attachment_path
from tasks.permissions import Action
from tasks.services.common import lock_project
from timetodo.errors import Invalid, NotFound, UnsupportedMediaType
from timetodo.jobs import job

logger = logging.getLogger(__name__)

THUMBNAIL_SUFFIX = ".thumb.png"
THUMBNAIL_SIZE = (320, 320)
THUMBNAIL_MAX_PIXELS = 16_000_000  # larger images are not decoded (a decompression bomb guard: 64 MB as RGBA)
THUMBNAIL_FORMATS = ["PNG", "JPEG", "GIF", "WEBP", "BMP"]  # (Pillow tries no other decoder)


def _measure(upload: UploadedFile) -> tuple[bytes, str, int]:
    """The first bytes (to sniff), the SHA-256 and the size, reading the upload once."""
    digest = hashlib.sha256()
    head = b""
    size = 0
    upload.seek(0)
    for chunk in upload.chunks():
        if len(head) < SNIFF_BYTES:
            head += chunk[: SNIFF_BYTES - len(head)]
        digest.update(chunk)
        size += len(chunk)
    upload.seek(0)
    return head, digest.hexdigest(), size


def attachment_create(*, actor: User, task: Task, upload: UploadedFile | None) -> Attachment:
    """Store `upload` on `task`. 400 for no file or an empty one, 415 for a refused type
    (tasks.files); the size limit was applied while the body was read."""
    if upload is None:
        raise Invalid({"file": ["Send the file as the multipart part named 'file'."]})
    filename = safe_filename(upload.name)
    head, sha256, size = _measure(upload)
    if size == 0:
        raise Invalid({"file": ["The file is empty."]})
    sniffed = sniff(head, filename)
    if sniffed.denied:
        raise UnsupportedMediaType(f"{sniffed.reason}.")
    attachment = Attachment(
        project_id=task.project_id,
        task_id=task.pk,
        uploader=actor,
        filename=filename,
        content_type=sniffed.content_type,
        size=size,
        sha256=sha256,
    )
    intended = attachment_path(attachment, filename)
    try:
        attachment.file.save(intended, upload, save=False)
        _record_upload(actor=actor, attachment=attachment)
    except BaseException:
        # (also a part written before storage failed: the name is ours, made of ids)
        for name in {str(attachment.file.name or intended), intended}:
            if default_storage.exists(name):
                default_storage.delete(name)
        raise
    return attachment


@transaction.atomic
def _record_upload(*, actor: User, attachment: Attachment) -> None:
    project = lock_project(attachment.project_id, actor=actor)
    permissions.recheck(project=project, actor=actor, action=Action.ATTACH_FILES)
    if Task.objects.filter(pk=attachment.task_id).update(attachment_count=F("attachment_count") + 1) != 1:
        raise NotFound("Not found.")  # (the task was deleted while the file was stored)
    attachment.save(force_insert=True)
    emit(
        project=project,
        actor=actor,
        verb=Verb.ATTACHMENT_CREATED,
        target_id=attachment.pk,
        task_id=attachment.task_id,
        data=attachment_snapshot(attachment),
    )
    if attachment.content_type in THUMBNAIL_TYPES:
        make_thumbnail.enqueue(attachment_id=str(attachment.pk))


@transaction.atomic
def attachment_delete(*, actor: User, attachment_id: Any) -> None:
    """The uploader (member+) or an admin; the files go after commit."""
    project_id = Attachment.objects.filter(pk=attachment_id).values_list("project_id", flat=True).first()
    if project_id is None:
        raise NotFound("Not found.")
    project = lock_project(project_id, actor=actor)
    current = Attachment.objects.select_for_update().filter(pk=attachment_id).first()
    if current is None:
        raise NotFound("Not found.")
    own = current.uploader_id == actor.pk
    permissions.recheck(
        project=project, actor=actor, action=Action.ATTACH_FILES if own else Action.DELETE_OTHERS_ATTACHMENTS
    )
    task_id = current.task_id
    remove_files_after_commit(Attachment.objects.filter(pk=current.pk))
    current.delete()
    Task.objects.filter(pk=task_id).update(attachment_count=F("attachment_count") - 1)
    emit(
        project=project,
        actor=actor,
        verb=Verb.ATTACHMENT_DELETED,
        target_id=attachment_id,
        task_id=task_id,
        changes={"filename": [current.filename, None], "task": [str(task_id), None]},
    )


def remove_files_after_commit(attachments: Any) -> None:
    """Called in the transaction that deletes these attachments (a queryset; directly, or
    by deleting their task or project): their stored files are removed once it commits."""
    names = [name for pair in attachments.values_list("file", "thumbnail") for name in pair if name]
    if names:
        remove_stored_files.enqueue(names=names)


def files_of_tasks(task_filter: Q) -> Any:
    return Attachment.objects.filter(task__in=Task.objects.filter(task_filter).values("pk"))


@job(attempts=10, base_seconds=30, cap_seconds=3600)
def remove_stored_files(*, names: list[str]) -> int:
    """Each file and its thumbnail (named after it, so one made after the list was read
    goes too). Missing files are fine: a retry after a partial run finds some gone."""
    removed = 0
    for name in names:
        if not name.startswith("attachments/"):
            logger.error("refusing to remove %r: not an attachment's file", name)
            continue
        for stored in (name, name + THUMBNAIL_SUFFIX):
            if default_storage.exists(stored):
                default_storage.delete(stored)
                removed += 1
    return removed


@job(attempts=3, base_seconds=30, cap_seconds=600)
def make_thumbnail(*, attachment_id: str) -> str:
    """A PNG of at most THUMBNAIL_SIZE beside the image; never in a request. An image that
    Pillow cannot read, or is too large to decode safely, gets none (and the job succeeds:
    trying again would not help); storage being away fails it, to be retried."""
    attachment = Attachment.objects.filter(pk=attachment_id).first()
    if attachment is None:
        return "gone"
    with attachment.file.open("rb") as stored:
        data = stored.read()
    try:
        png = _thumbnail_of(data)
    except Exception as exc:  # (any decoder error: a corrupt file is the uploader's, not ours)
        logger.info("no thumbnail for attachment %s: %s: %s", attachment_id, type(exc).__name__, exc)
        return "unreadable"
    if png is None:
        return "too large"
    name = f"{attachment.file.name}{THUMBNAIL_SUFFIX}"
    if default_storage.exists(name):
        default_storage.delete(name)
    saved = default_storage.save(name, ContentFile(png))
    if not Attachment.objects.filter(pk=attachment_id).update(thumbnail=saved):
        default_storage.delete(saved)  # (deleted meanwhile)
        return "gone"
    return "made"


# EXIF orientation -> the transpose that shows the image upright.
_UPRIGHT = {
    2: "FLIP_LEFT_RIGHT",
    3: "ROTATE_180",
    4: "FLIP_TOP_BOTTOM",
    5: "TRANSPOSE",
    6: "ROTATE_270",
    7: "TRANSVERSE",
    8: "ROTATE_90",
}


def _thumbnail_of(data: bytes) -> bytes | None:
    """The PNG thumbnail of an image's bytes, or None if it is too large to decode. Sized
    down before it is turned upright (only the small image is copied), and a JPEG is
    decoded at a reduced scale to begin with (draft)."""
    from PIL import Image

    with Image.open(io.BytesIO(data), formats=THUMBNAIL_FORMATS) as image:
        if image.width * image.height > THUMBNAIL_MAX_PIXELS:
            return None
        try:
            orientation = int(image.getexif().get(0x0112, 1))
        except Exception:  # (unreadable EXIF: shown as stored)
            orientation = 1
        image.draft("RGB", THUMBNAIL_SIZE)
        image.thumbnail(THUMBNAIL_SIZE)
        small = image if image.mode in {"RGB", "RGBA", "L", "LA"} else image.convert("RGBA")
        if orientation in _UPRIGHT:
            small = small.transpose(getattr(Image.Transpose, _UPRIGHT[orientation]))
        out = io.BytesIO()
        small.save(out, format="PNG", optimize=True)
        return out.getvalue()
