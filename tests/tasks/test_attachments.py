"""Files on tasks through HTTP: upload, list, download with ranges, delete, and bad input.

Storage is a real FileSystemStorage in a scratch MEDIA_ROOT; what is on disk is checked
after each rule (nothing stored for a refused upload, nothing left after a delete).
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from tasks.files import safe_filename
from tasks.models import Activity, Attachment, Task
from tasks.services.attachments import make_thumbnail, remove_stored_files
from tests.helpers.teams import Team

pytestmark = pytest.mark.django_db

PNG_HEADER = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def media(settings, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.ATTACHMENT_MAX_BYTES = 64 * 1024
    return settings.MEDIA_ROOT


def stored(media: Path) -> list[Path]:
    return sorted(path for path in media.rglob("*") if path.is_file()) if media.exists() else []


def png(width: int = 40, height: int = 30) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def content_of(response: Any) -> bytes:
    return b"".join(response.streaming_content)


def upload(team: Team, task: dict[str, Any], name: str, content: bytes, role: str = "member", **extra: Any):
    file = SimpleUploadedFile(name, content, content_type=extra.pop("content_type", "application/octet-stream"))
    return team.clients[role].post(
        f"/api/v1/tasks/{task['id']}/attachments/", {"file": file, **extra}, format="multipart"
    )


def test_upload_list_download_and_delete(team: Team, media: Path) -> None:
    task = team.create_task()
    content = b"minutes of the meeting\n" * 100
    response = upload(team, task, "notes.txt", content, content_type="image/png")  # (the client's type is ignored)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["filename"] == "notes.txt"
    assert body["content_type"] == "text/plain"
    assert body["size"] == len(content)
    assert body["sha256"] == hashlib.sha256(content).hexdigest()
    assert body["uploader"] == str(team.users["member"].pk)
    assert body["download_url"] == f"/api/v1/attachments/{body['id']}/download/"
    assert body["thumbnail_url"] is None
    (path,) = stored(media)
    assert path.read_bytes() == content
    assert path.name == body["id"]  # named by its id, never by the client's name

    listed = team.clients["viewer"].get(f"/api/v1/tasks/{task['id']}/attachments/").json()
    assert [item["id"] for item in listed["results"]] == [body["id"]]
    assert team.clients["viewer"].get(f"/api/v1/tasks/{task['id']}/").json()["attachment_count"] == 1

    download = team.clients["viewer"].get(body["download_url"])
    assert download.status_code == 200
    assert content_of(download) == content
    assert download["Content-Disposition"] == "attachment; filename=\"notes.txt\"; filename*=UTF-8''notes.txt"
    assert download["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in download["Content-Security-Policy"]
    assert download["ETag"] == f'"{body["sha256"]}"'
    assert download["Content-Length"] == str(len(content))
    assert download["Content-Type"].startswith("text/plain")

    again = team.clients["viewer"].get(body["download_url"], HTTP_IF_NONE_MATCH=download["ETag"])
    assert again.status_code == 304

    verbs = list(Activity.objects.filter(project=team.project).order_by("seq").values_list("verb", flat=True))
    assert verbs[-1] == "attachment.created"

    deleted = team.clients["member"].delete(f"/api/v1/attachments/{body['id']}/")
    assert deleted.status_code == 204
    assert not Attachment.objects.exists()
    assert Task.objects.get(pk=task["id"]).attachment_count == 0
    last = Activity.objects.filter(project=team.project).latest("seq")
    assert (last.verb, last.target_id) == ("attachment.deleted", body["id"])
    assert last.changes == {"filename": ["notes.txt", None], "task": [task["id"], None]}
    assert team.clients["viewer"].get(body["download_url"]).status_code == 404


@pytest.mark.parametrize(
    ("header", "status", "expected", "content_range"),
    [
        ("bytes=0-9", 206, slice(0, 10), "bytes 0-9/1000"),
        ("bytes=990-", 206, slice(990, 1000), "bytes 990-999/1000"),
        ("bytes=-5", 206, slice(995, 1000), "bytes 995-999/1000"),
        ("bytes=500-5000", 206, slice(500, 1000), "bytes 500-999/1000"),
        ("bytes=0-1,5-6", 200, slice(0, 1000), None),  # several ranges: the whole file
        ("items=0-1", 200, slice(0, 1000), None),
        ("bytes=1000-", 416, None, "bytes */1000"),
        ("bytes=9-3", 416, None, "bytes */1000"),
    ],
)
def test_range_requests(
    team: Team, header: str, status: int, expected: slice | None, content_range: str | None
) -> None:
    content = bytes(range(250)) * 4
    task = team.create_task()
    attachment = upload(team, task, "data.bin", content).json()
    response = team.clients["viewer"].get(attachment["download_url"], HTTP_RANGE=header)
    assert response.status_code == status
    if expected is not None:
        assert content_of(response) == content[expected]
        assert response["Content-Length"] == str(len(content[expected]))
    assert response.get("Content-Range") == content_range


def test_if_range_with_another_etag_sends_the_whole_file(team: Team) -> None:
    content = b"x" * 100
    attachment = upload(team, team.create_task(), "x.bin", content).json()
    response = team.clients["viewer"].get(attachment["download_url"], HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE='"old"')
    assert response.status_code == 200
    assert len(content_of(response)) == 100


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("page.txt", b"<!DOCTYPE html><html><script>alert(1)</script></html>", "HTML"),
        ("image.png", b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"></svg>', "SVG"),
        ("  <svg onload=alert(1)>", b"\xef\xbb\xbf  <svg onload=alert(1)></svg>", "SVG"),
        ("tool.pdf", b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 100, "executables"),
        ("a.out", b"\x7fELF\x02\x01\x01" + b"\x00" * 100, "executables"),
        ("run.txt", b"#!/bin/sh\nrm -rf ~\n", "executables"),
        ("readme.html", b"just text", ".html"),
        ("icon.SVG", b"just text", ".svg"),
        ("setup.exe", b"just text", ".exe"),
    ],
)
def test_refused_types_are_415_and_nothing_is_stored(
    team: Team, media: Path, name: str, content: bytes, reason: str
) -> None:
    task = team.create_task()
    before = Activity.objects.count()
    response = upload(team, task, name, content)
    assert response.status_code == 415, response.content
    assert reason in response.json()["detail"]
    assert stored(media) == []
    assert not Attachment.objects.exists()
    assert Activity.objects.count() == before


def test_over_the_limit_is_413_and_nothing_is_stored(team: Team, media: Path, settings) -> None:
    task = team.create_task()
    response = upload(team, task, "big.bin", b"\x00" * (settings.ATTACHMENT_MAX_BYTES + 1))
    assert response.status_code == 413, response.content
    assert "larger than the limit" in response.json()["detail"]
    assert stored(media) == []
    assert not Attachment.objects.exists()
    exactly = upload(team, task, "max.bin", b"\x01" * settings.ATTACHMENT_MAX_BYTES)
    assert exactly.status_code == 201


def test_missing_and_empty_files_are_400(team: Team, media: Path) -> None:
    task = team.create_task()
    missing = team.clients["member"].post(
        f"/api/v1/tasks/{task['id']}/attachments/", {"other": "x"}, format="multipart"
    )
    assert missing.status_code == 400
    assert "file" in missing.json()
    empty = upload(team, task, "empty.txt", b"")
    assert empty.status_code == 400
    json_body = team.clients["member"].post(f"/api/v1/tasks/{task['id']}/attachments/", {}, format="json")
    assert json_body.status_code == 415  # multipart only
    assert stored(media) == []


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\win.ini", "win.ini"),
        ("/abs/path/report.pdf.txt", "report.pdf.txt"),
        ("   ", "file"),
        (".hidden.txt", "hidden.txt"),
        ("a" * 300 + ".txt", "a" * 196 + ".txt"),
        ("Café ünïcode 文件.txt", "Café ünïcode 文件.txt"),
    ],
)
def test_names_are_made_safe_and_never_used_for_storage(team: Team, media: Path, name: str, shown: str) -> None:
    response = upload(team, team.create_task(), name, b"plain text")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["filename"] == shown
    (path,) = stored(media)
    assert path.resolve().is_relative_to(media.resolve())
    assert path.name == body["id"]
    download = team.clients["member"].get(body["download_url"])
    disposition = download["Content-Disposition"]
    assert not set(disposition) & {"\r", "\n", "\x00"}


@pytest.mark.parametrize(
    ("role", "status"), [("owner", 201), ("admin", 201), ("member", 201), ("viewer", 403), ("outsider", 404)]
)
def test_who_may_upload(team: Team, role: str, status: int) -> None:
    assert upload(team, team.create_task(), "a.txt", b"text", role=role).status_code == status


def test_who_may_see_and_delete(team: Team) -> None:
    task = team.create_task()
    mine = upload(team, task, "mine.txt", b"text", role="member").json()
    for role, status in (("outsider", 404), ("viewer", 200)):
        assert team.clients[role].get(f"/api/v1/attachments/{mine['id']}/").status_code == status
        assert team.clients[role].get(mine["download_url"]).status_code == status
    assert team.clients["viewer"].delete(f"/api/v1/attachments/{mine['id']}/").status_code == 403
    other = upload(team, task, "other.txt", b"text", role="owner").json()
    assert team.clients["member"].delete(f"/api/v1/attachments/{other['id']}/").status_code == 403
    assert team.clients["admin"].delete(f"/api/v1/attachments/{other['id']}/").status_code == 204
    assert team.clients["member"].delete(f"/api/v1/attachments/{mine['id']}/").status_code == 204


def test_a_removed_member_s_old_link_stops_working(team: Team) -> None:
    attachment = upload(team, team.create_task(), "a.txt", b"text").json()
    assert team.clients["viewer"].get(attachment["download_url"]).status_code == 200
    team.project.memberships.filter(user=team.users["viewer"]).delete()
    assert team.clients["viewer"].get(attachment["download_url"]).status_code == 404


def test_the_removal_job_removes_the_file_and_its_thumbnail(team: Team, media: Path) -> None:
    body = upload(team, team.create_task(), "photo.png", png()).json()
    assert body["content_type"] == "image/png"
    make_thumbnail.call(attachment_id=body["id"])
    assert len(stored(media)) == 2
    name = Attachment.objects.get(pk=body["id"]).file.name
    assert remove_stored_files.call(names=[name]) == 2
    assert stored(media) == []
    assert remove_stored_files.call(names=[name]) == 0  # (a retry finds them gone)
    assert remove_stored_files.call(names=["../outside"]) == 0


def test_a_thumbnail_is_made_by_the_job_not_the_request(team: Team, media: Path) -> None:
    from django_tasks_db.models import DBTaskResult

    body = upload(team, team.create_task(), "photo.png", png(1200, 600)).json()
    assert body["thumbnail_url"] is None
    (queued,) = DBTaskResult.objects.filter(task_path="tasks.services.attachments.make_thumbnail")
    assert queued.args_kwargs["kwargs"] == {"attachment_id": body["id"]}
    assert make_thumbnail.call(attachment_id=body["id"]) == "made"
    shown = team.clients["viewer"].get(f"/api/v1/attachments/{body['id']}/").json()
    assert shown["thumbnail_url"] == f"/api/v1/attachments/{body['id']}/thumbnail/"
    response = team.clients["viewer"].get(shown["thumbnail_url"])
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(content_of(response)))
    assert max(image.size) <= 320
    assert image.size == (320, 160)


def test_an_image_pillow_cannot_read_gets_no_thumbnail(team: Team) -> None:
    body = upload(team, team.create_task(), "broken.png", PNG_HEADER + b"\x00" * 64).json()
    assert make_thumbnail.call(attachment_id=body["id"]) == "unreadable"
    assert team.clients["viewer"].get(f"/api/v1/attachments/{body['id']}/").json()["thumbnail_url"] is None
    assert team.clients["viewer"].get(f"/api/v1/attachments/{body['id']}/thumbnail/").status_code == 404


def test_deleting_a_task_or_project_enqueues_removing_their_files(team: Team, media: Path) -> None:
    from django_tasks_db.models import DBTaskResult

    first, second = team.create_task(), team.create_task()
    one = upload(team, first, "one.txt", b"one").json()
    upload(team, second, "two.txt", b"two")
    assert team.clients["member"].delete(f"/api/v1/tasks/{first['id']}/").status_code == 204
    removals = DBTaskResult.objects.filter(task_path="tasks.services.attachments.remove_stored_files")
    assert [row.args_kwargs["kwargs"]["names"] for row in removals] == [[f"attachments/{team.project.pk}/{one['id']}"]]
    for row in removals:
        remove_stored_files.call(**row.args_kwargs["kwargs"])
    assert len(stored(media)) == 1
    assert team.clients["owner"].delete(team.url()).status_code == 204
    for row in DBTaskResult.objects.filter(task_path="tasks.services.attachments.remove_stored_files"):
        remove_stored_files.call(**row.args_kwargs["kwargs"])
    assert stored(media) == []


def test_a_failed_record_removes_the_stored_file(team: Team, media: Path, monkeypatch) -> None:
    from tasks.services import attachments

    def broken(**kwargs: Any) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(attachments, "emit", broken)
    with pytest.raises(RuntimeError):
        upload(team, team.create_task(), "a.txt", b"text")
    assert stored(media) == []
    assert not Attachment.objects.exists()


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("bad\x00name.txt", "bad name.txt"),
        ("line\r\nbreak.txt", "line break.txt"),
        ("tab\there.txt", "tab here.txt"),
        ("rtl\u202etxt.exe.txt", "rtl txt.exe.txt"),
        ("zero\u200bwidth.txt", "zero width.txt"),
        ("..", "file"),
        (".", "file"),
        ("", "file"),
        (None, "file"),
        ("dir/", "dir"),
        ("C:\\Users\\me\\plan.txt", "plan.txt"),
        ("x" * 250, "x" * 200),
        ("y" * 250 + ".a-very-long-extension-indeed", "y" * 200),
        ("e\u0301.txt", "\u00e9.txt"),  # NFC
    ],
)
def test_safe_filename(raw: str | None, safe: str) -> None:
    assert safe_filename(raw) == safe


def test_a_raw_multipart_name_with_nul_and_newlines_is_made_safe(team: Team, media: Path) -> None:
    """Sent as a client may, not as Django's test client encodes it."""
    task = team.create_task()
    boundary = "----timetodo-test-boundary"
    body = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="file"; filename="../evil\x00name\x07.txt"\r\n'
        "Content-Type: text/html\r\n\r\n"
        "plain words\r\n"
        f"--{boundary}--\r\n"
    ).encode()
    response = team.clients["member"].generic(
        "POST",
        f"/api/v1/tasks/{task['id']}/attachments/",
        body,  # type: ignore[arg-type]
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    assert response.status_code == 201, response.content
    assert response.json()["filename"] in {"evilname .txt", "evil name .txt", "evilname.txt"}
    assert response.json()["content_type"] == "text/plain"
    (path,) = stored(media)
    assert path.resolve().is_relative_to(media.resolve())


# Found by review (each once let something through or answered 500)


@pytest.mark.parametrize(
    ("header", "status"),
    [
        ("bytes=" + "9" * 5000 + "-", 416),
        ("bytes=0-" + "9" * 5000, 206),
        ("bytes=-" + "9" * 5000, 206),
        ("bytes=-99999999999999999999999", 206),
        ("bytes=-0", 416),
    ],
)
def test_ranges_with_huge_numbers_are_answered(team: Team, header: str, status: int) -> None:
    attachment = upload(team, team.create_task(), "d.bin", bytes(range(256)) * 4).json()
    for method in ("get", "head"):
        response = getattr(team.clients["viewer"], method)(attachment["download_url"], HTTP_RANGE=header)
        assert response.status_code == status


@pytest.mark.parametrize("name", ["evil.html.", "run.bat. ", "x.hta..", "a.mht", "a.mhtml", "a.chm", "a.pif", "a.reg"])
def test_denied_names_cannot_hide_behind_trailing_dots_or_rarer_extensions(team: Team, name: str) -> None:
    assert upload(team, team.create_task(), name, b"just text").status_code == 415


@pytest.mark.parametrize(
    "content",
    [
        "<html><script>alert(1)</script>".encode("utf-16"),  # (with a byte-order mark)
        "<html><script>alert(1)</script>".encode("utf-16-le"),  # (without)
        b"<div><img src=x onerror=alert(1)></div>",
        b"<a href=javascript:alert(1)>x</a>",
        b"  <!-- x --><style>*{}</style>",
        b"GIF89a<script>alert(1)</script>",
        b'<?xml version="1.0"?><x:script xmlns:x="http://www.w3.org/1999/xhtml">alert(1)</x:script>',
        b"\xef\xbb\xbf#!/bin/sh\n",
        b"notes\n<iframe src=//evil></iframe>",
    ],
)
def test_markup_a_browser_would_run_is_refused_however_it_is_dressed(team: Team, content: bytes) -> None:
    assert upload(team, team.create_task(), "n.txt", content).status_code == 415


@pytest.mark.parametrize(
    "content", [b"# Readme\nPut a <div> around it, or a <b>bold</b> word.\n", b"if a < b and c > d: pass\n"]
)
def test_text_that_mentions_tags_is_accepted(team: Team, content: bytes) -> None:
    response = upload(team, team.create_task(), "README.md", content)
    assert response.status_code == 201
    assert response.json()["content_type"] == "text/plain"


def test_a_webp_with_corrupt_exif_still_gets_a_thumbnail(team: Team) -> None:
    out = io.BytesIO()
    Image.new("RGB", (100, 50), (1, 2, 3)).save(out, format="WEBP", exif=b"Exif\x00\x00not a tiff")
    body = upload(team, team.create_task(), "x.webp", out.getvalue()).json()
    assert body["content_type"] == "image/webp"
    assert make_thumbnail.call(attachment_id=body["id"]) == "made"


def test_an_image_too_large_to_decode_safely_gets_no_thumbnail(team: Team, settings) -> None:
    settings.ATTACHMENT_MAX_BYTES = 10 * 1024 * 1024
    out = io.BytesIO()
    Image.new("1", (4100, 4100)).save(out, format="PNG")  # 16.8 megapixels in a few kilobytes
    body = upload(team, team.create_task(), "bomb.png", out.getvalue()).json()
    assert make_thumbnail.call(attachment_id=body["id"]) == "too large"


def test_an_exif_orientation_is_applied_to_the_thumbnail(team: Team) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated: shown upright by turning it a quarter
    out = io.BytesIO()
    Image.new("RGB", (400, 200)).save(out, format="JPEG", exif=exif)
    body = upload(team, team.create_task(), "phone.jpg", out.getvalue()).json()
    assert make_thumbnail.call(attachment_id=body["id"]) == "made"
    thumbnail = team.clients["viewer"].get(f"/api/v1/attachments/{body['id']}/thumbnail/")
    assert Image.open(io.BytesIO(content_of(thumbnail))).size == (160, 320)


def test_deleting_a_task_or_an_attachment_in_the_admin_removes_the_files(team: Team, media: Path) -> None:
    from django.test import Client
    from django_tasks_db.models import DBTaskResult

    from tests.factories import UserFactory

    first, second = team.create_task(), team.create_task()
    upload(team, first, "one.txt", b"one")
    two = upload(team, second, "two.txt", b"two").json()
    upload(team, second, "three.txt", b"three")
    operator = UserFactory.create(is_staff=True, is_superuser=True)
    admin = Client()
    admin.force_login(operator)
    assert admin.post(f"/admin/tasks/task/{first['id']}/delete/", {"post": "yes"}, secure=True).status_code == 302
    assert admin.post(f"/admin/tasks/attachment/{two['id']}/delete/", {"post": "yes"}, secure=True).status_code == 302
    assert Task.objects.get(pk=second["id"]).attachment_count == 1
    for row in DBTaskResult.objects.filter(task_path="tasks.services.attachments.remove_stored_files"):
        remove_stored_files.call(**row.args_kwargs["kwargs"])
    assert [path.name for path in stored(media)] == [str(Attachment.objects.get().pk)]


def test_too_many_files_in_one_request_is_a_json_400(team: Team, settings) -> None:
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 2
    task = team.create_task()
    files = [SimpleUploadedFile(f"{n}.txt", b"x") for n in range(3)]
    response = team.clients["member"].post(
        f"/api/v1/tasks/{task['id']}/attachments/", {"file": files}, format="multipart"
    )
    assert response.status_code == 400
    assert "detail" in response.json()


def test_if_none_match_star_is_304(team: Team) -> None:
    attachment = upload(team, team.create_task(), "a.txt", b"text").json()
    assert team.clients["viewer"].get(attachment["download_url"], HTTP_IF_NONE_MATCH="*").status_code == 304


def test_a_file_gone_from_storage_is_a_404_not_a_broken_download(team: Team, media: Path) -> None:
    body = upload(team, team.create_task(), "photo.png", png()).json()
    make_thumbnail.call(attachment_id=body["id"])
    for path in stored(media):
        path.unlink()
    assert team.clients["viewer"].get(body["download_url"]).status_code == 404
    assert team.clients["viewer"].get(f"/api/v1/attachments/{body['id']}/thumbnail/").status_code == 404
