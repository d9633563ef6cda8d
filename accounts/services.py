"""Every write to accounts and tokens."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.models import update_last_login
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.utils import get_md5_hash_password

from accounts.models import User
from timetodo.errors import Invalid, Unauthenticated
from timetodo.streams import revoke_on_commit, user_stream


@dataclass(frozen=True)
class TokenPair:
    access: str
    refresh: str


def token_pair_issue(*, user: User) -> TokenPair:
    """A new access + refresh pair; the refresh token is recorded so it can be revoked."""
    refresh = RefreshToken.for_user(user)
    return TokenPair(access=str(refresh.access_token), refresh=str(refresh))


@transaction.atomic
def user_register(*, email: str, username: str, password: str, full_name: str = "") -> User:
    """A plain user: never staff, superuser or inactive, whatever the caller sent."""
    user = User(
        email=User.objects.normalize_email(email.strip()),
        username=User.normalize_username(username.strip()),
        full_name=full_name.strip(),
        is_active=True,
        is_staff=False,
        is_superuser=False,
    )
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save(force_insert=True)
    except IntegrityError:
        # Lost a race with a concurrent registration of the same email or username.
        if User.objects.filter(username__iexact=user.username).exists():
            raise Invalid({"username": ["A user with that username already exists."]}) from None
        raise Invalid({"email": ["A user with that email address already exists."]}) from None
    return user


def user_logged_in(*, user: User) -> TokenPair:
    update_last_login(User, user)
    return token_pair_issue(user=user)


@transaction.atomic
def refresh_token_rotate(*, raw_token: str) -> TokenPair:
    """Trade a refresh token for a new pair; the old one is revoked, so reuse fails.

    The token's outstanding row is locked first, so two concurrent uses of one token
    cannot both succeed.
    """
    refresh, outstanding = _locked_live_refresh(raw_token)
    user = User.objects.filter(pk=refresh.get(jwt_settings.USER_ID_CLAIM)).first()
    if user is None or not user.is_active:
        raise Unauthenticated("No active account found for the given token.")
    if jwt_settings.CHECK_REVOKE_TOKEN and refresh.get(jwt_settings.REVOKE_TOKEN_CLAIM) != get_md5_hash_password(
        user.password
    ):
        raise Unauthenticated("The user's password has changed since this token was issued.")
    BlacklistedToken.objects.create(token=outstanding)
    return token_pair_issue(user=user)


@transaction.atomic
def refresh_token_revoke(*, raw_token: str) -> None:
    """Log out: this refresh token stops working (and cannot be rotated concurrently)."""
    _, outstanding = _locked_live_refresh(raw_token)
    BlacklistedToken.objects.create(token=outstanding)


def _locked_live_refresh(raw_token: str) -> tuple[RefreshToken, OutstandingToken]:
    """A valid, not yet revoked refresh token, its outstanding row locked until commit, so
    rotation and logout of one token are serialized: the second one to arrive is refused."""
    refresh = _verified_refresh(raw_token)
    jti = refresh[jwt_settings.JTI_CLAIM]
    outstanding = OutstandingToken.objects.select_for_update(of=("self",)).filter(jti=jti).first()
    if outstanding is None or BlacklistedToken.objects.filter(token=outstanding).exists():
        raise Unauthenticated("Token is blacklisted")
    return refresh, outstanding


def _verified_refresh(raw_token: str) -> RefreshToken:
    try:
        return RefreshToken(raw_token)  # type: ignore[arg-type]
    except TokenError as exc:
        raise Unauthenticated(str(exc)) from None


@transaction.atomic
def user_password_change(*, user: User, new_password: str, request: HttpRequest | None = None) -> None:
    """Set a new password and revoke every refresh token issued before it."""
    user.set_password(new_password)
    user.save(update_fields=["password"])
    refresh_tokens_revoke_all(user=user)
    if request is not None and hasattr(request, "session"):
        update_session_auth_hash(request, user)  # keep the browsable API session that made the change


def refresh_tokens_revoke_all(*, user: User) -> int:
    live = OutstandingToken.objects.filter(user=user, expires_at__gt=timezone.now(), blacklistedtoken__isnull=True)
    revoked = BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=token) for token in live], ignore_conflicts=True
    )
    return len(revoked)


@transaction.atomic
def user_profile_update(*, user: User, full_name: str | None = None, username: str | None = None) -> User:
    fields = []
    if full_name is not None:
        user.full_name = full_name.strip()
        fields.append("full_name")
    if username is not None:
        user.username = User.normalize_username(username.strip())
        fields.append("username")
    if fields:
        try:
            with transaction.atomic():
                user.save(update_fields=[*fields, "updated_at"])  # (lists' ETags read it)
        except IntegrityError:
            raise Invalid({"username": ["A user with that username already exists."]}) from None
    return user


def user_sessions_end(*, user: User) -> None:
    """A user was deactivated or deleted: every refresh token stops working and, once the
    change commits, every open socket of theirs closes."""
    refresh_tokens_revoke_all(user=user)
    revoke_on_commit(user_stream(user.pk), "user_deactivated")
