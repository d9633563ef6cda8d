"""The uploaded files (`MEDIA_ROOT`) in a backup: archiving them, and unpacking an archive
safely before anything live is replaced."""

from __future__ import annotations

import os
import shutil
import tarfile
from pathlib import Path, PurePosixPath

from django.conf import settings

from timetodo.backup.common import MEDIA_FILE, Backup, BackupError


def archive_media(folder: Path) -> str:
    media = Path(settings.MEDIA_ROOT)
    with tarfile.open(folder / MEDIA_FILE, "w:gz") as archive:
        if media.is_dir():
            archive.add(media, arcname="media")
    return MEDIA_FILE


def _unsafe(member: tarfile.TarInfo, destination: Path) -> str | None:
    """Why unpacking `member` into `destination` could write anything but a plain file or
    folder inside it (the reason, to name in the error), or None when it cannot."""
    path = PurePosixPath(member.name)
    if path.is_absolute():
        return "is an absolute path"
    if ".." in path.parts:
        return "has a '..' component"
    if member.issym():
        return "is a symbolic link"
    if member.islnk():
        return "is a hard link"
    if member.isdev():
        return "is a device file or FIFO"
    if not (member.isfile() or member.isdir()):
        return "is not a regular file or folder"
    root = destination.resolve()
    if not (root / member.name).resolve().is_relative_to(root):
        return "would land outside the destination"
    return None


def _as_plain_data(member: tarfile.TarInfo) -> tarfile.TarInfo:
    """What Python's "data" filter makes of a file or folder, done here so that every Python
    unpacks alike: no setuid, setgid, sticky or group/other write bits, readable and
    writable by its owner, owned by whoever restores (not the archive's user ids)."""
    mode = member.mode & 0o755
    if member.isdir():
        mode |= 0o700
    else:
        if not mode & 0o100:
            mode &= ~0o111
        mode |= 0o600
    member.mode = mode
    member.uid, member.gid, member.uname, member.gname = os.getuid(), os.getgid(), "", ""
    return member


def stage_media(backup: Backup, scratch: Path) -> Path | None:
    """Unpack the media archive before anything is replaced: a bad archive stops the
    restore while the live data is still untouched.

    Every member is checked first, by our own rules and on every Python: an archive with a
    single unsafe member (absolute path, `..`, link, device file or FIFO) is refused whole,
    before anything is unpacked. tarfile's filters arrived in Python 3.11.4, so on
    3.11.0-3.11.3 those checks are the only guard; where the "data" filter exists it is
    applied as well."""
    try:
        with tarfile.open(backup.path / MEDIA_FILE, "r:gz") as archive:
            members = archive.getmembers()
            for member in members:
                reason = _unsafe(member, scratch)
                if reason is not None:
                    raise BackupError(
                        f"{MEDIA_FILE} holds an unsafe member: {member.name!r} {reason}; nothing was restored"
                    )
            members = [_as_plain_data(member) for member in members]
            if hasattr(tarfile, "data_filter"):
                archive.extractall(scratch, members=members, filter="data")
            else:  # Python 3.11.0-3.11.3: no filter argument; the checks above guard alone
                archive.extractall(scratch, members=members)  # noqa: S202 (checked above)
    except (tarfile.TarError, OSError) as exc:
        raise BackupError(f"{MEDIA_FILE} cannot be unpacked: {exc}") from None
    media = scratch / "media"
    return media if media.is_dir() else None


def put_media_back(staged: Path) -> None:
    """Copy the staged media into `MEDIA_ROOT`: the backup's files replace those of the same
    name; files the backup does not have stay."""
    shutil.copytree(staged, Path(settings.MEDIA_ROOT), dirs_exist_ok=True)
