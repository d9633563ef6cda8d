"""Attachments against the real server (the launcher: Daphne and its job worker) and a
real database: the size limit on the wire, ranges, the thumbnail and the file removal
made by the real worker, the socket frame."""

from __future__ import annotations

import asyncio
import http.client
import io
import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.realtime.test_server import call, next_frame, open_socket, register
from tests.timetodo.test_server import Server, base_environ, daphne, manage, scratch_database

LIMIT = 200_000


@pytest.fixture
def environ(tmp_path: Path) -> Iterator[dict[str, str]]:
    with scratch_database(tmp_path) as database_url:
        environ = base_environ(database_url) | {
            "MEDIA_ROOT": str(tmp_path / "media"),
            "ATTACHMENT_MAX_BYTES": str(LIMIT),
            "THROTTLE_REGISTER_RATE": "1000/hour",
        }
        manage(environ, "migrate", "--noinput", "-v0")
        yield environ


def multipart(name: str, content: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    return body + content + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def send(
    server: Server, method: str, path: str, token: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        all_headers = {"Authorization": f"Bearer {token}", "X-Forwarded-Proto": "https", **(headers or {})}
        connection.request(method, path, body=body, headers=all_headers, encode_chunked=not isinstance(body, bytes))
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (10, 120, 200)).save(out, format="PNG")
    return out.getvalue()


def eventually(check: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, check.__doc__
        time.sleep(0.2)


def files_in(media: Path) -> list[Path]:
    return sorted(path for path in media.rglob("*") if path.is_file()) if media.exists() else []


def test_attachments_on_the_real_server(environ: dict[str, str], tmp_path: Path) -> None:
    media = Path(environ["MEDIA_ROOT"])
    with daphne(environ, tmp_path) as server:
        owner = register(server, "owner")
        token = owner["access"]
        project = call(server, "POST", "/api/v1/projects/", {"name": "Files", "key": "FIL"}, token)
        task = call(server, "POST", "/api/v1/tasks/", {"project": project["id"], "title": "with files"}, token)
        upload_path = f"/api/v1/tasks/{task['id']}/attachments/"

        async def upload_and_see_the_frame() -> dict[str, Any]:
            socket = await open_socket(server, token)
            await socket.send(json.dumps({"type": "subscribe", "project": project["id"]}))
            assert (await next_frame(socket))["type"] == "subscribed"
            body, content_type = multipart("photo.png", png(1600, 900))
            status, _, answer = await asyncio.to_thread(
                send, server, "POST", upload_path, token, body, {"Content-Type": content_type}
            )
            assert status == 201, answer
            frame = await next_frame(socket)
            await socket.close()
            assert frame["verb"] == "attachment.created"
            assert frame["data"] == json.loads(answer)
            return dict(json.loads(answer))

        attachment = asyncio.run(upload_and_see_the_frame())
        assert attachment["content_type"] == "image/png"

        def thumbnail_made() -> bool:
            """the job worker made the thumbnail"""
            return (
                call(server, "GET", f"/api/v1/attachments/{attachment['id']}/", None, token)["thumbnail_url"]
                is not None
            )

        eventually(thumbnail_made)
        status, headers, thumbnail = send(server, "GET", f"/api/v1/attachments/{attachment['id']}/thumbnail/", token)
        assert status == 200
        assert Image.open(io.BytesIO(thumbnail)).size == (320, 180)

        status, headers, part = send(server, "GET", attachment["download_url"], token, headers={"Range": "bytes=0-7"})
        assert (status, part) == (206, b"\x89PNG\r\n\x1a\n")
        assert headers["content-range"] == f"bytes 0-7/{attachment['size']}"
        assert headers["content-disposition"].startswith("attachment;")

        # A body sent without a length (chunked) is read as any other.
        body, content_type = multipart("chunked.txt", b"sent in parts\n" * 1000)
        parts = iter([body[i : i + 4096] for i in range(0, len(body), 4096)])
        status, _, answer = send(server, "POST", upload_path, token, parts, {"Content-Type": content_type})
        assert status == 201, answer
        chunked = json.loads(answer)
        assert chunked["size"] == 14_000
        assert send(server, "DELETE", f"/api/v1/attachments/{chunked['id']}/", token)[0] == 204
        eventually(lambda: len(files_in(media)) == 2)

        # Too large: refused on its Content-Length before the body is read, or while reading
        # a body sent without one (chunked); nothing is stored either way.
        before = files_in(media)
        body, content_type = multipart("big.bin", b"\x00" * (LIMIT + 2_000_000))
        status, _, answer = send(server, "POST", upload_path, token, body, {"Content-Type": content_type})
        assert status == 413, answer
        assert "larger than the limit" in json.loads(answer)["detail"]
        chunks = iter([body[i : i + 65536] for i in range(0, len(body), 65536)])
        status, _, answer = send(server, "POST", upload_path, token, chunks, {"Content-Type": content_type})
        assert status == 413, answer
        body, content_type = multipart("just-over.bin", b"\x00" * (LIMIT + 1))  # (inside the body's margin)
        status, _, answer = send(server, "POST", upload_path, token, body, {"Content-Type": content_type})
        assert status == 413, answer
        assert files_in(media) == before

        # Deleting: the worker removes the file and its thumbnail after the commit.
        assert len(files_in(media)) == 2
        status, _, _ = send(server, "DELETE", f"/api/v1/attachments/{attachment['id']}/", token)
        assert status == 204

        def removed() -> bool:
            """the job worker removed the stored file and its thumbnail"""
            return files_in(media) == []

        eventually(removed)
