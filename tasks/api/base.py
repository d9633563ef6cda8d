"""What every projects/tasks endpoint shares: resolve the project once, check the role."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request

from accounts.auth import request_user
from tasks import selectors
from tasks.models import Project
from tasks.services.common import require_role
from timetodo.errors import Invalid


class ProjectScopedView(GenericAPIView[Any]):
    """Base for endpoints inside a project: non-members get 404, too-low roles 403."""

    def project_and_role(
        self, project_id: Any, minimum: str | None = None, action: str = "do this"
    ) -> tuple[Project, str]:
        project, role = selectors.project_with_role(user=request_user(self.request), project_id=project_id)
        if minimum is not None:
            require_role(role, minimum, action)
        return project, role


def validated(serializer_class: type[serializers.Serializer[Any]], request: Request, **kwargs: Any) -> dict[str, Any]:
    """The request body checked by `serializer_class`; 400 naming the fields otherwise."""
    if not isinstance(request.data, dict):
        raise Invalid("Send a JSON object.")
    serializer = serializer_class(data=request.data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def query_param(request: Request, name: str, field: serializers.Field[Any, Any, Any, Any]) -> Any:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        return field.run_validation(raw)
    except serializers.ValidationError as exc:
        raise Invalid({name: exc.detail}) from None
