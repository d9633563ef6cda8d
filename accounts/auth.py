"""Request helpers for views of every app."""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.request import Request

from accounts.models import User


def request_user(request: Request) -> User:
    """The authenticated user of a request; 401 if there is none."""
    user = request.user
    if not isinstance(user, User):
        raise exceptions.NotAuthenticated()
    return user
