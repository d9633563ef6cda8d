"""Attachments on S3-compatible storage (django-storages), against a real S3 API served on
127.0.0.1 by moto's standalone server: not a mock of the client, the same HTTP calls a
bucket on AWS, MinIO or R2 gets."""

from __future__ import annotations

import io
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from tasks.services.attachments import make_thumbnail, remove_stored_files
from tests.helpers.teams import Team
from tests.tasks.test_attachments import content_of
from tests.timetodo.test_server import free_port
from timetodo.config import Env, file_storage

pytestmark = pytest.mark.django_db

BUCKET = "timetodo-test-files"
KEYS = {"S3_ACCESS_KEY_ID": "testing", "S3_SECRET_ACCESS_KEY": "testing", "S3_REGION": "us-east-1"}


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = Path(sys.executable).with_name("moto_server")
    port = free_port()
    process = subprocess.Popen(
        [str(server), "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(url, timeout=1).close()
            break
        except urllib.error.HTTPError:
            break  # (it answers)
        except OSError:
            assert process.poll() is None, "moto_server exited"
            assert time.monotonic() < deadline, "moto_server did not start"
            time.sleep(0.2)
    try:
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def bucket(endpoint: str, settings) -> Any:
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket=BUCKET)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": file_storage(Env({"S3_BUCKET": BUCKET, "S3_ENDPOINT_URL": endpoint, **KEYS})),
    }
    yield client
    for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=item["Key"])
    client.delete_bucket(Bucket=BUCKET)


def keys(client: Any) -> list[str]:
    return sorted(item["Key"] for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []))


def upload(team: Team, task: dict[str, Any], name: str, content: bytes) -> Any:
    file = SimpleUploadedFile(name, content)
    return team.clients["member"].post(f"/api/v1/tasks/{task['id']}/attachments/", {"file": file}, format="multipart")


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (640, 480), (200, 200, 0)).save(out, format="PNG")
    return out.getvalue()


def test_settings_choose_s3_only_with_a_bucket() -> None:
    assert file_storage(Env({}))["BACKEND"] == "django.core.files.storage.FileSystemStorage"
    chosen = file_storage(Env({"S3_BUCKET": "b", "S3_ENDPOINT_URL": "https://s3.example", **KEYS}))
    assert chosen["BACKEND"] == "storages.backends.s3.S3Storage"
    assert chosen["OPTIONS"]["default_acl"] is None  # private objects
    assert chosen["OPTIONS"]["querystring_auth"] is False  # no signed URLs: the app streams every file
    assert chosen["OPTIONS"]["endpoint_url"] == "https://s3.example"


def test_upload_download_thumbnail_and_removal_on_s3(team: Team, bucket: Any) -> None:
    task = team.create_task()
    content = png()
    response = upload(team, task, "photo.png", content)
    assert response.status_code == 201, response.content
    attachment = response.json()
    key = f"attachments/{team.project.pk}/{attachment['id']}"
    assert keys(bucket) == [key]
    assert bucket.get_object(Bucket=BUCKET, Key=key)["Body"].read() == content

    whole = team.clients["viewer"].get(attachment["download_url"])
    assert content_of(whole) == content
    part = team.clients["viewer"].get(attachment["download_url"], HTTP_RANGE="bytes=1-3")
    assert part.status_code == 206
    assert content_of(part) == content[1:4]

    assert make_thumbnail.call(attachment_id=attachment["id"]) == "made"
    assert keys(bucket) == [key, key + ".thumb.png"]
    thumbnail = team.clients["viewer"].get(f"/api/v1/attachments/{attachment['id']}/thumbnail/")
    assert Image.open(io.BytesIO(content_of(thumbnail))).size == (320, 240)

    refused = upload(team, task, "page.html", b"<html><body>hi</body></html>")
    assert refused.status_code == 415
    assert keys(bucket) == [key, key + ".thumb.png"]  # nothing stored for a refused file

    assert team.clients["member"].delete(f"/api/v1/attachments/{attachment['id']}/").status_code == 204
    assert remove_stored_files.call(names=[key]) == 2
    assert keys(bucket) == []
