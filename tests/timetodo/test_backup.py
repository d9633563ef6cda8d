"""`backup`, `restore`, `verify_backup`: round trips that prove the data comes back."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest

from tests.conftest import requires_postgres

ROOT = Path(__file__).resolve().parents[2]
POSTGRES_URL = os.environ.get("DATABASE_URL", "")


def manage(database_url: str, *args: str, media: Path | None = None) -> subprocess.CompletedProcess[str]:
    environ = {"PATH": os.environ.get("PATH", ""), "DEBUG": "1", "DATABASE_URL": database_url}
    if media is not None:
        environ["MEDIA_ROOT"] = str(media)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=300
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def newest(folder: Path) -> Path:
    return sorted(folder.glob("timetodo-*"))[-1]


def manifest(backup: Path) -> dict:
    return json.loads((backup / "manifest.json").read_text())


@contextmanager
def sqlite_database(tmp_path: Path) -> Iterator[str]:
    yield f"sqlite:///{tmp_path / 'live.sqlite3'}"


@contextmanager
def postgres_database(tmp_path: Path) -> Iterator[str]:
    import psycopg

    name = f"timetodo_backup_{uuid.uuid4().hex[:10]}"
    admin = POSTGRES_URL.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


DATABASES = [
    pytest.param(sqlite_database, id="sqlite"),
    pytest.param(postgres_database, id="postgresql", marks=requires_postgres),
]


ATTACH = (
    "from django.core.files.uploadedfile import SimpleUploadedFile\n"
    "from accounts.models import User\n"
    "from tasks.models import Task\n"
    "from tasks.services.attachments import attachment_create\n"
    "task = Task.objects.select_related('project').first()\n"
    "attachment_create(actor=task.project.owner, task=task, upload=SimpleUploadedFile('note.txt', b'uploaded file'))"
)


@pytest.mark.parametrize("database", DATABASES)
def test_backup_wipe_restore_round_trip(tmp_path: Path, database) -> None:
    media = tmp_path / "media"
    out = tmp_path / "backups"
    with database(tmp_path) as url:
        ok(manage(url, "migrate", "--noinput", "-v0"))
        ok(manage(url, "seed_demo", "--password", "demo-password-123"))
        # An attachment uploaded as the API stores it (its row, and its file under MEDIA_ROOT).
        ok(manage(url, "shell", "--no-imports", "-c", ATTACH, media=media))
        (stored,) = [path for path in media.rglob("*") if path.is_file()]
        ok(manage(url, "backup", "--output", str(out), media=media))
        original = newest(out)
        before = manifest(original)
        assert before["row_counts"]["tasks_task"] == 6
        assert before["files"]["media.tar.gz"]["size"] > 0

        # Wipe: the data and the media are gone.
        ok(manage(url, "flush", "--noinput"))
        stored.unlink()

        # The database is empty after the flush: no --yes needed.
        assert "Restored" in ok(manage(url, "restore", str(original), media=media))
        ok(manage(url, "backup", "--output", str(tmp_path / "after"), media=media))
        after = manifest(newest(tmp_path / "after"))
        assert after["row_counts"] == before["row_counts"]
        assert after["checksums"] == before["checksums"]  # every key table's rows, identical
        assert stored.read_bytes() == b"uploaded file"
        check = (
            "from tasks.models import Attachment; a = Attachment.objects.get(); print(a.file.read().decode(), a.size)"
        )
        assert ok(manage(url, "shell", "--no-imports", "-c", check, media=media)).split() == ["uploaded", "file", "13"]


@pytest.mark.parametrize("database", DATABASES)
def test_restore_refuses_to_overwrite_data_without_yes(tmp_path: Path, database) -> None:
    out = tmp_path / "backups"
    with database(tmp_path) as url:
        ok(manage(url, "migrate", "--noinput", "-v0"))
        ok(manage(url, "seed_demo", "--password", "demo-password-123"))
        ok(manage(url, "backup", "--output", str(out)))
        refused = manage(url, "restore", str(newest(out)))
        assert refused.returncode != 0
        assert "pass --yes" in refused.stderr
        assert "Restored" in ok(manage(url, "restore", str(newest(out)), "--yes"))


@pytest.mark.parametrize("database", DATABASES)
def test_tampered_truncated_and_newer_backups_are_refused_and_data_untouched(tmp_path: Path, database) -> None:
    out = tmp_path / "backups"
    with database(tmp_path) as url:
        ok(manage(url, "migrate", "--noinput", "-v0"))
        ok(manage(url, "seed_demo", "--password", "demo-password-123"))
        ok(manage(url, "backup", "--output", str(out)))
        backup = newest(out)
        counts = manifest(backup)["row_counts"]
        dump = next(p for p in backup.iterdir() if p.name.startswith("database."))

        original = dump.read_bytes()
        dump.write_bytes(original[: len(original) // 2])  # truncated
        truncated = manage(url, "restore", str(backup), "--yes")
        assert truncated.returncode != 0
        assert "does not match its checksum" in truncated.stderr
        verify = manage(url, "verify_backup", str(backup))
        assert verify.returncode != 0

        dump.write_bytes(original)
        data = manifest(backup)
        data["migrations"]["tasks"].append("9999_from_the_future")
        (backup / "manifest.json").write_text(json.dumps(data))
        newer = manage(url, "restore", str(backup), "--yes")
        assert newer.returncode != 0
        assert "newer code" in newer.stderr

        missing = manage(url, "restore", str(tmp_path / "no-such-backup"), "--yes")
        assert missing.returncode != 0
        assert "is not a backup" in missing.stderr

        # The live data is exactly as before all of that.
        ok(manage(url, "backup", "--output", str(tmp_path / "check")))
        assert manifest(newest(tmp_path / "check"))["row_counts"] == counts


@pytest.mark.parametrize("database", DATABASES)
def test_verify_restores_into_a_scratch_database(tmp_path: Path, database) -> None:
    out = tmp_path / "backups"
    with database(tmp_path) as url:
        ok(manage(url, "migrate", "--noinput", "-v0"))
        ok(manage(url, "seed_demo", "--password", "demo-password-123"))
        output = ok(manage(url, "backup", "--output", str(out), "--verify"))
        assert "Verified" in output
        assert "Verified" in ok(manage(url, "verify_backup", str(newest(out))))
        # A backup whose contents disagree with its manifest fails verification.
        backup = newest(out)
        data = manifest(backup)
        data["row_counts"]["tasks_task"] = 999
        (backup / "manifest.json").write_text(json.dumps(data))
        failed = manage(url, "verify_backup", str(backup))
        assert failed.returncode != 0
        assert "tasks_task" in failed.stderr


def test_keep_deletes_older_backups_only_its_own(tmp_path: Path) -> None:
    out = tmp_path / "backups"
    (out / "timetodo-before-upgrade").mkdir(parents=True)  # an operator's own copy
    with sqlite_database(tmp_path) as url:
        ok(manage(url, "migrate", "--noinput", "-v0"))
        for _ in range(3):
            ok(manage(url, "backup", "--output", str(out), "--keep", "1", "--verify"))
    names = sorted(p.name for p in out.iterdir())
    assert len(names) == 2
    assert "timetodo-before-upgrade" in names


def test_a_manifest_that_drops_its_dump_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "backups"
    with sqlite_database(tmp_path) as url:
        ok(manage(url, "migrate", "--noinput", "-v0"))
        ok(manage(url, "backup", "--output", str(out)))
        backup = newest(out)
        data = manifest(backup)
        del data["files"]["database.sqlite3"]
        (backup / "manifest.json").write_text(json.dumps(data))
        refused = manage(url, "restore", str(backup), "--yes")
    assert refused.returncode != 0
    assert "damaged" in refused.stderr


def unsafe_member(kind: str, outside: Path) -> tarfile.TarInfo:
    """One archive member that must never be unpacked; `outside` is where it would reach."""
    if kind == "absolute path":
        return tarfile.TarInfo(str(outside / "evil.txt"))
    if kind == "dot-dot":
        return tarfile.TarInfo("media/" + "../" * 40 + str(outside / "evil.txt").lstrip("/"))
    member = tarfile.TarInfo(f"media/attachments/{kind.replace(' ', '-')}")
    member.type, member.linkname = {
        "symlink": (tarfile.SYMTYPE, str(outside)),
        "hard link": (tarfile.LNKTYPE, "media/attachments/note.txt"),
        "character device": (tarfile.CHRTYPE, ""),
        "block device": (tarfile.BLKTYPE, ""),
        "fifo": (tarfile.FIFOTYPE, ""),
    }[kind]
    member.devmajor, member.devminor = (1, 3) if member.isdev() else (0, 0)
    return member


def replace_media_archive(backup: Path, members: list[tuple[tarfile.TarInfo, bytes]]) -> None:
    """Write `members` as the backup's media.tar.gz, with the manifest's checksum to match
    (so the archive itself, not the checksum, is what stops the restore)."""
    archive_path = backup / "media.tar.gz"
    with tarfile.open(archive_path, "w:gz") as archive:
        for member, content in members:
            member.size = len(content) if member.isfile() else 0
            archive.addfile(member, io.BytesIO(content) if member.isfile() else None)
    data = manifest(backup)
    data["files"]["media.tar.gz"] = {
        "size": archive_path.stat().st_size,
        "sha256": hashlib.sha256(archive_path.read_bytes()).hexdigest(),
    }
    (backup / "manifest.json").write_text(json.dumps(data))


def tree(folder: Path) -> dict[str, bytes | None]:
    return {str(p.relative_to(folder)): p.read_bytes() if p.is_file() else None for p in sorted(folder.rglob("*"))}


def sqlite_contents(path: Path) -> str:
    with closing(sqlite3.connect(path)) as conn:
        return "\n".join(conn.iterdump())


@pytest.fixture(scope="module")
def live_sqlite_and_backup(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, Path, Path]:
    """A seeded SQLite database with media, and a backup of it: (url, database file, media, backup)."""
    root = tmp_path_factory.mktemp("unsafe-media")
    media = root / "media"
    (media / "attachments").mkdir(parents=True)
    (media / "attachments" / "note.txt").write_text("uploaded file")
    url = f"sqlite:///{root / 'live.sqlite3'}"
    ok(manage(url, "migrate", "--noinput", "-v0"))
    ok(manage(url, "seed_demo", "--password", "demo-password-123"))
    ok(manage(url, "backup", "--output", str(root / "backups"), media=media))
    return url, root / "live.sqlite3", media, newest(root / "backups")


UNSAFE_MEMBERS = [
    ("absolute path", "is an absolute path"),
    ("dot-dot", "has a '..' component"),
    ("symlink", "is a symbolic link"),
    ("hard link", "is a hard link"),
    ("character device", "is a device file or FIFO"),
    ("block device", "is a device file or FIFO"),
    ("fifo", "is a device file or FIFO"),
]


@pytest.mark.parametrize(("kind", "reason"), UNSAFE_MEMBERS, ids=[kind for kind, _ in UNSAFE_MEMBERS])
def test_a_media_archive_with_an_unsafe_member_is_refused_and_nothing_touched(
    tmp_path: Path, live_sqlite_and_backup: tuple[str, Path, Path, Path], kind: str, reason: str
) -> None:
    """The same on every Python >= 3.11, with or without tarfile's filters (3.11.4+)."""
    url, database, media, original = live_sqlite_and_backup
    backup = tmp_path / original.name
    shutil.copytree(original, backup)
    outside = tmp_path / "outside"
    unsafe = unsafe_member(kind, outside)
    media_dir = tarfile.TarInfo("media")
    media_dir.type = tarfile.DIRTYPE
    replace_media_archive(
        backup,
        [
            (media_dir, b""),
            (tarfile.TarInfo("media/attachments/note.txt"), b"from the archive"),
            (unsafe, b"should never be written"),
            (tarfile.TarInfo("media/attachments/after.txt"), b"after the unsafe member"),
        ],
    )
    media_before, database_before = tree(media), sqlite_contents(database)

    refused = manage(url, "restore", str(backup), "--yes", media=media)

    assert refused.returncode != 0
    assert f"media.tar.gz holds an unsafe member: {unsafe.name!r} {reason}; nothing was restored" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert tree(media) == media_before
    assert sqlite_contents(database) == database_before
    assert not outside.exists()


