"""The OpenAPI schema and Swagger UI are served."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_openapi_schema(client: Client) -> None:
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "Time to DO API"


def test_swagger_ui(client: Client) -> None:
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert b"swagger" in response.content.lower()


def test_swagger_ui_is_served_from_here_not_a_cdn(client: Client) -> None:
    # Offline (or behind a strict network) a CDN-hosted UI is a blank page; and an
    # unpinned "@latest" script from elsewhere runs with the page's session.
    import re

    from django.contrib.staticfiles import finders

    page = client.get("/api/docs/").content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources, page[:300]
    assert not [source for source in sources if source.startswith(("http:", "https:", "//"))]
    scripts = [source for source in sources if source.endswith(".js")]
    assert scripts
    for script in scripts:  # each one a static file of ours (the vendored Swagger UI)
        assert finders.find(script.removeprefix("/static/")), script


CONTRACT = {
    ("post", "/api/v1/auth/register/"),
    ("post", "/api/v1/auth/login/"),
    ("post", "/api/v1/auth/refresh/"),
    ("post", "/api/v1/auth/logout/"),
    ("get", "/api/v1/auth/me/"),
    ("patch", "/api/v1/auth/me/"),
    ("post", "/api/v1/auth/password/"),
    ("get", "/api/v1/projects/"),
    ("post", "/api/v1/projects/"),
    ("get", "/api/v1/projects/{project_id}/"),
    ("patch", "/api/v1/projects/{project_id}/"),
    ("delete", "/api/v1/projects/{project_id}/"),
    ("post", "/api/v1/projects/{project_id}/transfer/"),
    ("get", "/api/v1/projects/{project_id}/members/"),
    ("post", "/api/v1/projects/{project_id}/members/"),
    ("patch", "/api/v1/projects/{project_id}/members/{user_id}/"),
    ("delete", "/api/v1/projects/{project_id}/members/{user_id}/"),
    ("get", "/api/v1/projects/{project_id}/columns/"),
    ("post", "/api/v1/projects/{project_id}/columns/"),
    ("patch", "/api/v1/projects/{project_id}/columns/{column_id}/"),
    ("delete", "/api/v1/projects/{project_id}/columns/{column_id}/"),
    ("get", "/api/v1/projects/{project_id}/labels/"),
    ("post", "/api/v1/projects/{project_id}/labels/"),
    ("patch", "/api/v1/projects/{project_id}/labels/{label_id}/"),
    ("delete", "/api/v1/projects/{project_id}/labels/{label_id}/"),
    ("get", "/api/v1/projects/{project_id}/board/"),
    ("get", "/api/v1/projects/{project_id}/activity/"),
    ("get", "/api/v1/tasks/"),
    ("post", "/api/v1/tasks/"),
    ("get", "/api/v1/tasks/{task_id}/"),
    ("patch", "/api/v1/tasks/{task_id}/"),
    ("delete", "/api/v1/tasks/{task_id}/"),
    ("post", "/api/v1/tasks/{task_id}/move/"),
    ("post", "/api/v1/tasks/bulk/"),
    ("get", "/api/v1/tasks/{task_id}/comments/"),
    ("post", "/api/v1/tasks/{task_id}/comments/"),
    ("patch", "/api/v1/comments/{comment_id}/"),
    ("delete", "/api/v1/comments/{comment_id}/"),
    ("get", "/api/v1/tasks/{task_id}/activity/"),
}


def test_schema_lists_every_endpoint_of_the_contract(client: Client) -> None:
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    documented = {(method, path) for path, operations in schema["paths"].items() for method in operations}
    assert documented >= CONTRACT, CONTRACT - documented


def test_schema_documents_filters_errors_and_lost_update_codes(client: Client) -> None:
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    task_list = schema["paths"]["/api/v1/tasks/"]["get"]
    names = {parameter["name"] for parameter in task_list["parameters"]}
    filters = {"project", "column", "assignee", "priority", "label", "sprint", "due_before", "due_after", "is_done"}
    assert filters | {"search", "ordering", "page", "page_size"} <= names
    patch = schema["paths"]["/api/v1/tasks/{task_id}/"]["patch"]["responses"]
    assert {"200", "400", "401", "403", "404", "409", "412"} <= set(patch)
    task_fields = schema["components"]["schemas"]["Task"]["properties"]
    for field in ("id", "project", "number", "key", "title", "column", "position", "version", "is_done", "labels"):
        assert field in task_fields
