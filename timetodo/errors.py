"""Domain errors that services raise and the API turns into 4xx responses."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A rule refused the request. `detail` is a message or a {field: [messages]} mapping."""

    status_code = 400

    def __init__(self, detail: str | dict[str, Any]) -> None:
        super().__init__(detail if isinstance(detail, str) else repr(detail))
        self.detail = detail

    def body(self) -> dict[str, Any]:
        if isinstance(self.detail, dict):
            return {
                field: messages if isinstance(messages, list) else [messages] for field, messages in self.detail.items()
            }
        return {"detail": self.detail}


class Invalid(DomainError):
    status_code = 400


class Forbidden(DomainError):
    status_code = 403


class NotFound(DomainError):
    status_code = 404


class Conflict(DomainError):
    status_code = 409
