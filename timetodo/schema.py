"""drf-spectacular: operations described by their own docstrings, and the error responses
every operation really gives."""

from __future__ import annotations

import inspect
from typing import Any

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema


class AutoSchema(SpectacularAutoSchema):
    """An operation's description is its handler's docstring or its view class's own, never
    one inherited from a base class: those explain the code to engineers, not the API."""

    def get_description(self) -> str:  # type: ignore[override]
        handler = getattr(self.view, getattr(self.view, "action", None) or self.method.lower(), None)
        own = inspect.getdoc(handler) if handler is not None and handler.__doc__ else None
        if not own:
            own = self.view.__class__.__dict__.get("__doc__")
        return inspect.cleandoc(own) if own else ""


ERROR_SCHEMA = {
    "type": "object",
    "description": (
        'Either {"detail": "message"} or {"<field>": ["message", ...]} naming each bad field; a list or '
        'object field nests the same shape by index or key: {"labels": {"0": ["message"]}}.'
    ),
    "properties": {"detail": {"type": "string"}},
    "additionalProperties": {"oneOf": [{"type": "array", "items": {"type": "string"}}, {"type": "object"}]},
}

ERRORS = {
    "400": "Invalid input: the body names each bad field; nothing was written.",
    "401": "Missing, invalid or expired credentials (or refresh token).",
    "403": "Your role in the project is too low for this action.",
    "404": "No such object (or page), or it is inside a project you are not a member of.",
    "409": "Conflict with the current state (e.g. owner rules, WIP limits, non-empty column).",
    "413": "Request body too large.",
    "415": "Unsupported media type: send JSON.",
    "429": "Too many requests: wait for the number of seconds in Retry-After.",
    "503": "The database is unavailable: retry after the seconds in Retry-After; nothing was written.",
}
# Endpoints that ignore the Authorization header and never answer 401 (login, refresh and
# logout do: bad credentials, an invalid or revoked refresh token).
NO_401_PATHS = ("/api/v1/auth/register/",)
WRITE_METHODS = {"post", "put", "patch"}


def add_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = ERROR_SCHEMA
    reference = {"$ref": "#/components/schemas/Error"}
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            codes = ["429"]
            if not path.startswith(NO_401_PATHS):
                codes.append("401")
            if method in WRITE_METHODS:
                codes += ["400", "413", "415"]
            if any(parameter.get("in") == "query" for parameter in operation.get("parameters", [])):
                codes.append("400")  # a bad filter, page size or other query parameter
            if path.startswith("/api/v1/"):
                codes.append("503")
                if not path.startswith("/api/v1/auth/"):
                    # an id in the path or the body the caller cannot see, a page beyond the last,
                    # no running timer to stop
                    codes.append("404")
            if (
                path.startswith(
                    (
                        "/api/v1/projects/",
                        "/api/v1/tasks/",
                        "/api/v1/comments/",
                        "/api/v1/sprints/",
                        "/api/v1/time-entries/",
                        "/api/v1/timer/",
                    )
                )
                and method != "get"
            ):
                codes += ["403", "409"]
            responses = operation.setdefault("responses", {})
            for code in codes:
                responses.setdefault(
                    code, {"description": ERRORS[code], "content": {"application/json": {"schema": reference}}}
                )
    return result
