"""Log in with email or username, both case-insensitive."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from accounts.models import User
from accounts.selectors import user_find_for_login


class EmailOrUsernameBackend(ModelBackend):
    """`authenticate(email=..., password=...)` or `authenticate(username=..., password=...)`.

    Unknown accounts still run the password hasher once, so a wrong email and a wrong
    password take about the same time and cannot be told apart.
    """

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        email: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        if password is None or (email is None and username is None):
            return None
        user = user_find_for_login(email=email, username=username)
        if user is None:
            User().set_password(password)
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None
