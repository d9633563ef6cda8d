"""The custom user model, in place from the first migration."""

from __future__ import annotations

import uuid

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models.functions import Lower


class User(AbstractUser):
    """A person using Time to DO.

    Email and username are each unique regardless of case (`Ada` and `ada` are one
    name, so nobody can pose as someone else by changing letter case); `full_name` replaces Django's
    first/last name pair, which fits few of the world's names.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField("email address", max_length=254)
    full_name = models.CharField(max_length=150, blank=True)
    # Any save: the lists and boards that show a person's name (assignee_detail) carry it in
    # their ETag, since a rename is no project's event.
    updated_at = models.DateTimeField(auto_now=True)
    first_name = None  # type: ignore[assignment]
    last_name = None  # type: ignore[assignment]

    REQUIRED_FIELDS = ["email"]

    class Meta:
        ordering = ["username"]
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                name="accounts_user_email_ci_unique",
                violation_error_message="A user with that email address already exists.",
            ),
            models.UniqueConstraint(
                Lower("username"),
                name="accounts_user_username_ci_unique",
                violation_error_message="A user with that username already exists.",
            ),
        ]

    def __str__(self) -> str:
        return self.username

    def get_full_name(self) -> str:
        return self.full_name or self.username

    def get_short_name(self) -> str:
        return self.full_name.split(" ", 1)[0] if self.full_name else self.username
