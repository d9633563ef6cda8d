"""Domain errors that services raise and the API turns into 4xx responses."""

from __future__ import annotations

from collections.abc import Mapping
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

    def headers(self) -> dict[str, str]:
        return {}


class Invalid(DomainError):
    status_code = 400


class Forbidden(DomainError):
    status_code = 403


class NotFound(DomainError):
    status_code = 404


class Conflict(DomainError):
    status_code = 409


class PayloadTooLarge(DomainError):
    status_code = 413


class UnsupportedMediaType(DomainError):
    status_code = 415


class Unauthenticated(DomainError):
    """The credentials presented are not (or no longer) valid: 401 with `WWW-Authenticate`."""

    status_code = 401


class StaleVersion(DomainError):
    """The client's copy is out of date, so nothing was written: 412 (an `If-Match` that
    does not match) or 409 (a stale `version` in the body), answered with the current
    representation and its ETag."""

    def __init__(self, current: Mapping[str, Any], *, status_code: int) -> None:
        super().__init__(f"stale: the current version is {current['version']}")
        self.current = current
        self.status_code = status_code

    def body(self) -> dict[str, Any]:
        return dict(self.current)

    def headers(self) -> dict[str, str]:
        return {"ETag": version_etag(self.current["version"])}


def version_etag(version: int) -> str:
    """The ETag of a versioned representation: its version, quoted (`"3"`)."""
    return f'"{version}"'
