"""System checks of the project's own settings."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.security, deploy=True)
def secret_key_is_strong(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    """`check --deploy` fails on the key the server would refuse to start with."""
    if settings.SECRET_KEY_PROBLEM:
        return [checks.Error(settings.SECRET_KEY_PROBLEM, id="timetodo.E001")]
    return []
