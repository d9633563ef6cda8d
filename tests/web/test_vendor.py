"""Vendored front-end files are the ones the table says: version, checksum, licence beside them."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENDOR = ROOT / "web" / "static" / "web" / "vendor"
ROW = re.compile(
    r"^\| (?P<name>[^|]+) \| (?P<version>[^|]+) \| `(?P<file>[^`]+)` \| `(?P<sha>[0-9a-f]{64})` \|"
    r" (?P<licence>[^|]+) \|"
)


def rows() -> list[re.Match[str]]:
    return [match for line in (VENDOR / "README.md").read_text().splitlines() if (match := ROW.match(line))]


def test_every_vendored_file_matches_its_pinned_checksum_and_has_its_licence() -> None:
    listed = rows()
    assert listed, "vendor/README.md lists no files"
    for row in listed:
        path = VENDOR / row["file"]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == row["sha"], row["file"]
        assert row["version"].strip() in row["file"]
        assert (path.parent / "LICENSE").is_file(), f"no licence beside {row['file']}"
    on_disk = {str(path.relative_to(VENDOR)) for path in VENDOR.rglob("*.js")}
    assert on_disk == {row["file"] for row in listed}, "a vendored file is missing from the table"


def test_pages_load_the_pinned_version() -> None:
    template = (ROOT / "web" / "templates" / "web" / "board.html").read_text()
    for row in rows():
        assert f"web/vendor/{row['file']}" in template
