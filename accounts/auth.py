"""Request helpers for views of every app, and the API's token authentication."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework_simplejwt import authentication
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.utils import get_md5_hash_password

from accounts.models import User
from accounts.selectors import user_by_id


class JWTAuthentication(authentication.JWTAuthentication):
    """simplejwt's, reading the token's user with a compiled query (accounts.selectors
    .user_by_id) instead of building `User.objects.get` anew on every request; the same
    checks, in the same order, with the same errors."""

    def get_user(self, validated_token: Any) -> Any:
        try:
            user_id = validated_token[api_settings.USER_ID_CLAIM]
        except KeyError as exc:
            raise InvalidToken(str(_("Token contained no recognizable user identification"))) from exc
        user = user_by_id(user_id)
        if user is None:
            raise exceptions.AuthenticationFailed(_("User not found"), code="user_not_found")
        if api_settings.CHECK_USER_IS_ACTIVE and not user.is_active:
            raise exceptions.AuthenticationFailed(_("User is inactive"), code="user_inactive")
        if api_settings.CHECK_REVOKE_TOKEN and validated_token.get(
            api_settings.REVOKE_TOKEN_CLAIM
        ) != get_md5_hash_password(user.password):
            raise exceptions.AuthenticationFailed(_("The user's password has been changed."), code="password_changed")
        return user


def request_user(request: Request) -> User:
    """The authenticated user of a request; 401 if there is none."""
    user = request.user
    if not isinstance(user, User):
        raise exceptions.NotAuthenticated()
    return user


class JWTScheme(SimpleJWTScheme):
    """The OpenAPI security scheme of simplejwt's authentication, for ours (the same `jwtAuth`)."""

    target_class = "accounts.auth.JWTAuthentication"
