"""The house's rules (docs/architecture.md), read from the source: who may import whom.

Every import of the apps' modules counts, wherever it is written (also inside functions
and under TYPE_CHECKING): a rule that only holds at import time is not a rule.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ("accounts", "tasks", "realtime", "timetodo", "web")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def app_modules() -> dict[str, Path]:
    modules = {}
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" not in path.parts:
                modules[module_name(path)] = path
    return modules


MODULES = app_modules()


def imported(path: Path) -> Iterator[tuple[str, int]]:
    """(module, line) for every import of an app module in the file, resolved to the
    longest known module name (`from tasks import selectors` imports tasks.selectors)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            while name and name not in MODULES:
                name = name.rpartition(".")[0]
            if name:
                yield name, node.lineno


def graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {name: set() for name in MODULES}
    for name, path in MODULES.items():
        for target, _ in imported(path):
            if target != name:
                edges[name].add(target)
    return edges


def cycle_from(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (found := visit(node)):
            return found
    return None


def violations(source_prefixes: tuple[str, ...], forbidden: tuple[str, ...]) -> list[str]:
    found = []
    for name, path in MODULES.items():
        if not name.startswith(source_prefixes):
            continue
        for target, line in imported(path):
            if target.startswith(forbidden):
                found.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    return found


def test_the_import_graph_has_no_circle() -> None:
    assert cycle_from(graph()) is None, " -> ".join(cycle_from(graph()) or [])


def test_the_cycle_finder_finds_one() -> None:
    assert cycle_from({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle_from({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize(
    ("layer", "forbidden"),
    [
        # Dependencies point one way: realtime -> tasks -> accounts; all may use timetodo.
        (("accounts",), ("tasks", "realtime")),
        (("tasks",), ("realtime",)),
        # The web app is on top: nothing imports it; it uses selectors and services, never the API's views.
        (("accounts", "tasks", "realtime"), ("web",)),
        (("web",), ("tasks.api", "realtime")),
        # Services write; they never shape HTTP: no serializers, no views.
        (("tasks.services",), ("tasks.serializers", "tasks.api", "tasks.urls", "rest_framework")),
        # The event schema is the domain's own, written from the models: not from the API.
        (("tasks.events",), ("tasks.serializers", "tasks.api", "tasks.services", "tasks.selectors")),
        # Rules are pure: nothing below them but the models' constants.
        (("tasks.rules",), ("tasks.selectors", "tasks.services", "tasks.serializers", "tasks.api", "tasks.events")),
        (("tasks.permissions",), ("tasks.selectors", "tasks.services", "tasks.serializers", "tasks.api")),
        (("tasks.positions",), ("tasks.selectors", "tasks.services", "tasks.serializers", "tasks.api")),
        (("tasks.selectors",), ("tasks.services", "tasks.serializers", "tasks.api")),
        (("tasks.serializers",), ("tasks.services", "tasks.selectors", "tasks.api")),
        (("tasks.filters",), ("tasks.services", "tasks.serializers", "tasks.api", "tasks.selectors")),
        # The hub hands events to anything that follows its small protocol: it knows no socket.
        (("realtime.hub",), ("realtime.consumers", "realtime.feed", "tasks", "accounts")),
        (("realtime.delivery",), ("realtime.consumers", "realtime.feed", "realtime.hub")),
        (("realtime.protocol",), ("realtime.consumers", "realtime.feed", "realtime.hub", "realtime.delivery")),
    ],
)
def test_layers_import_only_downwards(layer: tuple[str, ...], forbidden: tuple[str, ...]) -> None:
    assert violations(layer, forbidden) == []


# The project package's wiring at the top (routes, the ASGI app, operator commands) joins
# the apps together; the rest of it is the foundation every app stands on.
TIMETODO_WIRING = ("timetodo.urls", "timetodo.asgi", "timetodo.management")


def test_the_project_package_is_a_foundation_below_the_apps() -> None:
    found = [
        f"{MODULES[name].relative_to(ROOT)}:{line} imports {target}"
        for name in MODULES
        if name.startswith("timetodo") and not name.startswith(TIMETODO_WIRING)
        for target, line in imported(MODULES[name])
        if target.startswith(("accounts", "tasks", "realtime"))
    ]
    assert found == []


def test_views_leave_role_checks_to_the_endpoint_bases_and_services() -> None:
    """Handlers resolve nothing themselves and never compare roles: the bases in
    tasks/api/base.py do (and services again under the project lock)."""
    found = []
    for path in sorted((ROOT / "tasks" / "api").glob("*.py")):
        if path.name == "base.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                called = ast.unparse(node.func)
                if called.split(".")[-1] in {"require", "require_role", "has_role", "recheck", "with_role"}:
                    found.append(f"{path.name}:{node.lineno} calls {called}")
    assert found == []


def test_every_endpoint_names_the_action_of_each_method() -> None:
    from django.urls import get_resolver

    from tasks.api.base import HANDLERS, Endpoint

    endpoints = set()
    for entry in get_resolver().url_patterns:
        for pattern in getattr(entry, "url_patterns", []):
            view = getattr(pattern.callback, "view_class", None)
            if view is not None and view.__module__.startswith("tasks."):
                endpoints.add(view)
    assert endpoints, "found no tasks endpoints in the URLconf"
    for view in endpoints:
        assert issubclass(view, Endpoint), view
        handled = {name.upper() for name in HANDLERS if hasattr(view, name)}
        assert handled <= set(view.actions), (view, handled - set(view.actions))


def test_an_endpoint_without_an_action_for_a_method_is_refused_at_once() -> None:
    from tasks.api.base import ProjectEndpoint

    with pytest.raises(TypeError, match="names no action"):

        class Careless(ProjectEndpoint):  # (a view whose PATCH nobody authorized)
            actions = {}

            def patch(self) -> None: ...

    with pytest.raises(TypeError, match="need an action"):

        class Unchecked(ProjectEndpoint):  # (a parent resolved for nobody in particular)
            actions = {"GET": None}

            def get(self) -> None: ...
