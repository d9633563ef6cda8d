"""Reads of accounts."""

from __future__ import annotations

from typing import Any

from accounts.models import User
from timetodo.compiled import CompiledQuery

# Every authenticated request reads its user: compiled once (timetodo.compiled), not per request.
USER_COLUMNS = tuple(field.attname for field in User._meta.concrete_fields)
_USER_BY_ID = CompiledQuery(lambda user: User.objects.filter(pk=user).values(*USER_COLUMNS), "user")


def user_by_id(user_id: Any) -> User | None:
    """The user with this id (a UUID or its text), as `User.objects.get` reads it; None if
    there is none or the id is not one."""
    try:
        rows = _USER_BY_ID.rows(user=user_id)
    except ValueError:
        return None
    if not rows:
        return None
    return User.from_db(User.objects.db, list(USER_COLUMNS), [rows[0][name] for name in USER_COLUMNS])


def user_find_for_login(*, email: str | None = None, username: str | None = None) -> User | None:
    """The account an email or a username names, regardless of case; None if there is none."""
    users = User.objects.all()
    if email is not None:
        users = users.filter(email__iexact=email.strip())
    elif username is not None:
        users = users.filter(username__iexact=User.normalize_username(username.strip()))
    else:
        return None
    return users.first()


def email_taken(email: str, *, exclude: User | None = None) -> bool:
    users = User.objects.filter(email__iexact=email)
    if exclude is not None:
        users = users.exclude(pk=exclude.pk)
    return users.exists()


def username_taken(username: str, *, exclude: User | None = None) -> bool:
    users = User.objects.filter(username__iexact=User.normalize_username(username))
    if exclude is not None:
        users = users.exclude(pk=exclude.pk)
    return users.exists()


def user_is_active(*, user_id: Any) -> bool:
    return User.objects.filter(pk=user_id, is_active=True).exists()
