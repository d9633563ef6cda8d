"""The docs stay true to the tree: links resolve inside the repository, and every file or
module docs/architecture.md names exists (a move that forgets the page fails here)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "bench" / "RESULTS.md"]
LINK = re.compile(r"\]\(([^)\s]+)\)")
# Where a path written in the architecture page may be relative to (its "Inside tasks" table).
BASES = ["", "tasks/", "realtime/", "timetodo/", "accounts/"]


@pytest.mark.parametrize("page", PAGES, ids=[str(page.relative_to(ROOT)) for page in PAGES])
def test_links_resolve_inside_the_repository(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    assert "../shared" not in text, "a clone has no ../shared: link docs/ instead"
    broken = []
    for target in LINK.findall(text):
        if target.startswith(("http://", "https://", "mailto:", "#")):
            continue
        path = (page.parent / target.split("#")[0]).resolve()
        if not path.exists() or ROOT not in path.parents:
            broken.append(target)
    assert broken == []


def named_paths(text: str) -> set[str]:
    """`code` spans that name a file or folder of the tree: a .py file or a path with a slash."""
    names = set()
    for span in re.findall(r"`([^`\s]+)`", text):
        if re.fullmatch(r"[\w.-][\w./-]*", span) and span.endswith((".py", "/")):
            names.add(span)
    return names


def test_every_file_the_architecture_page_names_exists() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    names = named_paths(text)
    assert len(names) > 20  # (the page names its modules)
    missing = [name for name in sorted(names) if not exists(name)]
    assert missing == []


def exists(name: str) -> bool:
    """A path from the root or one of the apps; a bare file name (`log.py` beside the
    module it belongs to) anywhere in the tree."""
    if any((ROOT / base / name).exists() for base in BASES):
        return True
    return "/" not in name and any(".venv" not in found.parts for found in ROOT.rglob(name))


def test_every_module_of_the_domain_is_on_the_architecture_page() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    unnamed = []
    for path in sorted((ROOT / "tasks").iterdir()):
        if path.name.startswith(("_", ".")) or path.name in {"migrations", "apps.py"}:
            continue
        name = path.name + ("/" if path.is_dir() else "")
        if f"`{name}`" not in text and f"`tasks/{name}`" not in text:
            unnamed.append(name)
    assert unnamed == []
