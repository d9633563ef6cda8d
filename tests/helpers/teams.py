"""A project with one user per role, and API clients for each (the `team` fixture)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import User
from tasks.models import Column, Membership, Project, Role
from tasks.services.projects import project_create
from tests.factories import UserFactory

ROLES = ["owner", "admin", "member", "viewer", "outsider"]


def client_for(user: User) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    return client


@dataclass
class Team:
    project: Project
    users: dict[str, User]
    clients: dict[str, APIClient] = field(default_factory=dict)

    @property
    def columns(self) -> list[Column]:
        return list(Column.objects.filter(project=self.project).order_by("position"))

    def url(self, suffix: str = "") -> str:
        return f"/api/v1/projects/{self.project.pk}/{suffix}"

    def create_task(self, role: str = "member", **values: Any) -> dict[str, Any]:
        body = {"project": str(self.project.pk), "title": "A task", **values}
        response = self.clients[role].post("/api/v1/tasks/", body, format="json")
        assert response.status_code == 201, response.content
        return response.json()


def make_team() -> Team:
    """The project "Time to DO" (key TTD) with an owner, admin, member and viewer, and an
    outsider who is signed in but no member."""
    users = {role: UserFactory.create(username=f"{role}-user") for role in ROLES}
    project = project_create(actor=users["owner"], name="Time to DO", key="TTD")
    for role in ("admin", "member", "viewer"):
        Membership.objects.create(project=project, user=users[role], role=Role(role))
    return Team(project=project, users=users, clients={role: client_for(user) for role, user in users.items()})
