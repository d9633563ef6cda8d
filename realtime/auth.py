"""Authenticating a socket with an access token sent in its first frame."""

from __future__ import annotations

from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError

from accounts.auth import JWTAuthentication
from accounts.models import User

MAX_TOKEN_LENGTH = 4096


def user_for_token(token: str) -> User | None:
    """The active user an access token names, by the same rules as the REST API (signature,
    expiry, token type, revocation by password change); None for anything else."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    authentication = JWTAuthentication()
    try:
        validated = authentication.get_validated_token(token.encode())
        user = authentication.get_user(validated)
    except (InvalidToken, TokenError, AuthenticationFailed):
        return None
    return user if isinstance(user, User) and user.is_active else None