@requires_postgres
def test_a_backup_taken_during_writes_is_consistent(tmp_path: Path) -> None:
    import threading

    import psycopg

    out = tmp_path / "backups"
    with postgres_database(tmp_path) as url:
        ok(manage(url, "migrate", "--noinput", "-v0"))
        ok(manage(url, "seed_demo", "--password", "demo-password-123"))
        stop = threading.Event()

        def write() -> None:
            with psycopg.connect(url, autocommit=True) as conn:
                n = 0
                while not stop.is_set():
                    conn.execute(
                        "INSERT INTO django_session (session_key, session_data, expire_date) VALUES (%s, 'x', now())",
                        [f"k{n}-{uuid.uuid4().hex}"],
                    )
                    n += 1

        writer = threading.Thread(target=write)
        writer.start()
        try:
            result = manage(url, "backup", "--output", str(out), "--verify")
        finally:
            stop.set()
            writer.join()
        assert "Verified" in ok(result)


def test_a_missing_pg_dump_or_dead_database_is_a_clear_error(tmp_path: Path) -> None:
    dead = manage("postgres://nobody@127.0.0.1:1/nothing", "backup", "--output", str(tmp_path))
    assert dead.returncode != 0
    assert "unreachable" in dead.stderr
    assert "Traceback" not in dead.stderr


@requires_postgres
def test_a_missing_pg_dump_is_a_clear_error(tmp_path: Path) -> None:
    with postgres_database(tmp_path) as url:
        environ = {"PATH": "/nonexistent", "DEBUG": "1", "DATABASE_URL": url}
        result = subprocess.run(
            [sys.executable, "manage.py", "backup", "--output", str(tmp_path)],
            cwd=ROOT,
            env=environ,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode != 0
    assert "pg_dump is not installed" in result.stderr
    assert not list(tmp_path.glob("timetodo-*"))  # no half-written backup left behind
