"""What several subdomains' serializers share."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rest_framework import serializers

from accounts.models import User
from timetodo.errors import DomainError


class UserSummarySerializer(serializers.ModelSerializer[User]):
    class Meta:
        model = User
        fields = ["id", "username", "full_name"]
        read_only_fields = fields


@contextmanager
def rule_errors() -> Iterator[None]:
    """A domain rule (tasks.rules) broken by the input: a ValidationError, as DRF expects
    inside `validate`."""
    try:
        yield
    except DomainError as exc:
        raise serializers.ValidationError(exc.body()) from None
