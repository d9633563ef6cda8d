"""What an uploaded file is, and what it may be called: sniffed types, the deny list, safe names.

The content type is read from the bytes (the `filetype` library's signatures, then a look
at text), never taken from the client. Refused (415): executables and scripts, and
markup a browser would run (HTML, SVG, XML that holds either), by their bytes or by their
name. Everything else is stored and always served as a download (`Content-Disposition:
attachment`, `nosniff`, a sandboxing CSP), so even a type we failed to recognise cannot
run in our origin.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import PurePosixPath, PureWindowsPath

import filetype

SNIFF_BYTES = 8192
FILENAME_MAX_LENGTH = 200  # characters kept of the uploader's name (the column holds 255)
FALLBACK_NAME = "file"

# Types whose bytes would run somewhere: as a program, or as markup in a browser.
DENIED_TYPES = frozenset(
    {
        "application/x-executable",
        "application/x-elf",
        "application/x-sharedlib",
        "application/x-mach-binary",
        "application/x-msdownload",
        "application/vnd.microsoft.portable-executable",
        "application/x-dosexec",
        "application/x-shellscript",
        "application/java-archive",
        "application/x-java-applet",
        "text/html",
        "image/svg+xml",
        "application/xhtml+xml",
    }
)
DENIED_EXTENSIONS = frozenset(
    {
        "app",
        "bat",
        "chm",
        "cmd",
        "com",
        "cpl",
        "dll",
        "exe",
        "hta",
        "htm",
        "html",
        "jar",
        "js",
        "jse",
        "jnlp",
        "lnk",
        "mht",
        "mhtml",
        "mjs",
        "msc",
        "msi",
        "msp",
        "pif",
        "ps1",
        "psm1",
        "reg",
        "scf",
        "scr",
        "sh",
        "shtml",
        "svg",
        "svgz",
        "vbe",
        "vbs",
        "ws",
        "wsc",
        "wsf",
        "wsh",
        "xht",
        "xhtml",
    }
)
# Images the worker makes a thumbnail of (Pillow reads them; no vector formats).
THUMBNAIL_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp"})

# What makes a browser take bytes for HTML: a file that starts (after white space) with one
# of the WHATWG MIME sniffing standard's tags, each followed by a space, ">" or "/"; and,
# anywhere in the sample, the tags that run something (scripts, frames, SVG, a whole HTML
# document, also in an XML namespace). A text that merely mentions "<div>" or "<b>" midway
# (a README, a code snippet) is fine; a file of a recognised binary type is looked at only
# for the second kind (a short tag turns up by chance in compressed bytes).
_MARKUP_START = re.compile(
    rb"<(?:!doctype\s+html|!--|\?xml-stylesheet|(?:[a-z0-9_-]+:)?(?:html|head|script|iframe|h1|div|font|table"
    rb"|a|style|title|b|body|br|p|svg))[\s>/]",
    re.IGNORECASE,
)
_DANGEROUS_MARKUP = re.compile(
    rb"<(?:!doctype\s+html|\?xml-stylesheet|(?:[a-z0-9_-]+:)?(?:html|script|svg|iframe|object|embed))[\s>/]",
    re.IGNORECASE,
)
_BOMS = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)
_CONTROL_OR_FORMAT = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


@dataclass(frozen=True)
class Sniffed:
    content_type: str
    denied: bool
    reason: str = ""


def _as_text(head: bytes) -> bytes:
    """The sample as 8-bit text for the markup and script checks: a byte-order mark's
    encoding decoded (UTF-16 and UTF-32 markup too), and NULs dropped (UTF-16 without one)."""
    for mark, encoding in _BOMS:
        if head.startswith(mark):
            return head[len(mark) :].decode(encoding, errors="ignore").encode("utf-8", errors="ignore")
    return head.replace(b"\x00", b"")


def sniff(head: bytes, filename: str) -> Sniffed:
    """The type of a file from its first bytes (`head`, up to SNIFF_BYTES) and whether it
    is refused (by its bytes, or by the extension of `filename`, the safe name). Markup
    further into a file is not looked for: browsers sniff less than this, and every
    download is sent with `nosniff` and a sandboxing CSP anyway."""
    kind = filetype.guess(head)
    text = _as_text(head)
    if kind is not None:
        content_type = kind.mime
    elif _looks_like_text(head) or text != head:
        content_type = "text/plain"
    else:
        content_type = "application/octet-stream"
    stripped = text.lstrip(b" \t\r\n")
    executable = (b"MZ", b"\x7fELF", b"\xfe\xed\xfa", b"\xcf\xfa\xed\xfe", b"\xca\xfe\xba\xbe")
    if head.startswith(executable) or stripped.startswith(b"#!"):
        return Sniffed("application/x-executable", True, "executables and scripts are not accepted")
    if content_type in DENIED_TYPES:
        return Sniffed(content_type, True, "executables and scripts are not accepted")
    if _DANGEROUS_MARKUP.search(text) or (kind is None and _MARKUP_START.match(stripped)):
        return Sniffed("text/html", True, "HTML and SVG files are not accepted (attach them zipped)")
    extension = PurePosixPath(filename).suffix.lower().lstrip(".")
    if extension in DENIED_EXTENSIONS:
        return Sniffed(content_type, True, f"files named .{extension} are not accepted (attach them zipped)")
    return Sniffed(content_type, False)


def _looks_like_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the sample is still text.
        return exc.start >= len(head) - 3 and exc.reason == "unexpected end of data"
    return True


def safe_filename(raw: str | None) -> str:
    """The uploader's name for a file, fit to show and to send back in Content-Disposition:
    its last path component only (either slash), Unicode NFC, no control or format
    characters (NUL, newlines, bidi overrides), spaces collapsed, no leading dots, at
    most FILENAME_MAX_LENGTH characters with the extension kept; "file" when nothing is left.
    The stored file's name never comes from here (models.attachment_path)."""
    name = unicodedata.normalize("NFC", raw or "")
    name = "".join(" " if unicodedata.category(ch) in _CONTROL_OR_FORMAT else ch for ch in name)
    name = PureWindowsPath(PurePosixPath(name.replace("\\", "/")).name).name
    # (Windows drops trailing dots and spaces: "evil.html." would be saved as evil.html)
    name = re.sub(r"\s+", " ", name).strip(" .")
    if name in {"", ".", ".."}:
        return FALLBACK_NAME
    if len(name) > FILENAME_MAX_LENGTH:
        suffix = PurePosixPath(name).suffix
        suffix = suffix if 1 < len(suffix) <= 16 else ""
        name = name[: FILENAME_MAX_LENGTH - len(suffix)].rstrip(" .") + suffix
    return name
