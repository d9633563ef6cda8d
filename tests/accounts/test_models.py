"""The custom user model exists from the first migration: UUID ids, case-insensitive unique email."""

from __future__ import annotations

import uuid

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError

pytestmark = pytest.mark.django_db


def test_users_have_uuid_ids_and_a_full_name() -> None:
    user = get_user_model().objects.create_user(username="ada", email="ada@example.com", password="x" * 12)
    user.full_name = "Ada Lovelace"
    user.save(update_fields=["full_name"])
    assert isinstance(user.pk, uuid.UUID)
    assert user.get_full_name() == "Ada Lovelace"
    assert user.get_short_name() == "Ada"
    assert not hasattr(user, "first_name") or user.first_name is None


def test_email_is_unique_regardless_of_case() -> None:
    User = get_user_model()
    User.objects.create_user(username="one", email="A@Example.com", password="x" * 12)
    with pytest.raises(IntegrityError):
        User.objects.create_user(username="two", email="a@example.COM", password="x" * 12)


def test_username_is_unique() -> None:
    User = get_user_model()
    User.objects.create_user(username="same", email="one@example.com", password="x" * 12)
    with pytest.raises(IntegrityError):
        User.objects.create_user(username="same", email="two@example.com", password="x" * 12)
